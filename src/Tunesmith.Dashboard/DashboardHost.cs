using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tunesmith.Dashboard.Internal;
using Tunesmith.Reporting.Html;
using Tunesmith.Reporting.Plots;
using Tunesmith.Storage;

namespace Tunesmith.Dashboard;

/// <summary>
/// The Tunesmith dashboard: a read-only web view of every study in one storage — studies, trials, plots and logs —
/// updated live by server-sent events from incremental storage reads. Build it with <see cref="Build"/> and run it; the
/// <c>tunesmith dashboard</c> command does that.
/// </summary>
public static class DashboardHost
{
    internal static readonly JsonSerializerOptions Json = CreateJson();

    /// <summary>
    /// Builds the web application. The storage is opened read-only from <see cref="DashboardOptions.StorageUrl"/> unless
    /// <paramref name="storage"/> is given. Pages and scripts come from the assembly, the content root is the install
    /// directory, so the current directory does not matter.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid options or storage URL (one line).</exception>
    public static WebApplication Build(DashboardOptions options, IStudyStorage? storage = null, string[]? args = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args ?? [],
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = typeof(DashboardHost).Assembly.GetName().Name,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(Url(options.Host, options.Port));
        // Configuration (command line, environment, a test host's settings) may override the storage and the token.
        builder.Services.AddSingleton(sp => WithConfiguration(options, sp.GetRequiredService<IConfiguration>()));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp =>
        {
            var effective = sp.GetRequiredService<DashboardOptions>();
            return new StudyFeed(storage ?? StudyStorage.OpenReadOnly(effective.StorageUrl), sp.GetRequiredService<TimeProvider>(), effective);
        });
        builder.Services.AddSingleton(sp => new TokenGate(sp.GetRequiredService<DashboardOptions>().Token));
        configure?.Invoke(builder);

        var app = builder.Build();
        // Open the storage now, so that a bad URL or a missing file stops the start with its one-line reason.
        var feed = app.Services.GetRequiredService<StudyFeed>();
        if (storage is null) app.Lifetime.ApplicationStopped.Register(() => feed.Storage.DisposeAsync().AsTask().GetAwaiter().GetResult());
        app.Lifetime.ApplicationStarted.Register(() => _ = WarmQuietlyAsync(feed, app.Lifetime.ApplicationStopping));
        var gate = app.Services.GetRequiredService<TokenGate>();
        app.Use((context, next) => gate.InvokeAsync(context, next));
        app.Use(async (context, next) =>
        {
            try { await next(context); }
            catch (Exception e) when (e is StudyStorageException or ArgumentException && !context.Response.HasStarted)
            {
                context.Response.StatusCode = e is ArgumentException ? StatusCodes.Status400BadRequest : StatusCodes.Status503ServiceUnavailable;
                await context.Response.WriteAsJsonAsync(new { error = e.Message.Split('\n')[0] }, Json);
            }
        });
        DashboardEndpoints.Map(app);
        return app;
    }

    private static async Task WarmQuietlyAsync(StudyFeed feed, CancellationToken ct)
    {
        // Only a head start: a page asking first simply waits for the same reads.
        try { await feed.WarmAsync(ct).ConfigureAwait(false); }
        catch (Exception e) when (e is StudyStorageException or OperationCanceledException or ObjectDisposedException) { }
    }

    private static DashboardOptions WithConfiguration(DashboardOptions options, IConfiguration configuration)
    {
        if (configuration["storage"] is { Length: > 0 } storage) options = options with { StorageUrl = storage };
        if (configuration["token"] is { Length: > 0 } token) options = options with { Token = token };
        options.Validate();
        return options;
    }

    /// <summary>The address the dashboard listens on, as a URL.</summary>
    public static string Url(string host, int port) =>
        $"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port.ToString(CultureInfo.InvariantCulture)}";

    private static JsonSerializerOptions CreateJson()
    {
        // Exact numbers in the API (the plots' compact numbers are for drawing only).
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        o.Converters.Add(new JsonStringEnumConverter());
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
