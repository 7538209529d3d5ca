using System.Text.RegularExpressions;
using Tunesmith.Bench;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// bench/Tunesmith.Bench refuses a flag its verb does not read (BenchFlags): every bench command written in README.md and
/// docs/*.md passes that check, a made-up flag does not, and BenchFlags lists exactly the flags Program.cs reads.
/// </summary>
public sealed class BenchFlagTests
{
    [Fact]
    public void Every_bench_command_in_the_docs_uses_only_flags_its_verb_reads()
    {
        var commands = BenchCommands.Read(DocFiles()).ToList();
        Assert.True(commands.Count > 40, $"found only {commands.Count} bench commands: the scanner no longer sees the docs");
        var wrong = commands.Select(c => (c, Error: BenchFlags.Check(c.Args))).Where(x => x.Error is not null)
            .Select(x => $"{x.c.Where}: {x.Error}").ToList();
        Assert.True(wrong.Count == 0, "bench commands of the docs that the bench would refuse:\n" + string.Join("\n", wrong));
    }

    [Fact]
    public void A_made_up_flag_is_refused_in_each_form_the_docs_use()
    {
        const string markdown = """
            Run `dotnet run -c Release --project bench/Tunesmith.Bench -- importance-check --outt docs/x`.

            ```bash
            dotnet run -c Release --project bench/Tunesmith.Bench -- quality --seeds 10 \
                --jobz 2   # --not-a-flag in a comment
            B="nice -n 10 dotnet bench/Tunesmith.Bench/bin/Release/net10.0/Tunesmith.Bench.dll overhead --repeat 3"
            dotnet bench/Tunesmith.Bench/bin/Release/net10.0/Tunesmith.Bench.dll overhead --repeats 3 --cases 'in-memory|SQLite file' > out.txt
            B="nice -n 10 dotnet bench/Tunesmith.Bench/bin/Release/net10.0/Tunesmith.Bench.dll simulator-tune"   # a comment
            $B --variants "$V" --seeds 10; $B --varients "$V"     # --not-a-flag
            $B --seeds 3 --output x 29 tasks
            B=bench/Tunesmith.Bench/bin/Release/net10.0/Tunesmith.Bench.dll
            nice -n 10 dotnet $B ask-latency --history 100 --samples tpe
            ```
            """;
        var commands = BenchCommands.Parse("X.md", markdown).ToList();
        Assert.Equal(9, commands.Count);
        Assert.Equal(["simulator-tune", "--varients", "$V"], commands[6].Args);
        Assert.Equal(
            ["unknown flag '--outt' for 'importance-check' (its flags: --out --python)",
             "unknown flag '--jobz' for 'quality' (its flags: --batch --budgets --functions --jobs --optuna-python --out --reference --render-only --runs-from --samplers --seed-offset --seeds --tpe-variants --variants)",
             "unknown flag '--repeat' for 'overhead' (its flags: --cases --repeats --work)",
             "unknown flag '--varients' for 'simulator-tune' (its flags: --benchmarks --budgets --data --first-seed --output --parallel --seeds --variants --workers)",
             "unexpected word '29' after 'simulator-tune', which takes only flags (its flags: --benchmarks --budgets --data --first-seed --output --parallel --seeds --variants --workers)",
             "unknown flag '--samples' for 'ask-latency' (its flags: --history --samplers)"],
            commands.Select(c => BenchFlags.Check(c.Args)).OfType<string>().ToList());
        Assert.Equal("unexpected word 'tpe' after 'ask-latency', which takes only flags (its flags: --history --samplers)",
            BenchFlags.Check(["ask-latency", "tpe", "--history", "100"]));
        Assert.Equal("unexpected word 'x' after 'quality', which takes only flags (its flags: --batch --budgets --functions --jobs --optuna-python --out --reference --render-only --runs-from --samplers --seed-offset --seeds --tpe-variants --variants)",
            BenchFlags.Check(["quality", "--render-only", "x"]));
        Assert.Equal("flag '--seeds' of 'quality' needs a value", BenchFlags.Check(["quality", "--seeds"]));
        Assert.Null(BenchFlags.Check(["quality", "--render-only", "--seeds", "3"]));
        Assert.Null(BenchFlags.Check(["worker", "a", "b"])); // internal verbs take positional arguments
    }

    [Fact]
    public void BenchFlags_lists_exactly_the_flags_each_verb_of_Program_reads()
    {
        var program = File.ReadAllText(Path.Combine(StudyKit.RepoRoot(), "bench", "Tunesmith.Bench", "Program.cs"));
        var body = program[program.IndexOf("return args.FirstOrDefault() switch", StringComparison.Ordinal)..program.IndexOf("_ => Usage()", StringComparison.Ordinal)];
        var arms = Regex.Split(body, "\n    \"([a-z-]+)\" =>");
        var read = new Dictionary<string, string[]>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < arms.Length; i += 2)
            read[arms[i]] = Regex.Matches(arms[i + 1], "\"(--[a-z-]+)\"").Select(m => m.Groups[1].Value).Distinct().Order(StringComparer.Ordinal).ToArray();
        Assert.True(read.Count > 15, "the Program.cs scanner found too few verbs");
        foreach (var (verb, flags) in read)
        {
            if (BenchFlags.Internal.Contains(verb)) { Assert.Empty(flags); continue; }
            Assert.True(BenchFlags.Known.ContainsKey(verb), $"verb '{verb}' is missing from BenchFlags.Known");
            Assert.Equal(flags, BenchFlags.Known[verb].Order(StringComparer.Ordinal).ToArray());
        }
        Assert.Equal(read.Keys.Where(v => !BenchFlags.Internal.Contains(v)).Order(StringComparer.Ordinal), BenchFlags.Known.Keys.Order(StringComparer.Ordinal));
    }

    private static IEnumerable<(string Name, string Text)> DocFiles()
    {
        var repo = StudyKit.RepoRoot();
        yield return ("README.md", File.ReadAllText(Path.Combine(repo, "README.md")));
        foreach (var path in Directory.GetFiles(Path.Combine(repo, "docs"), "*.md").Order(StringComparer.Ordinal))
            yield return ("docs/" + Path.GetFileName(path), File.ReadAllText(path));
    }
}

