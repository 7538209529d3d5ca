using FsCheck;
using FsCheck.Xunit;
using Xunit;
using Tunesmith.Backends.Slurm;
using Tunesmith.Execution;
using Tunesmith.Execution.Commands;
using Tunesmith.Spaces.Spec;
using Tunesmith.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Tests.Backends;

public sealed class SlurmScriptTests
{
    private static readonly string[] Worker = ["/opt/tunesmith/tunesmith"];

    [Fact]
    public void Script_runs_one_trial_per_array_task_with_the_walltime_signal_requeue_and_every_resource()
    {
        var options = new SlurmJobOptions
        {
            Concurrency = 2, GpusPerTrial = 1, CpusPerTrial = 4, Memory = "16G", TimeLimit = TimeSpan.FromHours(4), Partition = "gpu",
            Account = "proj1", Qos = "normal", Constraint = "a100", Setup = "module load cuda\nsource venv/bin/activate",
            ExtraSbatch = ["--exclusive"], SignalLead = TimeSpan.FromMinutes(5), MaxRequeues = 2,
        };
        var script = SbatchScript.Render(new SbatchRequest("my study", 8, options, Worker, "/shared/runs/logs", "a100"));
        foreach (var line in new[]
        {
            "#!/bin/bash", "#SBATCH --job-name=tunesmith-my_study-a100", "#SBATCH --array=0-7%2", "#SBATCH --output=/shared/runs/logs/%A_%a.out",
            "#SBATCH --requeue", "#SBATCH --signal=B:USR1@300", "#SBATCH --time=04:00:00", "#SBATCH --partition=gpu", "#SBATCH --account=proj1",
            "#SBATCH --qos=normal", "#SBATCH --constraint=a100", "#SBATCH --cpus-per-task=4", "#SBATCH --gres=gpu:1", "#SBATCH --mem=16G",
            "#SBATCH --exclusive", "module load cuda", "source venv/bin/activate",
            "/opt/tunesmith/tunesmith worker --study 'my study' --one-trial --quiet --max-requeues 2 --signal-lead 300 --compute-class a100 &",
            "trap forward_usr1 USR1",
        })
            Assert.Contains(line + "\n", script);
        // Slurm may signal as the job starts: the trap is in place before the worker starts, and passes the signal on only
        // once the worker catches SIGUSR1 (before that the signal would kill it).
        Assert.True(script.IndexOf("trap forward_usr1 USR1", StringComparison.Ordinal) < script.IndexOf("worker --study", StringComparison.Ordinal));
        Assert.Contains("& 0x200", script);
        // The setup line runs before the worker, and no storage URL is written into the script.
        Assert.True(script.IndexOf("module load cuda", StringComparison.Ordinal) < script.IndexOf("worker --study", StringComparison.Ordinal));
        Assert.DoesNotContain("--storage", script);
    }

    [Fact]
    public void Script_without_a_cap_or_resources_asks_for_nothing_extra()
    {
        var script = SbatchScript.Render(new SbatchRequest("s", 1, new SlurmJobOptions(), ["dotnet", "/x/tunesmith.dll"], "/logs"));
        Assert.Contains("#SBATCH --array=0\n", script);
        foreach (var absent in new[] { "--gres", "--time", "--partition", "--mem", "--cpus-per-task", "--dependency", "--compute-class" })
            Assert.DoesNotContain(absent, script);
    }

    [Property(MaxTest = 200)]
    public bool A_quoted_word_reads_back_as_the_same_single_bash_word(NonNull<string> word)
    {
        var w = word.Get;
        if (w.Contains('\0')) return true;
        var quoted = SbatchScript.Quote(w);
        // Either plain safe characters, or one single-quoted string whose quotes are escaped as '\''.
        return quoted == w && w.Length > 0 && w.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@+,%".Contains(c))
            || quoted.StartsWith('\'') && quoted.EndsWith('\'') && quoted[1..^1].Replace("'\\''", "", StringComparison.Ordinal).IndexOf('\'') < 0
               && quoted[1..^1].Replace("'\\''", "'", StringComparison.Ordinal) == w;
    }

