namespace Tunesmith.Dashboard;

/// <summary>
/// Runs the dashboard on its own: <c>Tunesmith.Dashboard --storage URL [--host H] [--port P] [--token T]</c>. Users run
/// it as <c>tunesmith dashboard</c>; this entry point lets tests host it with WebApplicationFactory.
/// </summary>
public sealed class DashboardProgram
{
    private DashboardProgram() { }

    /// <summary>Parses the arguments and runs until stopped.</summary>
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new DashboardOptions();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options = args[i] switch
            {
                "--storage" => options with { StorageUrl = args[i + 1] },
                "--host" => options with { Host = args[i + 1] },
                "--port" => options with { Port = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) },
                "--token" => options with { Token = args[i + 1] },
                _ => options,
            };
        }
        // A test host (WebApplicationFactory) may set "storage" and "token" as configuration instead.
        await using var app = DashboardHost.Build(options, args: args);
        await app.RunAsync();
        return 0;
    }
}
