// The `tunesmith` command. Issue #3 fills in its commands; for now it answers --help and --version.
var version = typeof(Tunesmith.Execution.Study).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
if (args is ["--version"]) { Console.WriteLine(version); return 0; }
Console.WriteLine($"tunesmith {version} — hyperparameter optimization for .NET and any training program");
Console.WriteLine("usage: tunesmith [--help] [--version]");
return args is [] or ["--help"] or ["-h"] ? 0 : 2;
