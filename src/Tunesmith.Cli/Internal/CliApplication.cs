using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Microsoft.Extensions.Logging;
using Tunesmith.Cli.Commands;

namespace Tunesmith.Cli.Internal;

/// <summary>Builds the <c>tunesmith</c> command tree and runs it: one-line errors, exit codes, no stack traces for user errors.</summary>
internal static class CliApplication
{
    /// <summary>The command tree; commands that open a study give it <paramref name="time"/> and <paramref name="loggers"/>.</summary>
    public static RootCommand Build(CliConsole console, TimeProvider time, ILoggerFactory loggers)
    {
        var root = new RootCommand("tunesmith — hyperparameter optimization for any training program.\n" +
            "Describe a study in a YAML file (search space, command, metric, budget), then `tunesmith run study.yaml`.");
        root.Options.Add(CommonOptions.Verbose());
        root.Subcommands.Add(new RunCommand(console, time, loggers));
        root.Subcommands.Add(new WorkerCommand(console, time, loggers));
        root.Subcommands.Add(new CreateCommand(console, time, loggers));
        root.Subcommands.Add(new EnqueueCommand(console, time, loggers));
        root.Subcommands.Add(new StatusCommand(console, time, loggers));
        root.Subcommands.Add(new BestCommand(console, time, loggers));
        root.Subcommands.Add(new ReportCommand(console, time, loggers));
        root.Subcommands.Add(new DeleteCommand(console, time, loggers));
        root.Subcommands.Add(new SlurmCommand(console, time, loggers));
        root.Subcommands.Add(new DashboardCommand(console, time));
        root.Subcommands.Add(new SimulateCommand(console, time, loggers));
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/> on the entry point's clock and logger factory; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CliConsole console, TimeProvider time, ILoggerFactory loggers)
    {
        var verbose = args.Contains("--verbose") || args.Contains("-v");
        try
        {
            var root = Build(console, time, loggers);
            if (args.Length == 0)
            {
                // A bare `tunesmith` shows what it can do, and still exits non-zero: no command ran.
                await InvokeAsync(root.Parse(["--help"]), console);
                return ExitCodes.BadInput;
            }
            var parse = root.Parse(args);
            if (parse.Action is ParseErrorAction && parse.Errors.Count > 0)
            {
                // An unknown word explains more than the "required command" error it causes, so it goes first.
                var error = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
                // The whole path of a subcommand ("slurm submit"), so the help it points to is that command's.
                var names = new List<string>();
                for (var result = parse.CommandResult; result is { Command: not RootCommand }; result = result.Parent as System.CommandLine.Parsing.CommandResult)
                    names.Insert(0, result.Command.Name);
                var command = names.Count == 0 ? "" : string.Join(' ', names) + " ";
                console.Error.WriteLine($"tunesmith: {ErrorLine.OneLine(Readable(error.Message))} (see 'tunesmith {command}--help')");
                return ExitCodes.BadInput;
            }
            return await InvokeAsync(parse, console);
        }
        catch (Exception e)
        {
            var error = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e;
            if (error is Tunesmith.Spaces.Spec.StudyFileException { Problems.Count: > 1 } several)
            {
                // Every independent problem of a study file on its own line, as enqueue names a combinations file's bad rows.
                foreach (var problem in several.Problems.Take(ProblemsShown)) console.Error.WriteLine($"tunesmith: {ErrorLine.OneLine(problem.Message)}");
                if (several.Problems.Count > ProblemsShown)
                    console.Error.WriteLine($"tunesmith: {several.File}: and {several.Problems.Count - ProblemsShown} more problems");
                console.Error.WriteLine($"tunesmith: {several.File}: {several.Problems.Count} problems; nothing stored");
                return ExitCodes.BadInput;
            }
            var (message, code, unexpected) = ErrorLine.Describe(error);
            console.Error.WriteLine($"tunesmith: {ErrorLine.OneLine(message)}");
            if (unexpected && verbose) console.Error.WriteLine(e.ToString());
            return code;
        }
    }

    private const int ProblemsShown = 20;

    private static readonly System.Text.RegularExpressions.Regex CannotParse = new(
        @"^Cannot parse argument '(?<value>.*)' for (?:option|argument) '(?<name>[^']*)' as expected type '(?<type>[^']*)'\.?$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>A parser message in the user's words: a flag value that is not a number says what was expected, not a .NET type.</summary>
    internal static string Readable(string message)
    {
        var m = CannotParse.Match(message.Trim());
        if (!m.Success) return message;
        var type = m.Groups["type"].Value;
        var expected = type.Contains("Int32", StringComparison.Ordinal) || type.Contains("Int64", StringComparison.Ordinal) ? "a whole number"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) || type.Contains("Decimal", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : "a value of another form";
        return $"{m.Groups["name"].Value} '{m.Groups["value"].Value}': expected {expected}";
    }

    private static Task<int> InvokeAsync(ParseResult parse, CliConsole console) =>
        parse.InvokeAsync(new InvocationConfiguration
        {
            Output = console.Out,
            Error = console.Error,
            // Exceptions reach RunAsync's catch (one line, no stack trace); `run` handles SIGINT/SIGTERM itself.
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        });
}
