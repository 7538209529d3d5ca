// The ground floor: every layer may read the trial data model.
global using Tunesmith.Trials;
