// Tunesmith quickstart, in-process: choose and tune a classifier for a two-moons data set.
// The space is conditional: each model has its own hyperparameters. Trials run 2 at a time and are stored in
// SQLite (tunesmith.db in the current directory), so running it again resumes the same study up to its budget.
//
//   dotnet run --project examples/quickstart
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;

var space = new SearchSpace()
    .Branch("model",
        ("knn", s => s
            .Int("k", 1, 31, step: 2)
            .Choice("weights", ["uniform", "distance"])),
        ("logreg", s => s
            .Float("lr", 1e-3, 1.0, log: true)
            .Float("l2", 1e-6, 1e-1, log: true)
            .Int("epochs", 5, 60)
            .Int("rbf_features", 0, 64, step: 8)));

var (train, valid) = TwoMoons.Split(TwoMoons.Generate(600, noise: 0.25, seed: 42), validFraction: 0.3);

await using var study = await Study.CreateOrLoadAsync("quickstart-two-moons", new StudyOptions
{
    Direction = Direction.Maximize,
    Sampler = new RandomSampler(seed: 1),
    Storage = "sqlite:///tunesmith.db",
});

await study.OptimizeAsync((trial, ct) =>
{
    var config = trial.Suggest(space);
    double accuracy = config.GetString("model") == "knn"
        ? Models.KnnAccuracy(train, valid, config.GetInt("k"), config.GetString("weights") == "distance")
        : Models.LogRegAccuracy(train, valid, config.GetDouble("lr"), config.GetDouble("l2"), config.GetInt("epochs"),
            config.GetInt("rbf_features"), trial);
    return Task.FromResult(accuracy);
}, new OptimizeOptions { Trials = 40, Parallelism = 2 });

var trials = await study.GetTrialsAsync();
Console.WriteLine($"study '{study.Name}': {trials.Count} trials in tunesmith.db; best first:");
Console.WriteLine();
foreach (var t in trials.Where(t => t.State == TrialState.Complete).OrderByDescending(t => t.Value).ThenBy(t => t.Number).Take(10))
    Console.WriteLine($"  #{t.Number,-4} accuracy {t.Value:F4}  {string.Join("  ", t.Params.Select(p => $"{p.Key}={ParamValues.Format(p.Value)}"))}");

/// <summary>A noisy two-moons data set (two interleaved half circles), generated from a seed.</summary>
internal static class TwoMoons
{
    public static (double X, double Y, int Label)[] Generate(int n, double noise, int seed)
    {
        var rng = new Random(seed);
        double Gauss() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        return Enumerable.Range(0, n).Select(i =>
        {
            var t = Math.PI * rng.NextDouble();
            return i % 2 == 0
                ? (Math.Cos(t) + noise * Gauss(), Math.Sin(t) + noise * Gauss(), 0)
                : (1 - Math.Cos(t) + noise * Gauss(), 0.5 - Math.Sin(t) + noise * Gauss(), 1);
        }).ToArray();
    }

    public static ((double X, double Y, int Label)[] Train, (double X, double Y, int Label)[] Valid) Split(
        (double X, double Y, int Label)[] data, double validFraction)
    {
        var cut = (int)(data.Length * (1 - validFraction));
        return (data[..cut], data[cut..]);
    }
}

/// <summary>Two small classifiers written out in full, so the example needs nothing but Tunesmith.</summary>
internal static class Models
{
    public static double KnnAccuracy((double X, double Y, int Label)[] train, (double X, double Y, int Label)[] valid, int k, bool distanceWeighted)
    {
        var correct = 0;
        foreach (var v in valid)
        {
            var votes = new double[2];
            foreach (var (d, label) in train.Select(t => (Math.Sqrt(Math.Pow(t.X - v.X, 2) + Math.Pow(t.Y - v.Y, 2)), t.Label)).OrderBy(p => p.Item1).Take(k))
                votes[label] += distanceWeighted ? 1 / (d + 1e-9) : 1;
            if ((votes[1] > votes[0] ? 1 : 0) == v.Label) correct++;
        }
        return (double)correct / valid.Length;
    }

    /// <summary>Logistic regression by SGD on raw features plus random RBF features; reports validation accuracy each epoch.</summary>
    public static double LogRegAccuracy((double X, double Y, int Label)[] train, (double X, double Y, int Label)[] valid,
        double lr, double l2, int epochs, int rbfFeatures, Trial trial)
    {
        var rng = new Random(trial.Number);
        var centers = Enumerable.Range(0, rbfFeatures).Select(_ => (X: -1 + 3 * rng.NextDouble(), Y: -1 + 2.5 * rng.NextDouble())).ToArray();
        double[] Features((double X, double Y, int Label) p) =>
            [1, p.X, p.Y, .. centers.Select(c => Math.Exp(-((p.X - c.X) * (p.X - c.X) + (p.Y - c.Y) * (p.Y - c.Y)) / 0.5))];
        var w = new double[3 + rbfFeatures];
        double Accuracy() => (double)valid.Count(v => (Dot(w, Features(v)) > 0 ? 1 : 0) == v.Label) / valid.Length;
        var accuracy = 0.0;
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            foreach (var p in train.OrderBy(_ => rng.Next()))
            {
                var x = Features(p);
                var g = 1 / (1 + Math.Exp(-Dot(w, x))) - p.Label;
                for (var j = 0; j < w.Length; j++) w[j] -= lr * (g * x[j] + l2 * w[j]);
            }
            accuracy = Accuracy();
            trial.Report(epoch, accuracy);
        }
        return accuracy;
    }

    private static double Dot(double[] a, double[] b)
    {
        var s = 0.0;
        for (var i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