    [Property(MaxTest = 300)]
    public bool Array_plan_covers_every_task_within_MaxArraySize_and_MaxSubmitJobs(PositiveInt tasks, PositiveInt maxArray, int? maxSubmit, NonNegativeInt queued)
    {
        var n = tasks.Get % 5000;
        var limits = new SlurmLimits(maxArray.Get % 2000 + 1, maxSubmit is { } m ? Math.Abs(m % 3000) : null, queued.Get % 100);
        var plan = SlurmArrayPlan.Make(n, 4, limits);
        var room = limits.MaxSubmitJobs is { } cap ? Math.Max(0, cap - limits.QueuedJobs) : int.MaxValue;
        return plan.Arrays.Sum() + plan.Deferred == n && plan.Arrays.All(a => a >= 1 && a <= limits.MaxArraySize)
               && plan.Arrays.Sum() <= room && plan.Arrays.Sum() == Math.Min(n, room);
    }

    // What a user asked for: at most `concurrency` tasks at once over all the arrays, and from the start
    // min(concurrency, tasks) of them. Lanes side by side (no dependency) add up; arrays of one lane run one after another.
    [Property(MaxTest = 300)]
    public bool Array_plan_honours_the_concurrency_over_all_its_arrays(PositiveInt tasks, PositiveInt maxArray, PositiveInt concurrency)
    {
        var n = tasks.Get % 500;
        var c = concurrency.Get % 40 + 1;
        var plan = SlurmArrayPlan.Make(n, c, new SlurmLimits(maxArray.Get % 20 + 1));
        var arrays = plan.Planned;
        int Cap(SlurmPlannedArray a) => Math.Min(a.Tasks, a.Throttle ?? a.Tasks);
        var atStart = arrays.Where(a => a.After is null).Sum(Cap);
        // A lane is an array without a dependency and those chained after it; at any time one array of a lane runs.
        var laneCaps = arrays.Select((a, i) => (a, i)).Where(x => x.a.After is null).Select(x =>
        {
            var members = new List<int> { x.i };
            for (var j = x.i + 1; j < arrays.Count; j++) if (arrays[j].After is { } after && members.Contains(after)) members.Add(j);
            return members.Max(m => Cap(arrays[m]));
        });
        return plan.Arrays.Sum() == n && atStart == Math.Min(c, n) && laneCaps.Sum() <= c
               && arrays.Select((a, i) => a.After is null || a.After < i).All(ok => ok);
    }

    [Fact]
    public void A_concurrency_above_MaxArraySize_runs_arrays_side_by_side_whose_caps_sum_to_it()
    {
        // MaxArraySize 6, concurrency 8, 20 tasks: two lanes of 10 tasks capped at 4 each (6%4 then 4), not one chain of 6.
        var plan = SlurmArrayPlan.Make(20, 8, new SlurmLimits(6));
        Assert.Equal([new SlurmPlannedArray(6, 4, null), new SlurmPlannedArray(4, null, 0), new SlurmPlannedArray(6, 4, null), new SlurmPlannedArray(4, null, 2)], plan.Planned);
        // No more tasks than the cap: all of them at once, in arrays side by side.
        Assert.Equal([new SlurmPlannedArray(6, null, null), new SlurmPlannedArray(2, null, null)], SlurmArrayPlan.Make(8, 8, new SlurmLimits(6)).Planned);
    }

    [Fact]
    public void An_array_larger_than_MaxArraySize_is_split_and_chained_to_keep_the_cap()
    {
        var plan = SlurmArrayPlan.Make(2500, 8, new SlurmLimits(1001));
        Assert.Equal([1001, 1001, 498], plan.Arrays);
        Assert.True(plan.Chained);
        Assert.False(SlurmArrayPlan.Make(2500, null, new SlurmLimits(1001)).Chained);
        var capped = SlurmArrayPlan.Make(100, 8, new SlurmLimits(1001, MaxSubmitJobs: 50, QueuedJobs: 20));
        Assert.Equal([30], capped.Arrays);
        Assert.Equal(70, capped.Deferred);
    }

    [Property(MaxTest = 300)]
    public bool Slurm_time_format_reads_back(PositiveInt seconds)
    {
        var t = TimeSpan.FromSeconds(seconds.Get % (40 * 86400) + 60);
        return SlurmJobOptions.ParseTime(SlurmJobOptions.FormatTime(t)) == t;
    }

