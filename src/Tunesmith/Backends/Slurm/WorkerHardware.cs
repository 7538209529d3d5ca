using System.Globalization;

namespace Tunesmith.Backends.Slurm;

/// <summary>What a worker advertises about its hardware, recorded on each trial it runs (so reports can group by it).</summary>
public static class WorkerHardware
{
    /// <summary>
    /// One line such as <c>cpus=16 gpus=1 gpu_model=NVIDIA A100-SXM4-80GB gpu_memory_mib=81920</c>: the CPUs of the job
    /// (<c>SLURM_CPUS_ON_NODE</c>, else the machine's), the GPUs it may use (<c>CUDA_VISIBLE_DEVICES</c>) and, when
    /// <c>nvidia-smi</c> answers, their model and memory.
    /// </summary>
    public static string Describe(Func<string, string?> getEnvironment, Func<string?>? queryGpus = null)
    {
        ArgumentNullException.ThrowIfNull(getEnvironment);
        var cpus = int.TryParse(getEnvironment("SLURM_CPUS_ON_NODE"), NumberStyles.None, CultureInfo.InvariantCulture, out var c) ? c : Environment.ProcessorCount;
        var visible = getEnvironment("CUDA_VISIBLE_DEVICES") is { Length: > 0 } v ? v.Split(',', StringSplitOptions.RemoveEmptyEntries).Length : 0;
        var line = string.Create(CultureInfo.InvariantCulture, $"cpus={cpus} gpus={visible}");
        if (visible > 0 && (queryGpus ?? QueryNvidiaSmi)() is { Length: > 0 } csv)
        {
            var first = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()?.Split(',');
            if (first is { Length: >= 2 })
                line += $" gpu_model={first[0].Trim()} gpu_memory_mib={first[1].Trim().Split(' ')[0]}";
        }
        return line;
    }

    // nvidia-smi --query-gpu=name,memory.total: "NVIDIA A100-SXM4-80GB, 81920 MiB"; null when there is none.
    private static string? QueryNvidiaSmi()
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("nvidia-smi")
            {
                ArgumentList = { "--query-gpu=name,memory.total", "--format=csv,noheader" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (p is null) return null;
            var output = p.StandardOutput.ReadToEnd();
            return p.WaitForExit(10_000) && p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
