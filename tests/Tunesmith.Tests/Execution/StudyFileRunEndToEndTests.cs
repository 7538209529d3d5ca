using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;
using Tunesmith.Storage;
using FsCheck;
using FsCheck.Xunit;
using Xunit;

namespace Tunesmith.Tests.Execution;

public sealed class StudyFileRunEndToEndTests : IDisposable
{
    private readonly CommandTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task A_study_file_runs_through_the_library_with_its_template_env_and_fixed_params()
    {
        _kit.Script("train.py", """
            import json, os, sys
            args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "args.json"), "w") as f:
                json.dump({"args": args, "mode": os.environ.get("MODE")}, f)
            print("tunesmith:result " + json.dumps({"score": float(args["--lr"]) * int(args["--layers"])}))
            """);
        var file = StudyFile.Parse("""
            name: file-run
            direction: maximize
            metric: score
            command: python3 train.py --lr {lr} --layers {layers} --dir {trial_dir}
            space:
              lr: { float: [0.1, 0.2] }
              layers: { int: [1, 4] }
            sampler: random
            trials: 4
            parallel: 2
            retries: 1
            env: { MODE: test }
            """, "file.yaml", _kit.Root);
        await using var storage = new InMemoryStudyStorage();
        await using var study = await StudyFileRun.OpenAsync(file, storage, seed: 1);
        var pool = StudyFileRun.CreatePool(file, gpus: [], parallel: file.Parallel);
        var fixedParams = file.Space.CoerceValues(new Dictionary<string, object?> { ["layers"] = "3" });
        var runDirectory = await StudyFileRun.RunDirectoryAsync(file, "memory:", storage);
        Assert.Equal(Path.Combine(_kit.Root, "runs"), Path.GetDirectoryName(runDirectory));
        Assert.Matches("^file-run-[0-9a-f]{10}$", Path.GetFileName(runDirectory));
        Assert.Equal(Path.GetFileName(runDirectory), (await storage.GetStudyAsync("file-run"))!.SystemAttributes[RunDirectories.Key]);
        Assert.Equal(runDirectory, await StudyFileRun.RunDirectoryAsync(file, "memory:", storage));
        var objective = StudyFileRun.ObjectiveOptions(file, runDirectory!, pool, fixedParams);
        var runner = new CommandStudyRunner(study, objective, StudyFileRun.RunOptions(file));
        Assert.Equal(2, runner.EffectiveParallelism);

        var result = await runner.RunAsync();

        Assert.Equal(4, result.Completed);
        foreach (var t in await study.GetTrialsAsync())
        {
            Assert.Equal(3L, t.Params["layers"]);
            Assert.False(t.Distributions.ContainsKey("layers")); // fixed, not sampled
            var dir = CommandObjective.TrialDirectory(objective.RootDirectory, t.Number);
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "args.json")));
            Assert.Equal("3", doc.RootElement.GetProperty("args").GetProperty("--layers").GetString());
            Assert.Equal(dir, doc.RootElement.GetProperty("args").GetProperty("--dir").GetString());
            Assert.Equal("test", doc.RootElement.GetProperty("mode").GetString());
            Assert.Equal((double)t.Params["lr"]! * 3, t.Value!.Value, 9);
        }
    }

    [Property(MaxTest = 200)]
    public bool A_run_directory_name_is_one_directory_under_runs_whatever_the_study_name(NonNull<string> name, long id) =>
        RunDirectories.Name(name.Get, "sqlite:/x/t.db", id) is var leaf
        && !leaf.Contains('/') && !leaf.All(c => c == '.') && leaf.Length <= 91
        && Path.GetDirectoryName(Path.GetFullPath(Path.Combine("/r/runs", leaf))) == "/r/runs";

    [Fact]
    public void A_run_directory_name_tells_storages_and_ids_apart_and_is_stable()
    {
        var a = RunDirectories.Name("exp", "sqlite:/x/a.db", 1);
        Assert.Equal(a, RunDirectories.Name("exp", "sqlite:/x/a.db", 1));
        Assert.NotEqual(a, RunDirectories.Name("exp", "sqlite:/x/b.db", 1));
        Assert.NotEqual(a, RunDirectories.Name("exp", "sqlite:/x/a.db", 2));
        Assert.NotEqual(RunDirectories.Name("exp 1", "sqlite:/x/a.db", 1), RunDirectories.Name("exp_1", "sqlite:/x/a.db", 2));
    }

    [Theory]
    [InlineData("python3 t.py --db postgresql://ann:hunter2@db/x --lr {x}", "argument 4 holds what looks like a secret (a password in a URL)")]
    [InlineData("python3 t.py --password=hunter2 --lr {x}", "argument 3 holds what looks like a secret (a value for --password)")]
    [InlineData("python3 t.py --api-key abc123 --lr {x}", "argument 3 holds what looks like a secret (a value for --api-key)")]
    [InlineData("python3 t.py --hf_token x --lr {x}", "a value for --hf_token")]
    [InlineData("python3 t.py --db postgresql://ann@db/x --lr {x}", null)]
    [InlineData("python3 t.py --lr {x} --token-file /run/secrets/t", null)]
    [InlineData("python3 t.py --use-token --lr {x}", null)]
    [InlineData("python3 t.py --password {x}", null)]
    public void A_secret_looking_command_argument_gets_a_one_line_warning(string command, string? expected)
    {
        var file = StudyFile.Parse($"name: w\ncommand: {command}\nspace:\n  x: {{ float: [0, 1] }}\n", "w.yaml");
        var warning = StudyFileRun.CommandSecretWarning(file);
        if (expected is null) Assert.Null(warning);
        else Assert.Contains(expected, warning);
    }
}