    [Theory]
    [InlineData("90", 90 * 60)]
    [InlineData("10:30", 630)]
    [InlineData("04:00:00", 4 * 3600)]
    [InlineData("1-00", 86400)]
    [InlineData("2-03:04", 2 * 86400 + 3 * 3600 + 4 * 60)]
    [InlineData("1-00:00:01", 86401)]
    public void Slurm_time_forms_parse(string text, int seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), SlurmJobOptions.ParseTime(text));

    [Theory]
    [InlineData("")]
    [InlineData("4h")]
    [InlineData("1:2:3:4")]
    [InlineData("-5")]
    public void Malformed_slurm_times_are_null(string text) => Assert.Null(SlurmJobOptions.ParseTime(text));

    [Fact]
    public void Options_are_validated_naming_the_field()
    {
        Assert.Contains("slurm.time", Assert.Throws<ArgumentException>(() => new SlurmJobOptions { TimeLimit = TimeSpan.FromSeconds(30) }.Validate()).Message);
        Assert.Contains("signal_lead", Assert.Throws<ArgumentException>(() => new SlurmJobOptions { TimeLimit = TimeSpan.FromMinutes(2), SignalLead = TimeSpan.FromMinutes(3) }.Validate()).Message);
        Assert.Contains("slurm.mem", Assert.Throws<ArgumentException>(() => new SlurmJobOptions { Memory = "lots" }.Validate()).Message);
        Assert.Contains("extra_sbatch", Assert.Throws<ArgumentException>(() => new SlurmJobOptions { ExtraSbatch = ["exclusive"] }.Validate()).Message);
        Assert.Contains("no spaces", Assert.Throws<ArgumentException>(() => new SlurmJobOptions { Partition = "gpu; rm" }.Validate()).Message);
    }

    [Fact]
    public void Tasks_are_shared_among_classes_by_their_caps()
    {
        var settings = new SlurmSettings(new SlurmJobOptions(),
        [
            new SlurmComputeClass("a100", new SlurmJobOptions { Concurrency = 8 }),
            new SlurmComputeClass("cpu", new SlurmJobOptions { Concurrency = 24 }),
        ]);
        var share = SlurmSubmitter.Share(settings, 10);
        Assert.Equal(["a100", "cpu"], share.Select(s => s.Class!.Name));
        Assert.Equal([3, 7], share.Select(s => s.Tasks));
        Assert.Equal(10, SlurmSubmitter.Share(settings, 10).Sum(s => s.Tasks));
        Assert.Single(SlurmSubmitter.Share(SlurmSettings.Empty, 5));
    }
}

public sealed class SlurmOutputTests
{
    [Fact]
    public void Scontrol_show_job_reads_a_requeued_array_task()
    {
        var job = Assert.Single(SlurmOutput.ParseScontrolJobs(SlurmCapturedOutput.ScontrolFinishedTask));
        Assert.Equal(("17", "17", 1, "COMPLETED", 1, "localhost", "17_1", "0:0"),
            (job.JobId, job.ArrayJobId, job.ArrayTaskId, job.State, job.Restarts, job.Node, job.Display, job.ExitCode));
        Assert.Null(job.Reason);
        Assert.False(job.IsActive);
    }

    [Fact]
    public void Scontrol_show_job_reads_a_pending_array_remainder_and_its_running_task()
    {
        var jobs = SlurmOutput.ParseScontrolJobs(SlurmCapturedOutput.ScontrolArray);
        Assert.Equal(["19_[1-3%1]", "19_0"], jobs.Select(j => j.Display));
        Assert.Equal(("PENDING", "JobArrayTaskLimit", (int?)null), (jobs[0].State, jobs[0].Reason, jobs[0].ArrayTaskId));
        Assert.Equal(("20", "RUNNING", "localhost"), (jobs[1].JobId, jobs[1].State, jobs[1].Node));
        Assert.All(jobs, j => Assert.True(j.IsActive));
    }

    [Fact]
    public void Squeue_reads_tasks_and_remainders()
    {
        var jobs = SlurmOutput.ParseSqueue(SlurmCapturedOutput.Squeue);
        Assert.Equal([("19", "19", (int?)null, "PENDING"), ("20", "19", 0, "RUNNING")], jobs.Select(j => (j.JobId, j.ArrayJobId, j.ArrayTaskId, j.State)));
        Assert.Null(jobs[1].Reason);
    }

