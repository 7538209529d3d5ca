using System.Globalization;
using Tunesmith.Backends.Slurm;

namespace Tunesmith.Bench;

/// <summary>
/// Hardware-aware versus class-blind assignment of exclusive branches to compute classes, in simulation (docs/SLURM.md,
/// "Compute classes"; docs/BENCHMARKS.md). An SVM-like space of four kernels (linear, rbf, sigmoid, poly: sub-spaces of
/// 1 to 3 parameters) runs on 2 fast slots (speed 4) and 6 slow ones (speed 1) for a fixed simulated time. A trial of
/// branch b takes base_b = 60 s · complexity_b^1.5 on a slow slot; a fast slot speeds up complex branches most (speedup
/// 1 + (speed − 1)·(c_b − 1)/(c_max − 1)), as a GPU does for a kernel with more work per sample than a linear model.
/// Class-blind: every free slot runs a uniformly drawn branch. Aware: a free slot of class k draws from the branches
/// <see cref="HardwareAwareAssignment.Assign"/> gives k from the results so far. Reports trials finished (search
/// throughput) and the best value, median over seeds.
/// </summary>
internal static class ComputeClassSimulation
{
    private sealed record Branch(string Name, double Complexity, double Mean, double Sd);

    public static int Run(int seeds, double hours, string speedup)
    {
        Branch[] branches =
        [
            new("linear", HardwareAwareAssignment.Complexity(1, []), 0.20, 0.02),
            new("rbf", HardwareAwareAssignment.Complexity(2, []), 0.10, 0.08),
            new("sigmoid", HardwareAwareAssignment.Complexity(2, []), 0.30, 0.10),
            new("poly", HardwareAwareAssignment.Complexity(3, []), 0.15, 0.12),
        ];
        ClassProfile[] classes = [new("fast", 4, 2), new("slow", 1, 6)];
        var maxC = branches.Max(b => b.Complexity);
        var minC = branches.Min(b => b.Complexity);
        // How much faster a fast slot runs branch b. "linear": 1 + (speed − 1)·(c − 1)/(c_max − 1), every branch gains
        // something; "power": speed^((c − c_min)/(c_max − c_min)), the simplest branch gains nothing (a linear model on a
        // GPU) and the most complex gains the class's full speed (a kernel matrix).
        double Speedup(Branch b, ClassProfile c) => speedup == "power"
            ? Math.Pow(c.Speed, (b.Complexity - minC) / (maxC - minC))
            : 1 + (c.Speed - 1) * (b.Complexity - 1) / (maxC - 1);
        double Runtime(Branch b, ClassProfile c, Random rng) => 60 * Math.Pow(b.Complexity, 1.5) / Speedup(b, c) * (0.8 + 0.4 * rng.NextDouble());

        (int Trials, double Best) Simulate(bool aware, int seed)
        {
            var rng = new Random(seed);
            var results = branches.ToDictionary(b => b.Name, _ => new List<double>());
            var slots = classes.SelectMany(c => Enumerable.Repeat(c, c.Capacity)).Select(c => (Class: c, FreeAt: 0.0)).ToList();
            var pending = new PriorityQueue<(Branch Branch, double Value), double>();
            var end = hours * 3600;
            var trials = 0;
            var best = double.PositiveInfinity;
            while (true)
            {
                var i = slots.Select((s, k) => (s.FreeAt, k)).Min().k;
                var now = slots[i].FreeAt;
                while (pending.TryPeek(out var done, out var at) && at <= now)
                {
                    pending.Dequeue();
                    results[done.Branch.Name].Add(done.Value);
                    trials++;
                    best = Math.Min(best, done.Value);
                }
                if (now >= end) break;
                Branch choice;
                if (aware)
                {
                    var profiles = branches.Select(b => new BranchProfile(b.Name, b.Complexity, results[b.Name])).ToList();
                    var mine = HardwareAwareAssignment.Assign(profiles, classes)[slots[i].Class.Name];
                    var name = (string)mine[rng.Next(mine.Count)]!;
                    choice = branches.First(b => b.Name == name);
                }
                else choice = branches[rng.Next(branches.Length)];
                var value = choice.Mean + choice.Sd * Gaussian(rng);
                var finish = now + Runtime(choice, slots[i].Class, rng);
                if (finish <= end) pending.Enqueue((choice, value), finish);
                slots[i] = (slots[i].Class, finish);
            }
            return (trials, best);
        }

        var blind = Enumerable.Range(0, seeds).Select(s => Simulate(false, s)).ToList();
        var aware = Enumerable.Range(0, seeds).Select(s => Simulate(true, s)).ToList();
        static double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
        var ratios = blind.Zip(aware, (b, a) => (double)a.Trials / b.Trials).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{seeds} seeds, {hours} simulated hours, speedup model {speedup}, classes fast (speed 4) × 2 and slow (speed 1) × 6, branches linear/rbf/sigmoid/poly:"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  trials finished: class-blind median {Median(blind.Select(b => (double)b.Trials)):0}, hardware-aware median {Median(aware.Select(a => (double)a.Trials)):0}; " +
            $"throughput ratio aware/blind median {Median(ratios):0.00} [min {ratios.Min():0.00}, max {ratios.Max():0.00}]"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  best value: class-blind median {Median(blind.Select(b => b.Best)):0.0000}, hardware-aware median {Median(aware.Select(a => a.Best)):0.0000}"));
        return 0;
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
