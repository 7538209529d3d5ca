using Tunesmith.Cli.Internal;

// The `tunesmith` command: parsing, binding and rendering live in Internal/, one class per command in Commands/.
// The one clock and the one logger factory of this process; every command that opens a study passes them on.
// No logging provider is configured yet, so the factory logs nowhere.
return await CliApplication.RunAsync(args, CliConsole.System(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
