using Microsoft.Extensions.Logging;
using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Tests;

/// <summary>What the library logs reaches the CLI's stderr: warnings by default, everything with -v, nothing with -q; stdout keeps the results.</summary>
public sealed class CliLoggingEndToEndTests
{
    [Fact]
    public async Task A_warning_logged_by_the_library_reaches_stderr_and_verbose_and_quiet_set_the_level()
    {
        using var kit = new StudyKit();
        // The trial fails: the study logs a warning for it (the library's ILogger, not the progress view).
        kit.Write("obj.py", "import sys\nsys.exit('no result for ' + sys.argv[1])\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 1
            """);

        // By default the failure is said once, by the command's own output (here the JSON event), not again as a warning.
        var plain = await kit.CliS("run", "study.yaml", "--log-format", "json");
        Assert.Contains("no result for", plain.Stdout);
        Assert.DoesNotContain("Trial 0 failed", plain.Stderr);
        Assert.DoesNotContain("tunesmith: info:", plain.Stderr);
        Assert.DoesNotContain("warning:", plain.Stdout); // stdout stays the JSON events

        var verbose = await kit.CliS("run", "study.yaml", "--trials", "2", "--log-format", "json", "-v");
        Assert.Contains("tunesmith: warning: Trial 1 failed:", verbose.Stderr);
        Assert.Matches(@"tunesmith: info: LocalProcessBackend: Trial 1 started: pid \d+", verbose.Stderr);

        var quiet = await kit.CliS("run", "study.yaml", "--trials", "3", "-q");
        Assert.DoesNotContain("tunesmith: warning:", quiet.Stderr);
        Assert.Contains("every trial of this run failed", quiet.Stderr); // errors and the summary still come
    }

    [Fact]
    public void Warnings_show_by_default_except_a_trial_failure_the_commands_print_themselves()
    {
        string Logged(LogLevel minimum)
        {
            var error = new StringWriter();
            using var loggers = new StderrLoggerFactory(error, minimum);
            var logger = loggers.CreateLogger("Tunesmith.Execution.Study");
            logger.LogWarning("Heartbeat failed: {Message}", "timeout");
            logger.LogWarning(Tunesmith.Execution.StudyLogEvents.TrialFailed, "Trial {Number} failed: {Reason}", 2, "exit code 3");
            return error.ToString().ReplaceLineEndings("\n");
        }
        Assert.Equal("tunesmith: warning: Heartbeat failed: timeout\n", Logged(LogLevel.Warning));
        Assert.Equal("tunesmith: warning: Heartbeat failed: timeout\ntunesmith: warning: Trial 2 failed: exit code 3\n", Logged(LogLevel.Debug));
    }

    [Theory]
    [InlineData(new[] { "status" }, LogLevel.Warning)]
    [InlineData(new[] { "run", "s.yaml", "-v" }, LogLevel.Debug)]
    [InlineData(new[] { "--verbose", "report", "--study", "s" }, LogLevel.Debug)]
    [InlineData(new[] { "worker", "--study", "s", "--quiet" }, LogLevel.None)]
    [InlineData(new[] { "run", "s.yaml", "-q", "-v" }, LogLevel.None)]
    [InlineData(new[] { "run", "s.yaml", "--", "-v" }, LogLevel.Warning)]
    public void The_entry_point_reads_the_log_level_from_the_arguments(string[] args, LogLevel expected) =>
        Assert.Equal(expected, StderrLoggerFactory.LevelFor(args));

    [Fact]
    public void A_log_line_is_one_line_naming_its_level()
    {
        var error = new StringWriter();
        using var loggers = new StderrLoggerFactory(error, LogLevel.Information);
        var logger = loggers.CreateLogger("Tunesmith.Execution.Study");
        logger.LogDebug("not shown");
        logger.LogInformation("Trial {Number} resumed", 3);
        logger.LogWarning(new IOException("disk full"), "Trial {Number}: could not write\nits result", 4);
        Assert.Equal(
            "tunesmith: info: Study: Trial 3 resumed\n" +
            "tunesmith: warning: Trial 4: could not write its result (IOException: disk full)\n",
            error.ToString().ReplaceLineEndings("\n"));
    }
}
