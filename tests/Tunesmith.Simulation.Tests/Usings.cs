global using Xunit;
global using Tunesmith.Trials;
