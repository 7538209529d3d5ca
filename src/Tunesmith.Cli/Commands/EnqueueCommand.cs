using System.CommandLine;
using Tunesmith.Cli.Internal;
using Tunesmith.Spaces;
using Tunesmith.Execution;
using Tunesmith.Execution.Commands;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Commands;

/// <summary>
/// <c>tunesmith enqueue --study NAME (--set a=1 --set b=x | --file combos.csv | --file combos.jsonl)</c>: adds Waiting trials
/// with exactly these parameters (checked against the stored study file's space, conditions included); they run before any
/// sampled trial, within the study's trial budget.
/// </summary>
internal sealed class EnqueueCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<string[]> _set = CommonOptions.Set("A parameter value of the one combination to enqueue (repeatable)");
    private readonly Option<string?> _file = new("--file") { Description = "A CSV file (header row of parameter names) or JSON Lines file (one object per line) of combinations", HelpName = "PATH" };
    private readonly Option<bool> _allowDuplicates = new("--allow-duplicates") { Description = "Enqueue a combination even when the study already holds it (waiting, running or finished, failed included) or the file repeats it; by default such a combination is skipped and named" };
    private readonly Option<bool> _retryFailed = new("--retry-failed") { Description = "Enqueue again a combination whose trials all failed (by default it is skipped, as Optuna's skip_if_exists does); one line names the trials that failed" };

    public EnqueueCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("enqueue", "Enqueue explicit parameter combinations to run before sampled trials")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        Options.Add(_study);
        Options.Add(_storage);
        Options.Add(_set);
        Options.Add(_file);
        Options.Add(_allowDuplicates);
        Options.Add(_retryFailed);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        var name = parse.GetRequiredValue(_study);
        var sets = parse.GetValue(_set) ?? [];
        var file = parse.GetValue(_file);
        if (sets.Length > 0 && file is not null) throw new CliUsageException("give either --set flags or --file, not both");
        if (sets.Length == 0 && file is null) throw new CliUsageException("nothing to enqueue: give --set name=value flags or --file combos.csv|combos.jsonl");

        // Every bad row is named at once (a user fixes them in one go), and none of the file is enqueued while one is bad.
        var problems = new List<(int Line, string Message)>();
        var formatProblems = new List<CombinationFileException>();
        IReadOnlyList<CombinationRow> rows = file is not null ? CombinationFile.ReadRows(file, formatProblems) : [new CombinationRow(0, Assignments.Parse(sets))];
        problems.AddRange(formatProblems.Select(e => (e.Line, e.Message)));
        if (rows.Count == 0 && problems.Count == 0) throw new CliUsageException($"{file}: no combinations in the file");

        await using var storage = await StorageScope.OpenExistingAsync(url, _time, _loggers, ct);
        await using var study = await StorageScope.LoadStudyAsync(storage, name, url, _time, _loggers, ct);
        var space = await StoredStudyFile.TryGetSpaceAsync(study, ct);
        var checkedRows = new List<CombinationRow>(rows.Count);
        foreach (var row in rows)
        {
            if (space is null) { checkedRows.Add(row); continue; }
            var where = file is null ? "--set" : $"{file}:{row.Line}";
            if (CoerceCombination(space, row.Values, where, problems, row.Line) is { } values) checkedRows.Add(row with { Values = values });
        }
        if (problems.Count > 0)
            ReportProblems(file, problems.OrderBy(p => p.Line).Select(p => p.Message).ToList(), problems.Select(p => p.Line).Distinct().Count(), rows.Count + formatProblems.Count);
        var numbers = new List<int>();
        if (parse.GetValue(_allowDuplicates))
            foreach (var row in checkedRows)
                numbers.Add((await study.EnqueueAsync(row.Values, ct)).Number);
        else
            numbers.AddRange(await EnqueueNewAsync(study, name, file, checkedRows, parse.GetValue(_retryFailed), ct));
        _console.Out.WriteLine(numbers.Count switch
        {
            0 => $"enqueued no trials in study '{name}'",
            1 => $"enqueued trial {numbers[0]} in study '{name}'",
            _ => $"enqueued {numbers.Count} trials ({numbers.Min()}..{numbers.Max()}) in study '{name}'",
        });
        await WarnBeyondBudgetAsync(study, name, ct);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Waiting trials count toward the study's trial budget when they start, so those beyond it never run: say so, with the
    /// budget that runs them all (a study whose budget is spent would otherwise keep them waiting without a word).
    /// </summary>
    private async Task WarnBeyondBudgetAsync(Study study, string name, CancellationToken ct)
    {
        if (StudyFileRun.ReadStored(study.Record) is not { } file || StudyFileRun.TrialBudget(file, study.Record) is not { } budget) return;
        var trials = await study.GetTrialsAsync(ct);
        var waiting = trials.Count(t => t.State == TrialState.Waiting);
        var taken = trials.Count(t => t.State != TrialState.Waiting && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
        var beyond = Math.Min(waiting, taken + waiting - budget);
        if (beyond > 0)
            _console.Error.WriteLine($"tunesmith: study '{name}' has taken {taken} of its budget of {Formats.Count(budget, "trial")}, so {(beyond == waiting ? "its " : $"{beyond} of its ")}{Formats.Count(waiting, "waiting trial")} " +
                $"will not run; run or worker with --trials {taken + waiting} runs them all");
    }

    /// <summary>
    /// Enqueues the combinations the study does not hold yet — a trial with the same values that is waiting, running, paused
    /// or finished holds one; a failed one too, unless <paramref name="retryFailed"/> (as Optuna's <c>skip_if_exists</c>: a
    /// combination that failed fails again unless something changed, and the user says so) — and that the file does not
    /// repeat, naming the others on stderr, one line each kind: running the same <c>enqueue</c> twice must not double the
    /// work a GPU quota pays for. The check and the enqueue are one transaction in storage, so two <c>enqueue</c> at the
    /// same moment add each combination once. Returns the new trials' numbers.
    /// </summary>
    private async Task<IReadOnlyList<int>> EnqueueNewAsync(Study study, string name, string? file, IReadOnlyList<CombinationRow> rows, bool retryFailed, CancellationToken ct)
    {
        var kept = new List<CombinationRow>();
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        var repeated = 0;
        foreach (var row in rows)
        {
            var key = HeldCombinations.Key(row.Values);
            if (firstLine.TryGetValue(key, out var line))
            {
                if (++repeated <= 10) _console.Error.WriteLine($"tunesmith: {file}:{row.Line}: skipped: the same combination as line {line}");
                continue;
            }
            firstLine[key] = row.Line;
            kept.Add(row);
        }
        if (repeated > 10) _console.Error.WriteLine($"tunesmith: {file}: skipped {repeated - 10} more rows that repeat an earlier one");
        var results = await study.EnqueueAllIfNewAsync(kept.Select(r => r.Values).ToList(), retryFailed, ct);
        var inStudy = results.Where(r => !r.Enqueued && r.Trial.State != TrialState.Failed).Select(r => r.Trial.Number).ToList();
        if (inStudy.Count > 0)
            _console.Error.WriteLine($"tunesmith: skipped {Combinations(inStudy.Count)} already in study '{name}' ({Trials(inStudy)}); " +
                $"--allow-duplicates enqueues {(inStudy.Count == 1 ? "it" : "them")} again");
        var failed = results.Where(r => !r.Enqueued && r.Trial.State == TrialState.Failed).Select(r => r.Trial.Number).ToList();
        if (failed.Count > 0)
            _console.Error.WriteLine($"tunesmith: skipped {Combinations(failed.Count)} that failed before in study '{name}' ({Trials(failed)}); " +
                $"--retry-failed enqueues {(failed.Count == 1 ? "it" : "them")} again");
        var retried = results.Where(r => r.FailedBefore is not null).Select(r => r.FailedBefore!.Number).ToList();
        if (retried.Count > 0)
            _console.Error.WriteLine($"tunesmith: {Combinations(retried.Count)} had failed before ({Trials(retried)}); enqueued again");
        return results.Where(r => r.Enqueued).Select(r => r.Trial.Number).ToList();
    }

    private static string Combinations(int n) => n == 1 ? "1 combination" : $"{n} combinations";

    private static string Trials(IReadOnlyList<int> numbers) =>
        (numbers.Count == 1 ? "trial " : "trials ") + string.Join(", ", numbers.Take(10)) + (numbers.Count > 10 ? ", ..." : "");

    private const int ProblemsShown = 20;

    /// <summary>
    /// Names each problem on its own line (the first <see cref="ProblemsShown"/>, then how many more) and refuses the whole
    /// input: one problem is its own one-line error, as before; several end with a line that counts them.
    /// </summary>
    private void ReportProblems(string? file, IReadOnlyList<string> problems, int badRows, int rows)
    {
        if (problems.Count == 1) throw new CliUsageException(problems[0]);
        foreach (var problem in problems.Take(ProblemsShown)) _console.Error.WriteLine($"tunesmith: {problem}");
        if (problems.Count > ProblemsShown) _console.Error.WriteLine($"tunesmith: {file ?? "--set"}: and {Formats.Count(problems.Count - ProblemsShown, "more problem")}");
        throw new CliUsageException($"{file ?? "--set"}: {Formats.Count(problems.Count, "problem")}{(file is null ? "" : $" in {badRows} of its {Formats.Count(rows, "row")}")}; nothing enqueued");
    }

    /// <summary>
    /// The combination's values as the study's space types them, or null after adding one problem per bad parameter (and,
    /// when each value fits, one for a combination that does not fit the space's conditions) to <paramref name="problems"/>.
    /// </summary>
    private static IReadOnlyDictionary<string, object?>? CoerceCombination(SearchSpace space, IReadOnlyDictionary<string, object?> combination, string where,
        List<(int Line, string Message)> problems, int line)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        var bad = false;
        foreach (var (name, value) in combination)
        {
            try { values[name] = space.CoerceValues(new Dictionary<string, object?> { [name] = value })[name]; }
            catch (SearchSpaceException e)
            {
                problems.Add((line, $"{where}: {e.Message}"));
                bad = true;
            }
        }
        if (bad) return null;
        // A value for a parameter that is inactive under the combination's other values (momentum with optimizer=adam)
        // would be stored with the trial and handed to its program as if the space had drawn it. Parameters left out are
        // fine: the sampler draws them.
        if (space.Misfit(values, complete: false, spaceName: "the study's space") is { } misfit)
        {
            problems.Add((line, $"{where}: the combination does not fit the study's space: {misfit}"));
            return null;
        }
        return values;
    }
}
