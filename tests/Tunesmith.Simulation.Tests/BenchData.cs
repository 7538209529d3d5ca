using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Simulation.Tests;

/// <summary>The shared benchmark data (shared/benchdata beside the clone or above it, or $TUNESMITH_BENCHDATA); the tests fail, not skip, without it.</summary>
internal static class BenchData
{
    private static readonly Lazy<BenchmarkCatalog> Shared = new(() => new BenchmarkCatalog(Directory));

    public static string Directory =>
        BenchmarkCatalog.FindDataDirectory(null, Environment.GetEnvironmentVariable(BenchmarkCatalog.DataEnvironmentVariable))
        ?? throw new InvalidOperationException("shared/benchdata not found beside the repository or in $TUNESMITH_BENCHDATA");

    /// <summary>One catalog for the test run, so each table is read once.</summary>
    public static BenchmarkCatalog Catalog => Shared.Value;
}