/// <summary>A bench command of the docs: where it is written and its arguments from the verb on.</summary>
internal sealed record BenchCommand(string Where, IReadOnlyList<string> Args);

/// <summary>
/// Finds <c>Tunesmith.Bench -- VERB ...</c> and <c>Tunesmith.Bench.dll VERB ...</c> in markdown (shell lines with
/// <c>\</c> continuations joined and comments cut, inline code): the words up to a backtick, a double quote, a pipe or a
/// redirection. A shell variable holding the bench is followed too: after <c>B="… Tunesmith.Bench.dll quality --jobs 2"</c>,
/// <c>$B --seeds 10</c> is <c>quality --jobs 2 --seeds 10</c>; after <c>B=…/Tunesmith.Bench.dll</c>, <c>dotnet $B quality …</c>
/// is <c>quality …</c>.
/// </summary>
internal static class BenchCommands
{
    private static readonly Regex Invocation = new(@"Tunesmith\.Bench(?:\.dll)?(?:\s+--)?\s+(?<verb>[a-z][a-z-]*)", RegexOptions.CultureInvariant);
    private static readonly Regex Definition = new(@"^\s*B=", RegexOptions.CultureInvariant);
    private static readonly Regex Use = new(@"\$(?:B(?![A-Za-z0-9_])|\{B\})", RegexOptions.CultureInvariant);
    private static readonly HashSet<string> Stops = new(StringComparer.Ordinal) { "|", ">", ">>", "2>&1", "&&", ";", "&" };

    public static IEnumerable<BenchCommand> Read(IEnumerable<(string Name, string Text)> files) => files.SelectMany(f => Parse(f.Name, f.Text));

    public static IEnumerable<BenchCommand> Parse(string file, string markdown)
    {
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        // What $B stands for: the verb and its flags (B="… Tunesmith.Bench.dll quality --jobs 2"), nothing (B=…/Tunesmith.Bench.dll:
        // the verb follows $B), or null when B is not the bench.
        IReadOnlyList<string>? b = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var start = i;
            var line = lines[i];
            while (line.TrimEnd().EndsWith('\\') && i + 1 < lines.Length)
                line = line.TrimEnd()[..^1] + " " + lines[++i];
            var comment = Regex.Match(line, @"\s#");
            if (comment.Success) line = line[..comment.Index];
            var defines = Definition.IsMatch(line);
            if (defines) b = line.Contains("Tunesmith.Bench", StringComparison.Ordinal) ? [] : null;
            foreach (Match m in Invocation.Matches(line))
            {
                if (!BenchFlags.Known.ContainsKey(m.Groups["verb"].Value)) continue;
                List<string> args = [m.Groups["verb"].Value, .. Words(line[(m.Index + m.Length)..])];
                if (defines) b = args;
                yield return new BenchCommand($"{file}:{start + 1}", args);
            }
            if (defines || b is null) continue;
            foreach (Match m in Use.Matches(line))
            {
                var words = Words(line[(m.Index + m.Length)..]).ToList();
                if (b.Count > 0 && words.Count > 0) yield return new BenchCommand($"{file}:{start + 1}", [.. b, .. words]);
                else if (b.Count == 0 && words.Count > 0 && BenchFlags.Known.ContainsKey(words[0])) yield return new BenchCommand($"{file}:{start + 1}", words);
            }
        }
    }

    // Shell words ('…' and "…" kept together), up to the command's end: a backtick, a quote that is not closed (the end
    // of B="… quality --jobs 2"), a ';' outside quotes, a pipe or a redirection, or the next bench command ($B included).
    private static IEnumerable<string> Words(string text)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        var open = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '\'' or '"')
            {
                var close = text.IndexOf(c, i + 1);
                if (close < 0) break;
                word.Append(text, i + 1, close - i - 1);
                open = true;
                i = close;
            }
            else if (c is '`' or ';') break;
            else if (char.IsWhiteSpace(c))
            {
                if (open || word.Length > 0) words.Add(word.ToString());
                word.Clear();
                open = false;
            }
            else word.Append(c);
        }
        if (open || word.Length > 0) words.Add(word.ToString());
        foreach (var w in words)
        {
            if (Stops.Contains(w) || w.Contains("Tunesmith.Bench", StringComparison.Ordinal) || Use.IsMatch(w)) yield break;
            yield return w;
        }
    }
}