    [Fact]
    public void Sacct_reads_states_exit_codes_and_tells_timeout_from_cancel()
    {
        var jobs = SlurmOutput.ParseSacct(SlurmCapturedOutput.Sacct);
        Assert.Equal(["COMPLETED", "TIMEOUT", "CANCELLED", "PENDING"], jobs.Select(j => j.State));
        Assert.Equal([SlurmStopCause.None, SlurmStopCause.Walltime, SlurmStopCause.Cancelled, SlurmStopCause.None], jobs.Select(j => SlurmStopCauses.FromJobState(j.State)));
        Assert.Equal(("42", "40", 1, "node18", "0:15"), (jobs[1].JobId, jobs[1].ArrayJobId, jobs[1].ArrayTaskId, jobs[1].Node, jobs[1].ExitCode));
        Assert.Null(jobs[3].Node);
    }

    [Fact]
    public void Config_gives_MaxArraySize_and_sacctmgr_the_smallest_MaxSubmitJobs()
    {
        Assert.Equal(1001, SlurmOutput.MaxArraySize(SlurmOutput.ParseConfig(SlurmCapturedOutput.Config)));
        Assert.Equal(1001, SlurmOutput.MaxArraySize(SlurmOutput.ParseConfig("")));
        Assert.Equal(200, SlurmOutput.ParseMaxSubmitJobs("\n500\n200\n"));
        Assert.Null(SlurmOutput.ParseMaxSubmitJobs("\n\n"));
    }

    [Theory]
    [InlineData("PREEMPTED", SlurmStopCause.Preempted)]
    [InlineData("TIMEOUT", SlurmStopCause.Walltime)]
    [InlineData("CANCELLED", SlurmStopCause.Cancelled)]
    [InlineData("RUNNING", SlurmStopCause.None)]
    [InlineData(null, SlurmStopCause.None)]
    public void Stop_cause_comes_from_the_job_state(string? state, SlurmStopCause cause) => Assert.Equal(cause, SlurmStopCauses.FromJobState(state));
}

public sealed class ClusterEnvironmentTests
{
    [Theory]
    [InlineData("/home/ann/study/tunesmith.db", "nfs4")]
    [InlineData("/scratch/ann/t.db", "lustre")]
    [InlineData("/tmp/t.db", "ext4")]
    [InlineData("/home/local disk/t.db", "xfs")]
    [InlineData("/homework/t.db", "ext4")]
    public void Mount_type_is_the_longest_mount_point_holding_the_path(string path, string type)
    {
        Assert.Equal(type, NetworkFileSystem.TypeOf(path, SlurmCapturedOutput.MountInfo));
        Assert.Equal(type is "nfs4" or "lustre", NetworkFileSystem.IsNetworkType(type));
    }

    [Fact]
    public void A_local_sqlite_file_and_other_storages_are_not_on_a_network_file_system()
    {
        Assert.Null(NetworkFileSystem.SqliteOnNetwork("sqlite:///" + Path.Combine(Path.GetTempPath(), "x.db")));
        Assert.Null(NetworkFileSystem.SqliteOnNetwork("memory:"));
        Assert.Null(NetworkFileSystem.SqliteOnNetwork("postgresql://u@h/d"));
    }

    [Fact]
    public void Login_node_guard_triggers_outside_a_job_where_slurm_is_configured_or_the_name_matches()
    {
        var env = new Dictionary<string, string?>();
        string? Get(string k) => env.GetValueOrDefault(k);
        Assert.Null(LoginNodeGuard.Check(Get, _ => false, "laptop"));
        Assert.Contains("/etc/slurm/slurm.conf", LoginNodeGuard.Check(Get, f => f == "/etc/slurm/slurm.conf", "laptop"));
        env["SLURM_CONF"] = "/opt/slurm/etc/slurm.conf";
        Assert.Contains("/opt/slurm/etc/slurm.conf", LoginNodeGuard.Check(Get, f => f == "/opt/slurm/etc/slurm.conf", "laptop"));
        env["TUNESMITH_LOGIN_NODE_PATTERN"] = "^login[0-9]+";
        Assert.Contains("login2", LoginNodeGuard.Check(Get, _ => false, "login2"));
        Assert.Null(LoginNodeGuard.Check(Get, _ => false, "node0042"));
        env["SLURM_JOB_ID"] = "123";
        Assert.Null(LoginNodeGuard.Check(Get, _ => true, "login2"));
        env.Remove("SLURM_JOB_ID");
        env["TUNESMITH_LOGIN_NODE_PATTERN"] = "([";
        Assert.Throws<ArgumentException>(() => LoginNodeGuard.Check(Get, _ => false, "x"));
    }

