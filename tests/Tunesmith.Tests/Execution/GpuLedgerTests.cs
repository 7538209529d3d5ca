using System.Diagnostics;
using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Backends.Resources;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary>The machine-wide GPU ledger: pools that share it never put more than one GPU's worth of trials on a GPU.</summary>
public sealed class GpuLedgerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tunesmith-ledger-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private ResourcePool Pool(GpuLedger ledger, double g, params string[] gpus) =>
        new(new ResourcePoolOptions { Gpus = gpus, GpusPerTrial = g, Ledger = ledger });

    private static Dictionary<string, double> Held(GpuLedger ledger) =>
        ledger.Read().GroupBy(e => e.Gpu).ToDictionary(g => g.Key, g => g.Sum(e => e.Share));

    [Property(MaxTest = 60)]
    public bool Any_interleaving_of_acquires_and_releases_by_pools_sharing_a_ledger_keeps_every_GPU_within_one(int[] ops)
    {
        if (!GpuLedger.Supported) return true;
        var ledger = new GpuLedger(Path.Combine(_dir, Guid.NewGuid().ToString("N")));
        double[] shares = [1, 0.5, 0.3, 2];
        var pools = shares.Select(g => Pool(ledger, g, "0", "1")).ToArray();
        var held = pools.Select(_ => new List<ResourceLease>()).ToArray();
        foreach (var op in ops ?? [])
        {
            var p = (op & int.MaxValue) % pools.Length;
            if ((op & 1) == 0 || held[p].Count == 0)
            {
                using var cancel = new CancellationTokenSource();
                var before = Held(ledger);
                var task = pools[p].AcquireAsync("t", cancel.Token);
                if (task.IsCompletedSuccessfully) held[p].Add(task.Result);
                else
                {
                    cancel.Cancel();
                    // Refused only when no GPU had room for the share (whole GPUs: not enough empty ones).
                    var g = shares[p];
                    var room = new[] { "0", "1" }.Select(x => 1 - before.GetValueOrDefault(x)).ToArray();
                    var fits = g < 1 ? room.Any(r => r >= g - 1e-9) : room.Count(r => r >= 1 - 1e-9) >= g;
                    if (fits) return false;
                }
            }
            else
            {
                var i = (op >> 8 & int.MaxValue) % held[p].Count;
                held[p][i].Dispose();
                held[p].RemoveAt(i);
            }
            if (Held(ledger).Values.Any(v => v > 1 + 1e-9)) return false;
            // The ledger holds exactly what the pools' leases hold.
            var leased = held.SelectMany(h => h).SelectMany(l => l.Gpus.Select(x => (x, l.GpuShare / l.Gpus.Count)))
                .GroupBy(x => x.x).ToDictionary(x => x.Key, x => x.Sum(y => y.Item2));
            var now = Held(ledger);
            if (leased.Count != now.Count || leased.Any(kv => Math.Abs(now.GetValueOrDefault(kv.Key) - kv.Value) > 1e-9)) return false;
        }
        foreach (var lease in held.SelectMany(h => h)) lease.Dispose();
        return ledger.Read().Count == 0;
    }

    [Fact]
    public async Task A_trial_waiting_for_a_GPU_another_pool_holds_is_told_once_and_starts_when_it_is_released()
    {
        if (!GpuLedger.Supported) return; // the ledger needs Linux /proc
        var ledger = new GpuLedger(_dir);
        var first = Pool(ledger, 1, "0");
        var second = new ResourcePool(new ResourcePoolOptions { Gpus = ["0"], GpusPerTrial = 1, Ledger = ledger, LedgerPoll = TimeSpan.FromMilliseconds(20) });
        var waits = new List<GpuWait>();
        second.WaitingForOtherProcesses += waits.Add;
        var held = await first.AcquireAsync("study 'a' trial 0", CancellationToken.None);
        var waiting = second.AcquireAsync("study 'b' trial 0", CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(["0"], ledger.Read().Select(e => e.Gpu));
        held.Dispose();
        var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["0"], lease.Gpus);
        Assert.Equal("study 'b' trial 0", Assert.Single(ledger.Read()).Trial);
        // Same process: the holder is not "another process", so nothing was said.
        Assert.Empty(waits);
        lease.Dispose();
        Assert.Empty(ledger.Read());
    }

    [Fact]
    public void Entries_of_a_dead_holder_or_an_earlier_boot_are_dropped_when_read_and_a_live_one_is_kept()
    {
        if (!GpuLedger.Supported) return; // the ledger needs Linux /proc
        var ledger = new GpuLedger(_dir);
        using var child = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        child.WaitForExit();
        var mine = GpuLedgerEntryFor(ledger, "0");
        ledger.Update(entries =>
        {
            entries.Add(mine);
            entries.Add(mine with { Gpu = "1", Pid = child.Id, Lease = "dead" });           // exited
            entries.Add(mine with { Gpu = "2", StartTime = mine.StartTime + 1, Lease = "recycled" }); // our pid, another start time
            entries.Add(mine with { Gpu = "3", Boot = "00000000", Lease = "old-boot" });
            return (0, true);
        });
        Assert.Equal(["0"], ledger.Read().Select(e => e.Gpu));
        Assert.Equal(2, File.ReadAllLines(ledger.FilePath).Length); // the entry and the end marker: the dead ones were written away
    }

    private static GpuLedgerEntry GpuLedgerEntryFor(GpuLedger ledger, string gpu)
    {
        // An entry of this process, as a pool writes it.
        var pool = new ResourcePool(new ResourcePoolOptions { Gpus = [gpu], GpusPerTrial = 1, Ledger = ledger });
        var lease = pool.AcquireAsync("t", CancellationToken.None).Result;
        var entry = ledger.Read().Single(e => e.Gpu == gpu);
        lease.Dispose();
        return entry with { Lease = "mine" };
    }
}
