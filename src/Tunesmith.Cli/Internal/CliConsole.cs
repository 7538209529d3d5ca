using Spectre.Console;

namespace Tunesmith.Cli.Internal;

/// <summary>
/// Where a command writes and what it may read from its surroundings: stdout, stderr, the environment and whether
/// stdout is a terminal. Commands take it instead of touching <see cref="Console"/> so tests can run them in-process.
/// </summary>
internal sealed class CliConsole(TextWriter output, TextWriter error, Func<string, string?> environment, bool outputIsTerminal)
{
    /// <summary>The process console.</summary>
    public static CliConsole System() => new(Console.Out, Console.Error, Environment.GetEnvironmentVariable,
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb");

    /// <summary>Standard output (results: tables, CSV, JSON).</summary>
    public TextWriter Out { get; } = output;

    /// <summary>Standard error (diagnostics and one-line errors).</summary>
    public TextWriter Error { get; } = error;

    /// <summary>True when standard output is an interactive terminal (live views are drawn only there).</summary>
    public bool OutputIsTerminal { get; } = outputIsTerminal;

    /// <summary>Reads an environment variable.</summary>
    public string? GetEnvironment(string name) => environment(name);

    /// <summary>A Spectre console over <see cref="Out"/>: ANSI only on a terminal; wide when redirected so tables do not wrap.</summary>
    public IAnsiConsole CreateAnsiConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Out),
            Ansi = OutputIsTerminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = OutputIsTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = OutputIsTerminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!OutputIsTerminal) console.Profile.Width = 240;
        return console;
    }
}
