using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Simulation.Tests;

/// <summary>Tests that set $TUNESMITH_BENCHDATA run alone: the other tests read it to find the data.</summary>
[CollectionDefinition(nameof(BenchDataEnvironment), DisableParallelization = true)]
public sealed class BenchDataEnvironment;

/// <summary>Finding the benchmark data folder from C#, as docs/SIMULATOR.md's example does.</summary>
[Collection(nameof(BenchDataEnvironment))]
public sealed class BenchmarkCatalogTests
{
    [Fact]
    public void FindDataDirectory_without_arguments_reads_TUNESMITH_BENCHDATA_first_as_the_docs_say()
    {
        // The same folder under another spelling, so a test that reads the variable meanwhile still finds the data.
        var spelled = Path.Combine(BenchData.Directory, ".");
        var before = Environment.GetEnvironmentVariable(BenchmarkCatalog.DataEnvironmentVariable);
        Environment.SetEnvironmentVariable(BenchmarkCatalog.DataEnvironmentVariable, spelled);
        try
        {
            Assert.Equal(spelled, BenchmarkCatalog.FindDataDirectory());
        }
        finally
        {
            Environment.SetEnvironmentVariable(BenchmarkCatalog.DataEnvironmentVariable, before);
        }
    }

    [Fact]
    public void A_catalog_without_a_data_folder_says_how_to_give_one()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => new BenchmarkCatalog(null!));
        Assert.Contains("no benchmark data folder", e.Message);
        Assert.Contains(BenchmarkCatalog.DataEnvironmentVariable, e.Message);
    }
}
