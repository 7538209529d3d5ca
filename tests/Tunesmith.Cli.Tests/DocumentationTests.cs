using System.CommandLine;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Cli.Internal;
using Tunesmith.Execution;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// What README.md and docs/*.md show a user must exist: every flag of a <c>tunesmith VERB ... --flag</c> they name is
/// one of that command's options, and every YAML block of a study file loads with the study-file loader.
/// </summary>
public sealed class DocumentationTests
{
    [Fact]
    public void Every_flag_the_docs_give_a_tunesmith_command_is_one_of_its_options()
    {
        var root = BuildCommandTree();
        var uses = DocumentedUses.Read(DocFiles()).ToList();
        Assert.True(uses.Count > 50, $"found only {uses.Count} documented command lines: the scanner no longer sees the docs");
        var wrong = uses.Where(u => !Accepts(root, u.Command, u.Flag)).Select(u => u.ToString()).Distinct().ToList();
        Assert.True(wrong.Count == 0, "flags the docs name that the command does not have:\n" + string.Join("\n", wrong));
    }

    [Fact]
    public void The_flag_check_catches_a_flag_that_does_not_exist()
    {
        // The guard above is only worth having if it fails: a made-up flag in each form the docs use is found.
        var root = BuildCommandTree();
        const string markdown = """
            Run `tunesmith run study.yaml --trails 3` or `tunesmith slurm submit s.yaml --dryrun`.

            | command | what |
            | --- | --- |
            | `report --study NAME [--colour]` | x |

            ```bash
            dotnet run --project src/Tunesmith.Cli -- worker --study x \
                --one-trail
            tunesmith status --study x   # --not-a-flag in a comment is not a flag
            ```
            """;
        var uses = DocumentedUses.Parse("CLI.md", markdown).ToList();
        var wrong = uses.Where(u => !Accepts(root, u.Command, u.Flag)).Select(u => $"{u.Command} {u.Flag}").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["report --colour", "run --trails", "slurm submit --dryrun", "worker --one-trail"], wrong);
        Assert.Contains(uses, u => u is { Command: "worker", Flag: "--study" });
    }

    [Fact]
    public void Every_study_file_yaml_block_in_the_docs_loads()
    {
        var blocks = YamlBlocks(DocFiles()).ToList();
        Assert.True(blocks.Count >= 10, $"found only {blocks.Count} YAML blocks in the docs");
        var failures = new List<string>();
        foreach (var (where, text) in blocks)
        {
            try { StudyFile.Parse(text, "study.yaml", Path.GetTempPath()); }
            catch (Exception e) { failures.Add($"{where}: {e.Message}\n{text}"); }
        }
        Assert.True(failures.Count == 0, "YAML blocks of the docs that do not load as a study file:\n" + string.Join("\n\n", failures));
    }

    [Fact]
    public void Every_repository_path_the_docs_name_in_inline_code_exists()
    {
        // docs/DECISIONS.md quotes the folder name an issue asked for and explains why it does not exist.
        string[] named = ["examples/Quickstart"];
        var repo = StudyKit.RepoRoot();
        var paths = new List<string>();
        var missing = new List<string>();
        foreach (var (name, text) in DocFiles())
        {
            var prose = Regex.Replace(text, "```.*?```", "", RegexOptions.Singleline);
            foreach (Match span in Regex.Matches(prose, @"`((?:src|tests|examples|scripts|bench|docs)/[A-Za-z0-9_./-]+)`"))
            {
                var path = span.Groups[1].Value;
                paths.Add(path);
                if (!named.Contains(path) && !File.Exists(Path.Combine(repo, path)) && !Directory.Exists(Path.Combine(repo, path)))
                    missing.Add($"{name}: {path}");
            }
        }
        Assert.True(paths.Count > 50, $"found only {paths.Count} paths in the docs");
        Assert.True(missing.Count == 0, "paths the docs name that do not exist:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void Every_option_of_every_command_is_named_in_CLI_md()
    {
        // README.md sends readers to docs/CLI.md for "every tunesmith command and flag". Before, the dashboard command and
        // its flags, report --plots, worker --heartbeat/--stale-grace and the Slurm flags were not named there.
        var cli = File.ReadAllText(Path.Combine(StudyKit.RepoRoot(), "docs", "CLI.md"));
        var missing = new List<string>();
        void Walk(Command command, string path)
        {
            foreach (var option in command.Options)
            {
                if (option.Name is "--help" or "--version") continue;
                if (!option.Aliases.Prepend(option.Name).Any(n => Regex.IsMatch(cli, @"(?<![\w-])" + Regex.Escape(n) + @"(?![\w-])")))
                    missing.Add($"{path} {option.Name}".Trim());
            }
            foreach (var sub in command.Subcommands) Walk(sub, $"{path} {sub.Name}".Trim());
        }
        Walk(BuildCommandTree(), "");
        Assert.True(missing.Count == 0, "options docs/CLI.md does not name:\n" + string.Join("\n", missing.Distinct()));
    }

    [Fact]
    public void Every_reference_between_the_docs_names_a_file_and_section_that_exist()
    {
        // [text](FILE.md#anchor) links, `docs/SLURM.md §5`, and `docs/BENCHMARKS.md, "Small budgets"` (a heading or a bold
        // paragraph lead of that file, the quote possibly wrapped onto the next line).
        var repo = StudyKit.RepoRoot();
        var files = DocFiles().ToDictionary(f => f.Name, f => f.Text);
        string Prose(string text) => Regex.Replace(text, "```.*?```", "", RegexOptions.Singleline);
        string Slug(string heading) => Regex.Replace(heading.Trim().ToLowerInvariant(), @"[^\w\- ]", "").Replace(' ', '-');
        IEnumerable<string> Headings(string text) => Regex.Matches(Prose(text), @"^#+\s+(.*)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value.Trim());
        var wrong = new List<string>();
        var seen = 0;
        foreach (var (name, text) in files)
        {
            var prose = Prose(text);
            foreach (Match link in Regex.Matches(prose, @"\]\(([^)\s]+)\)"))
            {
                var target = link.Groups[1].Value;
                if (target.StartsWith("http", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
                seen++;
                var hash = target.IndexOf('#');
                var (file, anchor) = hash < 0 ? (target, "") : (target[..hash], target[(hash + 1)..]);
                var full = file.Length == 0 ? Path.Combine(repo, name) : Path.GetFullPath(Path.Combine(repo, Path.GetDirectoryName(name) ?? "", file));
                if (!File.Exists(full) && !Directory.Exists(full)) { wrong.Add($"{name}: ({target}): no such file"); continue; }
                if (anchor.Length > 0 && !Headings(File.ReadAllText(full)).Any(h => Slug(h) == anchor))
                    wrong.Add($"{name}: ({target}): no heading with that anchor");
            }
            foreach (Match section in Regex.Matches(prose, @"(?<![\w/])(?:docs/)?([A-Z_]+\.md) §(\d+)"))
            {
                seen++;
                var key = "docs/" + section.Groups[1].Value;
                if (!files.TryGetValue(key, out var target) || !Regex.IsMatch(target, @"^## " + section.Groups[2].Value + @"\.", RegexOptions.Multiline))
                    wrong.Add($"{name}: {section.Value}: no such numbered section");
            }
            foreach (Match quote in Regex.Matches(prose, @"(?<![\w/])(?:docs/)?([A-Z_]+\.md)(?:,\s*|\s*\(|\s+)""([^""]+)"""))
            {
                var key = "docs/" + quote.Groups[1].Value;
                if (!files.TryGetValue(key, out var target)) { wrong.Add($"{name}: {quote.Value}: no such file"); continue; }
                seen++;
                var title = Regex.Replace(quote.Groups[2].Value, @"\s+", " ");
                var leads = Regex.Matches(Prose(target), @"\*\*([^*]+)\*\*").Select(m => Regex.Replace(m.Groups[1].Value, @"\s+", " "));
                if (!Headings(target).Any(h => h.Contains(title, StringComparison.Ordinal)) && !leads.Any(l => l.StartsWith(title, StringComparison.Ordinal)))
                    wrong.Add($"{name}: {quote.Value.Replace('\n', ' ')}: no heading or bold lead of that name");
            }
        }
        Assert.True(seen > 30, $"found only {seen} references between the docs");
        Assert.True(wrong.Count == 0, "references that lead nowhere:\n" + string.Join("\n", wrong));
    }

    private static RootCommand BuildCommandTree() =>
        CliApplication.Build(new CliConsole(TextWriter.Null, TextWriter.Null, _ => null, outputIsTerminal: false),
            TimeProvider.System, NullLoggerFactory.Instance);

    private static IEnumerable<(string Name, string Text)> DocFiles()
    {
        var repo = StudyKit.RepoRoot();
        yield return ("README.md", File.ReadAllText(Path.Combine(repo, "README.md")));
        foreach (var path in Directory.GetFiles(Path.Combine(repo, "docs"), "*.md").Order(StringComparer.Ordinal))
            yield return ("docs/" + Path.GetFileName(path), File.ReadAllText(path));
    }

    /// <summary>Whether <paramref name="command"/> ("run", "slurm submit") has <paramref name="flag"/>, itself or from an ancestor's recursive option.</summary>
    private static bool Accepts(RootCommand root, string command, string flag)
    {
        Command current = root;
        var chain = new List<Command> { root };
        foreach (var word in command.Split(' '))
        {
            current = current.Subcommands.Single(c => c.Name == word);
            chain.Add(current);
        }
        if (flag is "--help" or "--version" && current == root) return true;
        if (flag == "--help") return true;
        return chain.Any(c => c.Options.Any(o => (c == current || o.Recursive) && (o.Name == flag || o.Aliases.Contains(flag))));
    }

    /// <summary>
    /// Study-file YAML blocks. A block whose top-level keys repeat (alternatives, one a line: <c>scheduler: ...</c>)
    /// gives one study file per top-level entry; a fragment without <c>command:</c> gets one.
    /// </summary>
    private static IEnumerable<(string Where, string Text)> YamlBlocks(IEnumerable<(string Name, string Text)> files)
    {
        foreach (var (name, text) in files)
            foreach (var (line, body) in DocumentedUses.FencedBlocks(text, "yaml"))
            {
                var entries = new List<string>();
                foreach (var l in body.Split('\n'))
                {
                    if (l.Length > 0 && !char.IsWhiteSpace(l[0]) && !l.StartsWith('#')) entries.Add(l);
                    else if (entries.Count > 0) entries[^1] += "\n" + l;
                }
                var keys = entries.Select(e => e.Split(':')[0]).ToList();
                var alternatives = keys.Distinct().Count() < keys.Count ? entries : [body];
                foreach (var alternative in alternatives)
                {
                    var study = Regex.IsMatch(alternative, @"^command:", RegexOptions.Multiline) ? alternative
                        : "command: python3 train.py\n" + alternative;
                    if (!Regex.IsMatch(study, @"^space:", RegexOptions.Multiline))
                    {
                        // A command shown alone: its placeholders become parameters.
                        var names = Regex.Matches(study, @"(?<!\{)\{([A-Za-z_][\w.-]*)\}").Select(m => m.Groups[1].Value)
                            .Where(n => n is not ("trial_number" or "trial_dir")).Distinct().ToList();
                        if (names.Count > 0) study += "\nspace:\n" + string.Concat(names.Select(n => $"  {n}: {{ float: [0, 1] }}\n"));
                    }
                    yield return ($"{name}:{line}", study);
                }
            }
    }
}

/// <summary>One flag given to one <c>tunesmith</c> command in the docs.</summary>
internal sealed record DocumentedUse(string File, int Line, string Command, string Flag)
{
    public override string ToString() => $"{File}:{Line}: tunesmith {Command} {Flag}";
}

/// <summary>Finds <c>tunesmith VERB ... --flag</c> in Markdown: inline code, shell blocks, and docs/CLI.md's command table.</summary>
internal static class DocumentedUses
{
    private static readonly string[] Verbs =
        ["run", "worker", "create", "enqueue", "status", "best", "report", "delete", "dashboard", "simulate", "slurm submit", "slurm status", "slurm cancel"];

    private static readonly Regex Invocation = new(
        @"(?:(?<![\w.-])tunesmith|Tunesmith\.Cli\.dll|Tunesmith\.Cli\s+--)\s+(?<verb>" + string.Join("|", Verbs.Select(Regex.Escape)) + @")(?![\w-])",
        RegexOptions.CultureInvariant);

    private static readonly Regex Flag = new(@"(?<![\w-])--[a-z][a-z0-9-]*", RegexOptions.CultureInvariant);

    private static readonly Regex TableRow = new(
        @"^\|\s*`(?<span>(?:" + string.Join("|", Verbs.Select(Regex.Escape)) + @")(?![\w-])[^`]*)`\s*\|", RegexOptions.CultureInvariant);

    public static IEnumerable<DocumentedUse> Read(IEnumerable<(string Name, string Text)> files) =>
        files.SelectMany(f => Parse(f.Name, f.Text));

    public static IEnumerable<DocumentedUse> Parse(string file, string markdown)
    {
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        var inBlock = false;
        var language = "";
        var prose = new System.Text.StringBuilder();
        var proseLines = new List<int>();
        for (var i = 0; i < lines.Length; i++)
        {
            var fence = Regex.Match(lines[i], @"^\s*```(\S*)");
            if (fence.Success)
            {
                inBlock = !inBlock;
                language = fence.Groups[1].Value;
                prose.Append('\n');
                proseLines.Add(i + 1);
                continue;
            }
            if (inBlock)
            {
                prose.Append('\n');
                proseLines.Add(i + 1);
                if (language is "yaml" or "json" or "ini" or "csharp" or "mermaid") continue;
                // A shell line: backslash continuations joined, a comment cut off.
                var start = i;
                var line = lines[i];
                while (line.EndsWith('\\') && i + 1 < lines.Length && !lines[i + 1].TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    line = line[..^1] + " " + lines[++i];
                    prose.Append('\n');
                    proseLines.Add(i + 1);
                }
                var comment = Regex.Match(line, @"(?:^|\s)#");
                if (comment.Success) line = line[..comment.Index];
                foreach (var use in Uses(file, start + 1, line)) yield return use;
                continue;
            }
            var row = TableRow.Match(lines[i]);
            if (row.Success && file.EndsWith("CLI.md", StringComparison.Ordinal))
                foreach (var use in Uses(file, i + 1, "tunesmith " + row.Groups["span"].Value)) yield return use;
            prose.Append(lines[i]).Append('\n');
            proseLines.Add(i + 1);
        }
        // Inline code spans of the prose (they may wrap onto the next line).
        var text = prose.ToString();
        foreach (Match span in Regex.Matches(text, @"`([^`]+)`"))
        {
            var line = text[..span.Index].Count(c => c == '\n') + 1;
            foreach (var use in Uses(file, line, span.Groups[1].Value.Replace('\n', ' '))) yield return use;
        }
    }

    /// <summary>The flags after each <c>tunesmith VERB</c> in <paramref name="text"/>, up to the next invocation.</summary>
    private static IEnumerable<DocumentedUse> Uses(string file, int line, string text)
    {
        var invocations = Invocation.Matches(text);
        for (var k = 0; k < invocations.Count; k++)
        {
            var from = invocations[k].Index + invocations[k].Length;
            var to = k + 1 < invocations.Count ? invocations[k + 1].Index : text.Length;
            var command = Regex.Replace(invocations[k].Groups["verb"].Value, @"\s+", " ");
            foreach (Match flag in Flag.Matches(text[from..to]))
                yield return new DocumentedUse(file, line, command, flag.Value);
        }
    }

    /// <summary>The fenced blocks of <paramref name="language"/> in <paramref name="markdown"/>, with the line each starts on.</summary>
    public static IEnumerable<(int Line, string Body)> FencedBlocks(string markdown, string language)
    {
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var fence = Regex.Match(lines[i], @"^(\s*)```(\S*)\s*$");
            if (!fence.Success) continue;
            var indent = fence.Groups[1].Value.Length;
            var start = i;
            var body = new List<string>();
            for (i++; i < lines.Length && !Regex.IsMatch(lines[i], @"^\s*```\s*$"); i++)
                body.Add(lines[i].Length >= indent ? lines[i][indent..] : lines[i].TrimStart());
            if (fence.Groups[2].Value == language) yield return (start + 1, string.Join('\n', body));
        }
    }
}
