using Tunesmith.Backends.Resources;
using Xunit;

namespace Tunesmith.Tests.Execution;

public sealed class ResourcePoolTests
{
    private static ResourcePool Pool(double g, params string[] gpus) => new(new ResourcePoolOptions { Gpus = gpus, GpusPerTrial = g });

    [Fact]
    public async Task Half_a_GPU_per_trial_puts_two_trials_on_each_GPU_and_spreads_first()
    {
        var pool = Pool(0.5, "0", "1");
        Assert.Equal(4, pool.Capacity);
        var first = await pool.AcquireAsync();
        var second = await pool.AcquireAsync();
        Assert.NotEqual(first.Gpus.Single(), second.Gpus.Single()); // spread before sharing
        var third = await pool.AcquireAsync();
        var fourth = await pool.AcquireAsync();
        var perGpu = new[] { first, second, third, fourth }.GroupBy(l => l.Gpus.Single()).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, perGpu["0"]);
        Assert.Equal(2, perGpu["1"]);
        Assert.Equal(0.5, first.GpuShare);

        var fifth = pool.AcquireAsync();
        Assert.False(fifth.IsCompleted);
        third.Dispose();
        var lease = await fifth;
        Assert.Equal(third.Gpus, lease.Gpus);
    }

    [Fact]
    public void Fractional_capacity_is_counted_per_GPU_not_across_GPUs()
    {
        // floor(3 / 0.3) would be 10; each GPU holds only floor(1 / 0.3) = 3 trials.
        Assert.Equal(9, Pool(0.3, "a", "b", "c").Capacity);
        Assert.Equal(20, Pool(0.25, "a", "b", "c", "d", "e").Capacity);
    }

    [Fact]
    public async Task Whole_GPUs_per_trial_are_disjoint_and_the_quota_limits_which_GPUs_are_used()
    {
        var pool = new ResourcePool(new ResourcePoolOptions { Gpus = ["0", "1", "2", "3", "4"], GpusPerTrial = 2, MaxGpus = 4 });
        Assert.Equal(2, pool.Capacity);
        Assert.Equal(["0", "1", "2", "3"], pool.Gpus);
        var a = await pool.AcquireAsync();
        var b = await pool.AcquireAsync();
        Assert.Equal(4, a.Gpus.Concat(b.Gpus).Distinct().Count());
        Assert.DoesNotContain("4", a.Gpus.Concat(b.Gpus));
        Assert.Equal(2, a.GpuShare);
        Assert.Equal(string.Join(",", a.Gpus), a.CudaVisibleDevices);
        var c = pool.AcquireAsync();
        Assert.False(c.IsCompleted);
        b.Dispose();
        Assert.Equal(b.Gpus, (await c).Gpus);
    }

    [Fact]
    public void A_non_integer_count_above_one_GPU_is_rejected_naming_the_option()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pool(1.5, "0", "1"));
        Assert.Equal("GpusPerTrial", e.ParamName);
    }

    [Theory]
    [InlineData(1.5, 4.0, 2.0, "gpus_per_trial above 1 must be a whole number of GPUs, got 1.5")]
    [InlineData(-2.5e-7, 4.0, 2.0, "gpus_per_trial must be ≥ 0, got -2.5e-07")]
    [InlineData(3.0, 4.0, 2.0, "gpus_per_trial is 3 but only 2 GPU(s) may be used")]
    [InlineData(0.0, 3e-05, 1e-05, "cpus_per_trial is 3e-05 but only 1e-05 CPU(s) are available")]
    [InlineData(0.0, 2.5, 2.0, "cpus_per_trial is 2.5 but only 2 CPU(s) are available")]
    [InlineData(0.0, 1.0, 0.0, "the CPU total must be > 0, got 0")]
    public void Option_errors_write_their_numbers_as_every_other_message_does(double gpus, double cpus, double totalCpus, string message)
    {
        // As NumberText writes them (1e-05, 2), not as .NET does (1E-05), and in the message's one line, not in .NET's
        // second "Actual value was ..." line.
        var e = Assert.ThrowsAny<ArgumentException>(() => new ResourcePool(new ResourcePoolOptions
        {
            Gpus = ["0", "1"], GpusPerTrial = gpus, CpusPerTrial = cpus, TotalCpus = totalCpus,
        }));
        Assert.Equal(message, e.Message[..e.Message.IndexOf(" (Parameter", StringComparison.Ordinal)]);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Asking_for_GPUs_when_none_were_found_is_a_clear_error()
    {
        var e = Assert.Throws<ArgumentException>(() => Pool(1));
        Assert.Contains("no GPU was found", e.Message);
        var quota = Assert.Throws<ArgumentException>(() => new ResourcePool(new ResourcePoolOptions { Gpus = ["0", "1", "2"], GpusPerTrial = 3, MaxGpus = 2 }));
        Assert.Contains("max_gpus 2", quota.Message);
    }

    [Fact]
    public async Task Cpus_per_trial_are_counted_against_the_total()
    {
        var pool = new ResourcePool(new ResourcePoolOptions { CpusPerTrial = 1.5, TotalCpus = 4 });
        Assert.Equal(2, pool.Capacity);
        using var a = await pool.AcquireAsync();
        using var b = await pool.AcquireAsync();
        Assert.Null(a.CudaVisibleDevices);
        Assert.False(pool.AcquireAsync().IsCompleted);
        Assert.Throws<ArgumentException>(() => new ResourcePool(new ResourcePoolOptions { CpusPerTrial = 8, TotalCpus = 4 }));
    }

    [Fact]
    public async Task A_cancelled_wait_takes_nothing_and_the_next_waiter_gets_the_slot()
    {
        var pool = new ResourcePool(new ResourcePoolOptions { MaxConcurrent = 1 });
        var held = await pool.AcquireAsync();
        using var cts = new CancellationTokenSource();
        var cancelled = pool.AcquireAsync(cts.Token);
        var next = pool.AcquireAsync();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(next.IsCompleted);
        held.Dispose();
        using var lease = await next;
        Assert.Equal(1, pool.InUse);
        held.Dispose(); // idempotent: does not free a second slot
        Assert.False(pool.AcquireAsync().IsCompleted);
    }

    [Fact]
    public async Task Quota_and_per_GPU_sharing_hold_under_heavy_concurrent_use()
    {
        // Six fake GPUs, a quota of three, half a GPU per trial: at most 6 holders, on at most 3 GPUs, 2 per GPU.
        var pool = new ResourcePool(new ResourcePoolOptions { Gpus = ["g0", "g1", "g2", "g3", "g4", "g5"], GpusPerTrial = 0.5, MaxGpus = 3, MaxConcurrent = 100 });
        Assert.Equal(6, pool.Capacity);
        var holders = 0;
        var maxHolders = 0;
        var perGpu = new int[6];
        var violations = 0;
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task Worker(int i)
        {
            for (var round = 0; round < 20; round++)
            {
                using var lease = await pool.AcquireAsync();
                var h = Interlocked.Increment(ref holders);
                InterlockedMax(ref maxHolders, h);
                var gpu = int.Parse(lease.Gpus.Single()[1..]);
                if (gpu >= 3) Interlocked.Increment(ref violations);
                if (Interlocked.Increment(ref perGpu[gpu]) > 2) Interlocked.Increment(ref violations);
                var inUse = Enumerable.Range(0, 6).Count(k => Volatile.Read(ref perGpu[k]) > 0);
                if (inUse > 3) Interlocked.Increment(ref violations);
                // The first time the pool is full, every holder has met: the capacity is really reachable.
                if (h == 6) full.TrySetResult();
                if (round == 0 && i < 6) await full.Task;
                await Task.Yield();
                Interlocked.Decrement(ref perGpu[gpu]);
                Interlocked.Decrement(ref holders);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(() => Worker(i))));
        Assert.Equal(0, violations);
        Assert.Equal(6, maxHolders);
        Assert.Equal(0, pool.InUse);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }

    [Fact]
    public async Task Explicit_list_wins_then_CUDA_VISIBLE_DEVICES_then_nvidia_smi_then_none()
    {
        Task<string?> Smi(CancellationToken _) => Task.FromResult<string?>("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaa)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbb)\n");
        var explicitList = await GpuDiscovery.DiscoverAsync("0, 2,3", _ => "5", Smi);
        Assert.Equal(["0", "2", "3"], explicitList.Gpus);
        Assert.Equal("--gpus", explicitList.Source);
        var visible = await GpuDiscovery.DiscoverAsync(null, n => n == "CUDA_VISIBLE_DEVICES" ? "4,5" : null, Smi);
        Assert.Equal(["4", "5"], visible.Gpus);
        var hidden = await GpuDiscovery.DiscoverAsync(null, n => n == "CUDA_VISIBLE_DEVICES" ? "-1" : null, Smi);
        Assert.Empty(hidden.Gpus);
        var smi = await GpuDiscovery.DiscoverAsync(null, _ => null, Smi);
        Assert.Equal(["0", "1"], smi.Gpus);
        Assert.Equal("nvidia-smi", smi.Source);
        var none = await GpuDiscovery.DiscoverAsync(null, _ => null, _ => Task.FromResult<string?>(null));
        Assert.Empty(none.Gpus);
        Assert.Equal("none", none.Source);
    }

    [Fact]
    public void Nvidia_smi_MIG_instances_are_listed_by_their_MIG_UUIDs()
    {
        var output = """
            GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
              MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
              MIG 3g.20gb     Device  1: (UUID: MIG-cba663e8-9bed-5b7f-9d59-7e6f4d1e2f10)
            GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-6e7fa1d7-0000-1111-2222-333344445555)
            """;
        Assert.Equal(["MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f", "MIG-cba663e8-9bed-5b7f-9d59-7e6f4d1e2f10", "1"], GpuDiscovery.ParseNvidiaSmiList(output));
    }

    [Fact]
    public void A_device_listed_twice_is_rejected() =>
        Assert.Throws<FormatException>(() => GpuDiscovery.ParseList("0,1,0"));

    [Theory]
    [InlineData("x")]
    [InlineData("0,x")]
    [InlineData("0;1")]
    [InlineData("gpu0")]
    public void An_id_that_is_neither_an_index_nor_a_uuid_is_rejected_naming_it(string list)
    {
        var e = Assert.Throws<FormatException>(() => GpuDiscovery.ParseList(list));
        Assert.Contains("is not a GPU index (0, 1, …) or a GPU-/MIG- UUID", e.Message);
        Assert.Equal(["0", "GPU-5d5ba0d6-d33d", "MIG-c6d4f1ef-42e4"], GpuDiscovery.ParseList("0, GPU-5d5ba0d6-d33d,MIG-c6d4f1ef-42e4"));
        Assert.Empty(GpuDiscovery.ParseList("-1"));
        Assert.Empty(GpuDiscovery.ParseList("NoDevFiles"));
    }
}
