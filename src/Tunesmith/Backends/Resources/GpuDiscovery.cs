using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Tunesmith.Backends.Resources;

/// <summary>The GPUs found for a local pool, and where they came from.</summary>
/// <param name="Gpus">Device ids as CUDA_VISIBLE_DEVICES spells them.</param>
/// <param name="Source">"--gpus", "CUDA_VISIBLE_DEVICES", "nvidia-smi" or "none".</param>
public sealed record GpuDiscoveryResult(IReadOnlyList<string> Gpus, string Source);

/// <summary>
/// Finds the GPUs a local pool may hand out: an explicit list (<c>--gpus 0,1,2,3</c>), else CUDA_VISIBLE_DEVICES, else
/// <c>nvidia-smi -L</c> when it is installed, else none. Ids stay strings (indices, GPU-/MIG- UUIDs) and reach trials as
/// CUDA_VISIBLE_DEVICES.
/// </summary>
public static partial class GpuDiscovery
{
    /// <summary>
    /// Discovers GPUs. <paramref name="environment"/> reads a variable (default the process environment);
    /// <paramref name="listGpus"/> returns the output of <c>nvidia-smi -L</c> or null (default: runs it when on PATH).
    /// </summary>
    public static async Task<GpuDiscoveryResult> DiscoverAsync(string? explicitList = null, Func<string, string?>? environment = null,
        Func<CancellationToken, Task<string?>>? listGpus = null, CancellationToken cancellationToken = default)
    {
        if (explicitList is not null) return new(ParseList(explicitList), "--gpus");
        environment ??= Environment.GetEnvironmentVariable;
        if (environment("CUDA_VISIBLE_DEVICES") is { } visible) return new(ParseList(visible), "CUDA_VISIBLE_DEVICES");
        var output = await (listGpus ?? RunNvidiaSmiAsync)(cancellationToken).ConfigureAwait(false);
        if (output is not null)
        {
            var gpus = ParseNvidiaSmiList(output);
            if (gpus.Count > 0) return new(gpus, "nvidia-smi");
        }
        return new([], "none");
    }

    /// <summary>Parses a comma-separated device list (<c>0,1, 2</c>); empty, <c>-1</c> and <c>NoDevFiles</c> mean none.</summary>
    public static IReadOnlyList<string> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (items.Length == 1 && items[0] is "-1" or "NoDevFiles") return [];
        // CUDA stops reading the list at the first id it cannot parse, so a typo would quietly hide every GPU after it.
        if (items.FirstOrDefault(x => !DeviceId().IsMatch(x)) is { } bad)
            throw new FormatException($"GPU list '{text}': '{bad}' is not a GPU index (0, 1, …) or a GPU-/MIG- UUID");
        var dup = items.GroupBy(x => x, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new FormatException($"GPU list '{text}': device '{dup.Key}' is listed twice");
        return items;
    }

    /// <summary>
    /// Reads the devices of <c>nvidia-smi -L</c> output: one id per GPU (its index), or, for a GPU split into MIG
    /// instances, one per instance (its MIG UUID, which CUDA_VISIBLE_DEVICES accepts).
    /// </summary>
    public static IReadOnlyList<string> ParseNvidiaSmiList(string output)
    {
        var devices = new List<string>();
        string? gpu = null;
        var migs = new List<string>();
        void Flush()
        {
            if (gpu is null) return;
            if (migs.Count > 0) devices.AddRange(migs);
            else devices.Add(gpu);
            migs.Clear();
        }
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            if (GpuLine().Match(line) is { Success: true } g)
            {
                Flush();
                gpu = g.Groups[1].Value;
            }
            else if (gpu is not null && MigLine().Match(line) is { Success: true } m) migs.Add(m.Groups[1].Value);
        }
        Flush();
        return devices;
    }

    [GeneratedRegex(@"^(\d+|(GPU|MIG)-[0-9A-Za-z-]+)$")]
    private static partial Regex DeviceId();

    [GeneratedRegex(@"^GPU (\d+):")]
    private static partial Regex GpuLine();

    [GeneratedRegex(@"^MIG .*\(UUID: (MIG-[^)\s]+)\)")]
    private static partial Regex MigLine();

    private static async Task<string?> RunNvidiaSmiAsync(CancellationToken ct)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "nvidia-smi")).FirstOrDefault(File.Exists);
        if (path is null) return null;
        var psi = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-L");
        try
        {
            using var process = Process.Start(psi);
            if (process is null) return null;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            _ = process.StandardError.ReadToEndAsync(timeout.Token);
            try { await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                return null; // a hung driver: treat as no GPU rather than hang the run
            }
            return process.ExitCode == 0 ? await stdout.ConfigureAwait(false) : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
