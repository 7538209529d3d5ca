using System.Net;

namespace Tunesmith.Dashboard;

/// <summary>Settings of the dashboard: which storage it reads, where it listens, and the access token.</summary>
public sealed record DashboardOptions
{
    /// <summary>The storage URL to read (opened read-only). Default <c>sqlite:///tunesmith.db</c>.</summary>
    public string StorageUrl { get; init; } = Storage.StudyStorage.DefaultUrl;

    /// <summary>The address to listen on. Default 127.0.0.1 (this machine only): anything wider needs a deliberate choice.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The port to listen on (0: any free port). Default 8080.</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every request (pages, API, events) must carry it: <c>?token=</c>, the <c>X-Tunesmith-Token</c> header or the cookie a page sets.</summary>
    public string? Token { get; init; }

    /// <summary>
    /// How often a study with an open page is read for changes (new trials reach the browser within about this). When
    /// nothing changed a read is one indexed lookup. Default 100 ms.
    /// </summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Checks the options; throws <see cref="ArgumentException"/> naming the setting and value.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(StorageUrl)) throw new ArgumentException("--storage: must not be empty", nameof(StorageUrl));
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port {Port}: must be between 0 and 65535", nameof(Port));
        if (string.IsNullOrWhiteSpace(Host) || (Host != "localhost" && !IPAddress.TryParse(Host, out _)))
            throw new ArgumentException($"--host {Host}: must be an IP address (127.0.0.1, 0.0.0.0, ::1) or localhost", nameof(Host));
        if (Token is not null && Token.Length < 8) throw new ArgumentException("--token: must be at least 8 characters", nameof(Token));
        if (PollInterval <= TimeSpan.Zero || PollInterval > TimeSpan.FromSeconds(10))
            throw new ArgumentException($"poll interval {PollInterval}: must be in (0, 10 s]", nameof(PollInterval));
    }
}
