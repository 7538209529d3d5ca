using System.Diagnostics;
using System.Globalization;
using Tunesmith.Backends.Resources;

namespace Tunesmith.Bench;

/// <summary>
/// What the machine-wide GPU ledger costs a trial: acquire and release half a GPU of a two-GPU pool, many times in a row,
/// with this process's pool alone (the library's default) and with the ledger file under flock (what run and worker use).
/// </summary>
public static class GpuLedgerBenchmark
{
    public static async Task<int> RunAsync(int cycles, int repeats)
    {
        var directory = Path.Combine(Path.GetTempPath(), "tunesmith-bench-ledger-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(directory);
        try
        {
            Console.WriteLine($"GPU share acquire + release, {cycles} cycles per round, {repeats} rounds (µs per cycle)");
            foreach (var (label, ledger) in new[] { ("without a ledger", (GpuLedger?)null), ("with the ledger", new GpuLedger(directory)) })
            {
                var pool = new ResourcePool(new ResourcePoolOptions { Gpus = ["0", "1"], GpusPerTrial = 0.5, Ledger = ledger });
                for (var i = 0; i < 200; i++) (await pool.AcquireAsync().ConfigureAwait(false)).Dispose(); // warm-up
                var rounds = new List<string>();
                for (var r = 0; r < repeats; r++)
                {
                    var started = Stopwatch.GetTimestamp();
                    for (var i = 0; i < cycles; i++) (await pool.AcquireAsync().ConfigureAwait(false)).Dispose();
                    rounds.Add((Stopwatch.GetElapsedTime(started).TotalMicroseconds / cycles).ToString("0.0", CultureInfo.InvariantCulture));
                }
                Console.WriteLine($"{label}: {string.Join(" · ", rounds)}");
            }
            return 0;
        }
        finally { Directory.Delete(directory, recursive: true); }
    }
}