    [Fact]
    public void Job_environment_reads_the_array_task_and_restart()
    {
        var env = new Dictionary<string, string?> { ["SLURM_JOB_ID"] = "42", ["SLURM_ARRAY_JOB_ID"] = "40", ["SLURM_ARRAY_TASK_ID"] = "2", ["SLURM_RESTART_COUNT"] = "1", ["SLURMD_NODENAME"] = "n7" };
        var job = SlurmJobEnvironment.Read(env.GetValueOrDefault)!;
        Assert.Equal(("42", "40_2", 1, "n7"), (job.JobId, job.Display, job.RestartCount, job.Node));
        Assert.Null(SlurmJobEnvironment.Read(_ => null));
    }

    [Fact]
    public void Hardware_line_names_cpus_gpus_and_the_gpu_model()
    {
        var env = new Dictionary<string, string?> { ["SLURM_CPUS_ON_NODE"] = "16", ["CUDA_VISIBLE_DEVICES"] = "0,1" };
        Assert.Equal("cpus=16 gpus=2 gpu_model=NVIDIA A100-SXM4-80GB gpu_memory_mib=81920",
            WorkerHardware.Describe(env.GetValueOrDefault, () => "NVIDIA A100-SXM4-80GB, 81920 MiB\nNVIDIA A100-SXM4-80GB, 81920 MiB\n"));
        Assert.StartsWith("cpus=", WorkerHardware.Describe(_ => null, () => null));
    }
}

public sealed class SlurmStudyFileTests
{
    [Fact]
    public void Slurm_section_gives_defaults_and_classes_that_inherit_them()
    {
        var file = StudyFile.Parse("""
            name: s
            command: python3 t.py
            space: { x: { float: [0, 1] } }
            slurm:
              account: proj1
              time: "04:00:00"
              signal_lead: 10m
              max_requeues: 5
              setup: module load cuda
              extra_sbatch: [--exclusive]
              classes:
                a100: { partition: gpu-a100, gpus_per_trial: 1, max_concurrent: 8, speed: 3 }
                cpu: { partition: cpu, cpus_per_trial: 16, max_concurrent: 32, time: "1-00:00:00" }
            """, "s.yaml", "/tmp");
        var slurm = file.Slurm!;
        Assert.Equal(("proj1", TimeSpan.FromHours(4), TimeSpan.FromMinutes(10), 5), (slurm.Defaults.Account, slurm.Defaults.TimeLimit, slurm.Defaults.SignalLead, slurm.Defaults.MaxRequeues));
        Assert.Equal(["a100", "cpu"], slurm.Classes.Select(c => c.Name));
        var a100 = slurm.Classes[0].Options;
        Assert.Equal(("gpu-a100", 1, 8, 3.0, "proj1", TimeSpan.FromHours(4)), (a100.Partition, a100.GpusPerTrial, a100.Concurrency, a100.Speed, a100.Account, a100.TimeLimit));
        var cpu = slurm.Classes[1].Options;
        Assert.Equal((16, TimeSpan.FromDays(1), "module load cuda"), (cpu.CpusPerTrial, cpu.TimeLimit, cpu.Setup));
        Assert.Equal(["--exclusive"], cpu.ExtraSbatch);
    }

    [Theory]
    [InlineData("slurm: { time: 4h }", "slurm.time")]
    [InlineData("slurm: { partiton: gpu }", "partiton")]
    [InlineData("slurm: { classes: { a100: { gpus: 1 } } }", "slurm.classes.a100")]
    [InlineData("slurm: { classes: { 'a 100': { gpus_per_trial: 1 } } }", "class name")]
    [InlineData("slurm: { time: \"00:01:00\", signal_lead: 2m }", "signal_lead")]
    public void Bad_slurm_fields_are_one_line_errors_naming_the_field(string section, string expected)
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse($"name: s\ncommand: python3 t.py\nspace: {{ x: {{ float: [0, 1] }} }}\n{section}\n", "s.yaml", "/tmp"));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public async Task A_stored_study_file_whose_directory_is_not_visible_is_a_clear_error_for_a_worker()
    {
        await using var storage = new InMemoryStudyStorage();
        var record = await storage.CreateStudyAsync("s", Direction.Minimize);
        var text = "name: s\ncommand: python3 t.py\nspace: { x: { float: [0, 1] } }\n";
        await storage.SetStudyAttributesAsync(record.Id, system: true,
            [new(Tunesmith.Execution.Commands.StudyFileRun.StudyFileTextKey, text), new(Tunesmith.Execution.Commands.StudyFileRun.StudyFilePathKey, "/nonexistent-shared/fs/study.yaml")]);
        record = (await storage.GetStudyAsync("s"))!;
        // Reading the file's settings still works anywhere; running its trials here does not.
        Assert.NotNull(Tunesmith.Execution.Commands.StudyFileRun.ReadStored(record));
        var e = Assert.Throws<DirectoryNotFoundException>(() => Tunesmith.Execution.Commands.StudyFileRun.ReadStoredToRun(record));
        Assert.Contains("/nonexistent-shared/fs", e.Message);
        Assert.Contains("not visible on this machine", e.Message);
    }
}

