using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// The YAHPO Gym v1.0 <c>lcbench</c> surrogate (an ONNX network) run with ONNX Runtime: for an OpenML task, a
/// configuration and an epoch it predicts time, validation and test metrics as LCBench would have recorded them.
/// Inputs are raw (unscaled) values; the graph scales them itself.
/// </summary>
public sealed class YahpoLcbenchSurrogate : IDisposable
{
    /// <summary>The folder of the shared benchmark data holding <c>model.onnx</c> and <c>encoding.json</c>.</summary>
    public const string Folder = "yahpo_lcbench";

    /// <summary>The model's continuous inputs, in input order.</summary>
    public static IReadOnlyList<string> InputNames { get; } =
        ["epoch", "batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units", "max_dropout"];

    /// <summary>The model's outputs, in output order.</summary>
    public static IReadOnlyList<string> OutputNames { get; } =
        ["time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy", "test_cross_entropy", "test_balanced_accuracy"];

    private readonly InferenceSession _session;
    private readonly IReadOnlyDictionary<string, int> _taskCodes;

    /// <summary>Loads the model and task encoding from <paramref name="dataDirectory"/> (the shared benchmark data folder).</summary>
    public YahpoLcbenchSurrogate(string dataDirectory)
    {
        var folder = Path.Combine(dataDirectory, Folder);
        using (var encoding = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "encoding.json"))))
            _taskCodes = encoding.RootElement.GetProperty("OpenML_task_id").EnumerateObject()
                .Where(p => p.Name != "#na#").ToDictionary(p => p.Name, p => p.Value.GetInt32(), StringComparer.Ordinal);
        // One thread per run: the simulator runs seeds side by side, and small batches gain nothing from more.
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        _session = new InferenceSession(Path.Combine(folder, "model.onnx"), options);
    }

    /// <summary>The OpenML task ids the model knows.</summary>
    public IReadOnlyCollection<string> Tasks => _taskCodes.Keys.ToArray();

    /// <summary>The model's category code for an OpenML task id; throws naming an unknown task.</summary>
    public int TaskCode(string openmlTaskId) =>
        _taskCodes.TryGetValue(openmlTaskId, out var code) ? code
            : throw new ArgumentException($"yahpo-lcbench: unknown OpenML task id '{openmlTaskId}' (known: {string.Join(", ", _taskCodes.Keys.OrderBy(k => long.TryParse(k, out var id) ? id : long.MaxValue).ThenBy(k => k, StringComparer.Ordinal))})");

    /// <summary>
    /// Predicts <see cref="OutputNames"/> for rows of <see cref="InputNames"/> (row-major, 8 floats a row), all for task
    /// code <paramref name="taskCode"/>; returns 6 floats a row.
    /// </summary>
    public float[] Predict(int taskCode, ReadOnlySpan<float> inputs)
    {
        if (inputs.Length % InputNames.Count != 0) throw new ArgumentException($"inputs: {inputs.Length} floats is not a whole number of rows of {InputNames.Count}");
        var rows = inputs.Length / InputNames.Count;
        var cat = new DenseTensor<int>(Enumerable.Repeat(taskCode, rows).ToArray(), [rows, 1]);
        var cont = new DenseTensor<float>(inputs.ToArray(), [rows, InputNames.Count]);
        NamedOnnxValue[] feeds = [NamedOnnxValue.CreateFromTensor("x_cat", cat), NamedOnnxValue.CreateFromTensor("x_cont", cont)];
        // InferenceSession.Run is safe to call from several threads at once.
        using var results = _session.Run(feeds);
        return results.First().AsEnumerable<float>().ToArray();
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
