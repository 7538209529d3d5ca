using Tunesmith.Cli.Internal;

// The `tunesmith` command: parsing, binding and rendering live in Internal/, one class per command in Commands/.
// The one clock and the one logger factory of this process, made here and passed to every command: what the library
// logs goes to stderr (warnings by default, everything with -v, nothing with -q); stdout keeps the commands' results.
var console = CliConsole.System();
using var loggers = StderrLoggerFactory.ForArguments(args, console.Error);
return await CliApplication.RunAsync(args, console, TimeProvider.System, loggers);