public sealed class SlurmStopCauseTests
{
    private static SlurmJobInfo Job(string state, string? reason) => new("7", null, null, state, reason, "n1", 0, null, "7");

    [Fact]
    public void A_completing_job_is_told_apart_by_its_reason_and_a_final_state_by_itself()
    {
        // scontrol shows COMPLETING while Slurm signals the job: captured on scancel (Reason=None) and at the time limit (TimeLimit).
        Assert.Equal(SlurmStopCause.Cancelled, SlurmStopCauses.FromJob(Job("COMPLETING", null)));
        Assert.Equal(SlurmStopCause.Walltime, SlurmStopCauses.FromJob(Job("COMPLETING", "TimeLimit")));
        Assert.Equal(SlurmStopCause.Preempted, SlurmStopCauses.FromJob(Job("COMPLETING", "Preempted")));
        Assert.Equal(SlurmStopCause.Walltime, SlurmStopCauses.FromJob(Job("TIMEOUT", "TimeLimit")));
        Assert.Equal(SlurmStopCause.None, SlurmStopCauses.FromJob(Job("RUNNING", null)));
        Assert.Equal(SlurmStopCause.None, SlurmStopCauses.FromJob(null));
    }

    [Fact]
    public void A_job_that_Slurm_requeued_while_it_ran_was_preempted_not_cancelled()
    {
        // Captured on Slurm 22.05 at the SIGTERM of a job preempted with PreemptMode=REQUEUE: COMPLETING, Reason=None, and
        // Restarts already one more than the run's SLURM_RESTART_COUNT.
        var preempted = new SlurmJobInfo("622", "622", 0, "COMPLETING", null, "localhost", 1, null, "622_0");
        Assert.Equal(SlurmStopCause.Preempted, SlurmStopCauses.FromJob(preempted, ownRestarts: 0));
        Assert.True(SlurmStopCauses.RequeuedBySlurm(preempted, 0));
        // The same state after an scancel keeps the run's own restart count: a cancel.
        Assert.Equal(SlurmStopCause.Cancelled, SlurmStopCauses.FromJob(preempted with { Restarts = 0 }, ownRestarts: 0));
        Assert.Equal(SlurmStopCause.Cancelled, SlurmStopCauses.FromJob(preempted, ownRestarts: 1));
        Assert.Equal(SlurmStopCause.Walltime, SlurmStopCauses.FromJob(preempted with { Restarts = 0, Reason = "TimeLimit" }, ownRestarts: 0));
    }

    [Fact]
    public void A_cancel_stopped_the_whole_array_only_when_no_other_task_is_left_and_one_was_cancelled_too()
    {
        SlurmJobInfo Task(int i, string state, string? reason = null) => new($"{50 + i}", "50", i, state, reason, "n1", 0, null, $"50_{i}");
        // scancel 50: every task goes at once (a pending remainder too).
        Assert.True(SlurmStopCauses.IsWholeArrayCancel([Task(1, "COMPLETING"), Task(2, "CANCELLED")]));
        Assert.True(SlurmStopCauses.IsWholeArrayCancel([Task(1, "COMPLETED"), Task(2, "CANCELLED")]));
        Assert.True(SlurmStopCauses.IsWholeArrayCancel([]));
        // scancel 50_0 while a sibling runs or waits, or after every other task finished: only this task.
        Assert.False(SlurmStopCauses.IsWholeArrayCancel([Task(1, "RUNNING"), Task(2, "CANCELLED")]));
        Assert.False(SlurmStopCauses.IsWholeArrayCancel([Task(1, "PENDING")]));
        Assert.False(SlurmStopCauses.IsWholeArrayCancel([Task(1, "COMPLETED"), Task(2, "COMPLETED")]));
        Assert.False(SlurmStopCauses.IsWholeArrayCancel([Task(1, "COMPLETING", "TimeLimit")]));
    }

