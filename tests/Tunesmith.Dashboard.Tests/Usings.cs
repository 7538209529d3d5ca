global using Tunesmith.Trials;
