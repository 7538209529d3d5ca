using Tunesmith.Cli.Internal;

// The `tunesmith` command: parsing, binding and rendering live in Internal/, one class per command in Commands/.
return await CliApplication.RunAsync(args, CliConsole.System(), TimeProvider.System);