    [Fact]
    public void The_time_left_comes_from_the_jobs_durations_not_its_clock_times()
    {
        // Captured: RunTime=00:00:02 TimeLimit=00:01:00 (StartTime/EndTime are the controller's local time: not used).
        var job = Assert.Single(SlurmOutput.ParseScontrolJobs(SlurmCapturedOutput.ScontrolFinishedTask));
        Assert.Equal(TimeSpan.FromSeconds(58), job.TimeLeft);
        var unlimited = Assert.Single(SlurmOutput.ParseScontrolJobs(SlurmCapturedOutput.ScontrolFinishedTask.Replace("TimeLimit=00:01:00", "TimeLimit=UNLIMITED", StringComparison.Ordinal)));
        Assert.Null(unlimited.TimeLeft);
    }

    [Theory]
    // A 1-minute job with a 45-s lead stops 15 s in, however early Slurm's signal came (it may come at the start).
    [InlineData(60, 45, 15)]
    [InlineData(58, 45, 13)]
    // Due within Slurm's 1-s resolution, or past: now.
    [InlineData(46, 45, 0)]
    [InlineData(30, 45, 0)]
    [InlineData(86_400, 300, 86_100)]
    public void A_trial_stops_its_lead_before_the_time_limit(int leftSeconds, int leadSeconds, int stopInSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(stopInSeconds), SlurmTimeLimit.StopIn(TimeSpan.FromSeconds(leftSeconds), TimeSpan.FromSeconds(leadSeconds)));

    [Fact]
    public void A_job_without_a_time_limit_has_no_stop_time() => Assert.Null(SlurmTimeLimit.StopIn(null, TimeSpan.FromMinutes(5)));
}

public sealed class PostgresPoolParameterTests
{
    [Fact]
    public void Pool_parameters_bound_a_process_and_zero_idle_lifetime_holds_no_connection()
    {
        var b = Tunesmith.Storage.Sql.PostgresUrl.Parse("postgresql://u@h/d?pool_max_size=2&pool_idle_lifetime=0");
        Assert.Equal((2, false), (b.MaxPoolSize, b.Pooling));
        Assert.True(Tunesmith.Storage.Sql.PostgresStudyStorage.ExplicitlySet(b, "Maximum Pool Size"));
        var c = Tunesmith.Storage.Sql.PostgresUrl.Parse("postgresql://u@h/d?pool_idle_lifetime=6");
        Assert.Equal((true, 6, 3), (c.Pooling, c.ConnectionIdleLifetime, c.ConnectionPruningInterval));
        Assert.False(Tunesmith.Storage.Sql.PostgresStudyStorage.ExplicitlySet(Tunesmith.Storage.Sql.PostgresUrl.Parse("postgresql://u@h/d"), "Maximum Pool Size"));
        Assert.Throws<ArgumentException>(() => Tunesmith.Storage.Sql.PostgresUrl.Parse("postgresql://u@h/d?pool_max_size=0"));
        var bouncer = Tunesmith.Storage.Sql.PostgresUrl.Parse("postgresql://u@h/d?max_auto_prepare=0");
        Assert.True(Tunesmith.Storage.Sql.PostgresStudyStorage.ExplicitlySet(bouncer, "Max Auto Prepare"));
        Assert.Equal(0, bouncer.MaxAutoPrepare);
    }
}

public sealed class HardwareAwareAssignmentTests
{
    private static BranchProfile B(string v, double complexity, params double[] results) => new(v, complexity, results);

    [Fact]
    public void The_costliest_most_uncertain_branches_go_to_the_fastest_class()
    {
        var branches = new[] { B("linear", 2, 0.30, 0.31, 0.29), B("poly", 5, 0.1, 0.6, 0.4), B("rbf", 4, 0.2, 0.5), B("sigmoid", 4, 0.35, 0.36) };
        var classes = new[] { new ClassProfile("cpu", 1, 8), new ClassProfile("a100", 4, 2) };
        var a = HardwareAwareAssignment.Assign(branches, classes);
        // Priorities: poly 5 × 0.25, rbf 4 × 0.21, sigmoid and linear near 0; the a100s (2 × speed 4) take half the mass.
        Assert.Equal(["poly"], a["a100"]);
        Assert.Equal(["rbf", "sigmoid", "linear"], a["cpu"]);
        Assert.Equal(4, a.Values.Sum(v => v.Count));
    }

