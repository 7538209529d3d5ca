using Microsoft.Playwright;
using Xunit;

namespace Tunesmith.Dashboard.Tests;

/// <summary>
/// Debian's Chromium driven by Playwright. Playwright never downloads a browser here: it launches /usr/bin/chromium
/// (override with TUNESMITH_CHROMIUM). Without it the browser tests skip, except under CI=true, where they fail.
/// </summary>
public static class Browser
{
    public static string ExecutablePath => Environment.GetEnvironmentVariable("TUNESMITH_CHROMIUM") is { Length: > 0 } p ? p : "/usr/bin/chromium";

    private static readonly string[] Args =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    private static bool UnderCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Skips (CI unset) or fails (CI=true) when Chromium is missing.</summary>
    public static void Require()
    {
        if (File.Exists(ExecutablePath)) return;
        var why = $"{ExecutablePath} not found (apt-get install chromium)";
        if (UnderCi) throw new InvalidOperationException($"browser tests need Chromium under CI=true: {why}");
        Skip.If(true, why + "; skipped because CI is unset (under CI=true this fails)");
    }

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        Require();
        // Never let a Playwright install step fetch browsers.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = Args,
            Timeout = 60_000,
        });
        return (playwright, browser);
    }

    /// <summary>Where screenshots go: TUNESMITH_SCREENSHOTS (docs/screenshots when regenerating them), else nowhere.</summary>
    public static string? ScreenshotPath(string name) =>
        Environment.GetEnvironmentVariable("TUNESMITH_SCREENSHOTS") is { Length: > 0 } dir ? Path.Combine(dir, name) : null;
}
