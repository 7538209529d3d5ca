using System.Runtime.InteropServices;
using System.Text.Json;
using Xunit;

namespace Tunesmith.Tests.Architecture;

/// <summary>Directory.Build.targets keeps a build's native libraries to the machine that builds it.</summary>
public sealed class BuildOutputTests
{
    [Fact]
    public void Only_the_build_machines_native_libraries_are_copied()
    {
        // The deps file lists the natives this build copied (folders left by an older build may linger beside them).
        var deps = Path.Combine(AppContext.BaseDirectory, "Tunesmith.Tests.deps.json");
        using var json = JsonDocument.Parse(File.ReadAllText(deps));
        var rids = json.RootElement.GetProperty("targets").EnumerateObject()
            .SelectMany(target => target.Value.EnumerateObject())
            .Where(library => library.Value.TryGetProperty("runtimeTargets", out _))
            .SelectMany(library => library.Value.GetProperty("runtimeTargets").EnumerateObject())
            .Select(asset => asset.Value.GetProperty("rid").GetString())
            .Distinct().ToArray();
        var rid = RuntimeInformation.RuntimeIdentifier;
        Assert.Contains(rid, rids); // SQLite's native library, at least
        Assert.All(rids, r => Assert.Contains(r, new[] { rid, rid.Split('-')[0], "unix" }));
    }
}