    [Property(MaxTest = 200)]
    public bool Every_branch_goes_to_exactly_one_class_and_every_class_gets_work(PositiveInt branchCount, PositiveInt classCount, int seed)
    {
        var rng = new Random(seed);
        var branches = Enumerable.Range(0, branchCount.Get % 8 + 1)
            .Select(i => new BranchProfile($"b{i}", 1 + rng.Next(6), Enumerable.Range(0, rng.Next(4)).Select(_ => rng.NextDouble()).ToArray())).ToList();
        var classes = Enumerable.Range(0, classCount.Get % 4 + 1).Select(i => new ClassProfile($"c{i}", 0.5 + rng.NextDouble() * 4, 1 + rng.Next(8))).ToList();
        var a = HardwareAwareAssignment.Assign(branches, classes);
        var assigned = a.Values.SelectMany(v => v).ToList();
        return a.Count == classes.Count && a.Values.All(v => v.Count > 0)
            && (branches.Count < classes.Count
                ? branches.All(b => assigned.Contains(b.Value))
                : assigned.Count == branches.Count && assigned.Distinct().Count() == branches.Count);
    }

    // The end-to-end compute-class test rests on this: while results differ, a branch's priority is its complexity times
    // a spread that is either its own or the largest seen, so with up to three results in any split the order holds.
    [Property(MaxTest = 300)]
    public bool The_complex_branch_stays_with_the_fast_class_as_distinct_results_arrive(int seed)
    {
        var rng = new Random(seed);
        var bigCount = rng.Next(4);
        var smallCount = rng.Next(4 - bigCount);
        double[] Results(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble()).ToArray();
        var a = HardwareAwareAssignment.Assign([B("small", 2, Results(smallCount)), B("big", 4, Results(bigCount))],
            [new ClassProfile("fast", 2, 2), new ClassProfile("slow", 1, 2)]);
        return a["fast"].SequenceEqual(["big"]) && a["slow"].SequenceEqual(["small"]);
    }

    [Fact]
    public void Complexity_counts_numeric_parameters_and_the_log_of_choices()
    {
        Assert.Equal(1, HardwareAwareAssignment.Complexity(0, []));
        Assert.Equal(4, HardwareAwareAssignment.Complexity(2, [2]));
        Assert.Equal(5, HardwareAwareAssignment.Complexity(2, [4]));
    }
}

public sealed class SlurmBranchChoiceTests
{
    private static readonly Tunesmith.Spaces.SearchSpace Space = new Tunesmith.Spaces.SearchSpace()
        .Branch("model", ("small", s => s.Float("a", 0, 1)), ("big", s => s.Float("a", 0, 1).Float("b", 0, 1).Choice("c", ["x", "y", "z", "w"])))
        .Float("lr", 0, 1);

    private static readonly SlurmComputeClass[] Classes =
    [
        new("slow", new SlurmJobOptions { Concurrency = 2 }),
        new("fast", new SlurmJobOptions { Concurrency = 2, Speed = 3 }),
    ];

    [Fact]
    public void The_branch_choice_is_found_and_the_fast_class_runs_the_complex_branch()
    {
        Assert.Equal("model", Tunesmith.Execution.Commands.SlurmBranchChoice.FindBranch(Space)?.Name);
        Assert.Null(Tunesmith.Execution.Commands.SlurmBranchChoice.FindBranch(new Tunesmith.Spaces.SearchSpace().Choice("k", ["a", "b"]).Float("x", 0, 1)));
        var rng = new Random(1);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(("model", (object?)"big"), Tunesmith.Execution.Commands.SlurmBranchChoice.Choose(Space, [], Classes, "fast", rng));
            Assert.Equal(("model", (object?)"small"), Tunesmith.Execution.Commands.SlurmBranchChoice.Choose(Space, [], Classes, "slow", rng));
        }
        Assert.Null(Tunesmith.Execution.Commands.SlurmBranchChoice.Choose(Space, [], Classes, "other", rng));
        Assert.Null(Tunesmith.Execution.Commands.SlurmBranchChoice.Choose(Space, [], [], "fast", rng));
    }
}
