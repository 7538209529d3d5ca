using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Sobol;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Samplers;

public sealed class GridStudyFileTests
{
    [Fact]
    public void Study_file_grid_enumerates_the_declared_space_including_branches()
    {
        var file = StudyFile.Parse("""
            name: g
            command: python3 train.py --opt {opt}
            space:
              opt: { choice: [adam, sgd] }
              momentum: { float: [0.0, 0.9], step: 0.3, when: { opt: sgd } }
              layers: { int: [1, 3] }
            sampler: grid
            """);
        var grid = Assert.IsType<GridSampler>(file.CreateSampler());
        Assert.Equal((1 + 4) * 3, grid.Count);
    }

    [Fact]
    public void Study_file_grid_takes_explicit_values()
    {
        var file = StudyFile.Parse("""
            name: g
            command: python3 train.py --lr {lr}
            space:
              lr: { float: [1.0e-4, 1.0], log: true }
              batch: { choice: [16, 32, 64] }
            sampler: { grid: { values: { lr: [0.001, 0.01, 0.1], batch: [16, 64] }, shuffle: true, seed: 3 } }
            """);
        var grid = Assert.IsType<GridSampler>(file.CreateSampler());
        Assert.Equal(6, grid.Count);
        Assert.All(grid.EnumerateConfigurations(), c => Assert.IsType<double>(c["lr"]));
        Assert.All(grid.EnumerateConfigurations(), c => Assert.IsType<long>(c["batch"]));
    }

    [Fact]
    public void Study_file_grid_over_a_continuous_float_fails_at_load_naming_it()
    {
        var error = Assert.Throws<StudyFileException>(() => StudyFile.Parse("""
            name: g
            command: python3 train.py --lr {lr}
            space:
              lr: { float: [1.0e-4, 1.0], log: true }
            sampler: grid
            """));
        Assert.Contains("'lr'", error.Message);
    }

    [Fact]
    public void Study_file_sobol_gets_the_declared_space()
    {
        var file = StudyFile.Parse("""
            name: s
            command: python3 train.py --lr {lr}
            space:
              lr: { float: [1.0e-4, 1.0], log: true }
            sampler: { sobol: { seed: 4 } }
            """);
        var sampler = Assert.IsType<SobolSampler>(file.CreateSampler());
        Assert.Equal(4, sampler.Seed);
    }
}
