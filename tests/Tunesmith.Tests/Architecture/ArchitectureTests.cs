using System.Reflection;
using NetArchTest.Rules;
using Xunit;
using Tunesmith.Samplers;

namespace Tunesmith.Tests.Architecture;

/// <summary>
/// The nevers of docs/ARCHITECTURE.md, read from the compiled library's type dependencies (NetArchTest over Mono.Cecil:
/// signatures, fields, attributes and method bodies), so a violating reference fails the build's tests, not a review.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly Assembly Library = typeof(ISampler).Assembly;

    // Each folder of the library (a namespace and its sub-namespaces) and the folders it may read. Nothing else.
    private static readonly Dictionary<string, string[]> AllowedDependencies = new()
    {
        ["Spaces"] = [],
        ["Trials"] = ["Spaces"],
        ["Samplers"] = ["Trials", "Spaces"],
        ["Schedulers"] = ["Trials", "Spaces"],
        ["Storage"] = ["Trials", "Spaces"],
        ["Backends"] = ["Trials", "Spaces"],
        ["Reporting"] = ["Trials", "Spaces", "Schedulers", "Storage"],
        ["Execution"] = ["Trials", "Spaces", "Samplers", "Schedulers", "Storage", "Backends"],
    };

    private static readonly string[] PureFolders = ["Samplers", "Schedulers"];

    // What a pure folder must never touch: the upper floors, the file system, the database drivers.
    private static readonly string[] ImpureDependencies =
    [
        "Tunesmith.Storage", "Tunesmith.Execution", "Tunesmith.Backends",
        "System.IO.File", "System.IO.Directory", "System.IO.FileStream", "System.IO.StreamReader", "System.IO.StreamWriter",
        "System.IO.FileSystemInfo", "System.IO.FileInfo", "System.IO.DirectoryInfo", "System.IO.Path",
        "Npgsql", "Microsoft.Data.Sqlite",
    ];

    [Fact]
    public void Every_namespace_of_the_library_lives_in_a_known_folder()
    {
        var unknown = Library.GetTypes()
            .Select(t => t.Namespace ?? "")
            .Where(ns => ns.StartsWith("Tunesmith", StringComparison.Ordinal) && FolderOf(ns) is null)
            .Distinct()
            .ToList();
        Assert.True(unknown.Count == 0, "namespaces outside the folders of docs/ARCHITECTURE.md: " + string.Join(", ", unknown));
    }

    [Theory]
    [MemberData(nameof(Pure))]
    public void Samplers_and_schedulers_do_no_io_and_read_no_upper_floor(string folder)
    {
        var result = Types.InAssembly(Library).That().ResideInNamespace($"Tunesmith.{folder}")
            .ShouldNot().HaveDependencyOnAny(ImpureDependencies).GetResult();
        Assert.True(result.IsSuccessful, $"{folder} must stay pure (no storage, execution, backends, file I/O or database driver); offending types: "
            + string.Join(", ", result.FailingTypeNames ?? []));
    }

    public static TheoryData<string> Pure() => new(PureFolders);

    [Fact]
    public void The_library_references_no_command_line_dashboard_or_console_package()
    {
        var result = Types.InAssembly(Library).ShouldNot()
            .HaveDependencyOnAny("Tunesmith.Cli", "Tunesmith.Dashboard", "Spectre.Console", "System.CommandLine")
            .GetResult();
        Assert.True(result.IsSuccessful, "the library must not reference the CLI, the dashboard, Spectre.Console or System.CommandLine; offending types: "
            + string.Join(", ", result.FailingTypeNames ?? []));
        var referenced = Library.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain(referenced, n => n is "Tunesmith.Cli" or "Tunesmith.Dashboard" or "Spectre.Console" or "System.CommandLine");
    }

    [Fact]
    public void Each_folder_reads_only_the_floors_below_it()
    {
        var graph = DependencyGraph();
        var violations = new List<string>();
        foreach (var (folder, uses) in graph)
            foreach (var (other, types) in uses)
                if (!AllowedDependencies[folder].Contains(other))
                    violations.Add($"{folder} → {other} (in {string.Join(", ", types.Take(5))})");
        Assert.True(violations.Count == 0, "dependencies docs/ARCHITECTURE.md does not allow:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void No_namespace_of_the_library_forms_a_cycle()
    {
        var graph = DependencyGraph().ToDictionary(kv => kv.Key, kv => kv.Value.Keys.ToList());
        var cycle = FindCycle(graph);
        Assert.True(cycle is null, "a namespace cycle: " + string.Join(" → ", cycle ?? []));
    }

    [Fact]
    public void The_cycle_search_finds_a_cycle_it_is_given()
    {
        var graph = new Dictionary<string, List<string>> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A"], ["D"] = ["A"] };
        Assert.Equal(["A", "B", "C", "A"], FindCycle(graph));
        Assert.Null(FindCycle(new Dictionary<string, List<string>> { ["A"] = ["B"], ["B"] = [], ["D"] = ["A", "B"] }));
    }

    // folder → (folder it depends on → the types that do), over every pair of the library's folders.
    private static Dictionary<string, Dictionary<string, List<string>>> DependencyGraph()
    {
        var folders = AllowedDependencies.Keys.ToArray();
        var graph = folders.ToDictionary(f => f, _ => new Dictionary<string, List<string>>());
        foreach (var from in folders)
            foreach (var to in folders)
            {
                if (from == to) continue;
                var types = Types.InAssembly(Library).That().ResideInNamespace($"Tunesmith.{from}")
                    .And().HaveDependencyOn($"Tunesmith.{to}").GetTypes().Select(t => t.FullName ?? t.Name).ToList();
                // ResideInNamespace matches a prefix: keep the folder's own types (no folder name is a prefix of another).
                types = types.Where(t => FolderOf(t) == from).ToList();
                if (types.Count > 0) graph[from][to] = types;
            }
        return graph;
    }

    private static string? FolderOf(string name)
    {
        var parts = name.Split('.');
        return parts.Length >= 2 && parts[0] == "Tunesmith" && AllowedDependencies.ContainsKey(parts[1]) ? parts[1] : null;
    }

    private static List<string>? FindCycle(IReadOnlyDictionary<string, List<string>> graph)
    {
        var state = new Dictionary<string, int>(); // 1: on the path, 2: done
        var path = new List<string>();
        List<string>? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var next in graph.TryGetValue(node, out var n) ? n : [])
            {
                if (state.GetValueOrDefault(next) == 1) return [.. path.Skip(path.IndexOf(next)), next];
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found) return found;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (var node in graph.Keys.Order(StringComparer.Ordinal))
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle) return cycle;
        return null;
    }
}
