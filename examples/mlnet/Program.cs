// Tunesmith with ML.NET, in-process: choose a multiclass trainer for UCI Wine and tune its own hyperparameters.
// Each trainer is an exclusive branch of the space (SDCA maximum entropy / LightGBM / FastTree one-versus-all), so
// `auto` searches it branch-aware: every trainer gets trials early on, and each trainer's parameters are modelled on its
// own trials. The objective is 3-fold cross-validated log-loss (lower is better); trials run 2 at a time and are stored
// in SQLite (mlnet.db in the current directory), so running it again resumes the same study up to its budget.
//
//   dotnet run -c Release --project examples/mlnet
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Tunesmith.Trials;

const int Budget = 40;
var space = new SearchSpace()
    .Branch("trainer",
        ("sdca", s => s
            .Float("sdca_l2", 1e-6, 1, log: true)
            .Float("sdca_l1", 1e-6, 1, log: true)
            .Int("sdca_iterations", 5, 200, log: true)),
        ("lightgbm", s => s
            .Int("lgbm_leaves", 2, 64, log: true)
            .Float("lgbm_learning_rate", 1e-3, 0.5, log: true)
            .Int("lgbm_iterations", 10, 300, log: true)
            .Int("lgbm_min_leaf", 1, 30)),
        ("fasttree", s => s
            .Int("ft_leaves", 2, 64, log: true)
            .Float("ft_learning_rate", 1e-3, 0.5, log: true)
            .Int("ft_trees", 10, 300, log: true)
            .Int("ft_min_leaf", 1, 30)));

var dataPath = Path.Combine(AppContext.BaseDirectory, "data", "wine.csv");
var loader = new MLContext(seed: 1);
var data = loader.Data.LoadFromTextFile<WineRow>(dataPath, hasHeader: true, separatorChar: ',');

await using var study = await Study.CreateOrLoadAsync("mlnet-wine", new StudyOptions
{
    Direction = Direction.Minimize,
    // auto reads the space's shape and the budget, and says what it chose (recorded on the study).
    Sampler = SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?>(), Seed: 7, Space: space, TrialBudget: Budget)),
    Storage = "sqlite:///mlnet.db",
});
Console.WriteLine($"sampler: {study.Sampler.Name}");

var wall = Stopwatch.StartNew();
await study.OptimizeAsync((trial, ct) =>
{
    var config = trial.Suggest(space);
    var ml = new MLContext(seed: 1);
    var (logLoss, macroAccuracy) = CrossValidate(ml, data, Trainer(ml, config));
    trial.SetUserAttribute("macro_accuracy", macroAccuracy);
    return Task.FromResult(logLoss);
}, new OptimizeOptions { Trials = Budget, Parallelism = 2 });
wall.Stop();

var trials = await study.GetTrialsAsync();
var complete = trials.Where(t => t.State == TrialState.Complete).OrderBy(t => t.Value).ThenBy(t => t.Number).ToList();
Console.WriteLine($"study '{study.Name}': {trials.Count} trials in mlnet.db ({complete.Count} complete), {wall.Elapsed.TotalSeconds:F1} s this run; best first:");
Console.WriteLine();
foreach (var t in complete.Take(10))
    Console.WriteLine($"  #{t.Number,-4} log-loss {t.Value:F4}  macro-accuracy {ParamValues.Format(t.UserAttributes.GetValueOrDefault("macro_accuracy"))}  " +
        string.Join("  ", t.Params.Select(p => $"{p.Key}={ParamValues.Format(p.Value)}")));
Console.WriteLine();
foreach (var branch in complete.GroupBy(t => ParamValues.Format(t.Params["trainer"])).OrderBy(g => g.First().Value))
    Console.WriteLine($"  {branch.Key,-9} {branch.Count(),3} trials, best log-loss {branch.First().Value:F4}");

static IEstimator<ITransformer> Trainer(MLContext ml, Configuration c)
{
    var prepare = ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.Transforms.NormalizeMinMax("Features"));
    return c.GetString("trainer") switch
    {
        "sdca" => prepare.Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(
            l2Regularization: (float)c.GetDouble("sdca_l2"), l1Regularization: (float)c.GetDouble("sdca_l1"),
            maximumNumberOfIterations: c.GetInt("sdca_iterations"))),
        "lightgbm" => prepare.Append(ml.MulticlassClassification.Trainers.LightGbm(
            numberOfLeaves: c.GetInt("lgbm_leaves"), minimumExampleCountPerLeaf: c.GetInt("lgbm_min_leaf"),
            learningRate: c.GetDouble("lgbm_learning_rate"), numberOfIterations: c.GetInt("lgbm_iterations"))),
        _ => prepare.Append(ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(
            numberOfLeaves: c.GetInt("ft_leaves"), numberOfTrees: c.GetInt("ft_trees"),
            minimumExampleCountPerLeaf: c.GetInt("ft_min_leaf"), learningRate: c.GetDouble("ft_learning_rate")))),
    };
}

static (double LogLoss, double MacroAccuracy) CrossValidate(MLContext ml, IDataView data, IEstimator<ITransformer> pipeline)
{
    var folds = ml.MulticlassClassification.CrossValidate(data, pipeline, numberOfFolds: 3, labelColumnName: "Label", seed: 1);
    return (folds.Average(f => f.Metrics.LogLoss), folds.Average(f => f.Metrics.MacroAccuracy));
}

/// <summary>One row of wine.csv: 13 measurements and the cultivar (0, 1 or 2).</summary>
internal sealed class WineRow
{
    [LoadColumn(0, 12), VectorType(13)]
    public float[] Features { get; set; } = [];

    [LoadColumn(13)]
    public float Label { get; set; }
}
