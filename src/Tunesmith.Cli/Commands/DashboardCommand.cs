using System.CommandLine;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tunesmith.Cli.Internal;
using Tunesmith.Dashboard;
using Tunesmith.Storage;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith dashboard [--storage URL] [--host 127.0.0.1] [--port 8080] [--token T]</c>: the live web dashboard, read-only.</summary>
internal sealed class DashboardCommand : Command
{
    /// <summary>The environment variable that may hold the token instead of <c>--token</c> (which other users can see in ps).</summary>
    public const string TokenVariable = "TUNESMITH_DASHBOARD_TOKEN";

    private const string HostLogCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<string> _host = new("--host") { Description = "Address to listen on (0.0.0.0 for every interface: use --token then)", DefaultValueFactory = _ => "127.0.0.1", HelpName = "ADDRESS" };
    private readonly Option<int> _port = new("--port") { Description = "Port to listen on (0: any free port)", DefaultValueFactory = _ => 8080, HelpName = "PORT" };
    private readonly Option<string?> _token = new("--token") { Description = $"Require this token on every request (?token=, header X-Tunesmith-Token, or the cookie a page sets); also ${TokenVariable}", HelpName = "TOKEN" };

    public DashboardCommand(CliConsole console, TimeProvider time) : base("dashboard", "Serve a live, read-only web dashboard of every study in a storage")
    {
        _console = console;
        _time = time;
        Options.Add(_storage);
        Options.Add(_host);
        Options.Add(_port);
        Options.Add(_token);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        if (url.Trim() is "memory:" or "memory://" or ":memory:")
            throw new CliUsageException($"--storage {url}: an in-memory storage is this process's own, so the dashboard would always be empty; name the storage the studies are in (sqlite:///PATH.db or postgresql://...)");
        var fromFlag = parse.GetValue(_token) is { Length: > 0 };
        var token = fromFlag ? parse.GetValue(_token) : _console.GetEnvironment(TokenVariable) is { Length: > 0 } e ? e : null;
        // The options name --token in their check; a token from the environment is named as such.
        if (!fromFlag && token is { Length: < 8 }) throw new CliUsageException($"${TokenVariable}: must be at least 8 characters");
        var options = new DashboardOptions { StorageUrl = url, Host = parse.GetValue(_host)!, Port = parse.GetValue(_port), Token = token };
        // A storage that cannot be read (a wrong PostgreSQL password, a server that is down) stops the start in one line,
        // as it stops every other command, instead of a dashboard whose every page answers 503. One that holds no
        // studies yet is fine: a study created later appears.
        await using (var probe = StudyStorage.OpenReadOnly(url, _time, loggerFactory: null))
        {
            try { await probe.ListStudiesAsync(ct); }
            catch (StudyStorageException empty) when (empty.HoldsNoStudies) { }
        }
        // The entry point's clock replaces the host's default one (registered last, it is the one resolved).
        await using var app = DashboardHost.Build(options, configure: b =>
        {
            b.Services.AddSingleton(_time);
            // A failed start is told below in one line; the host would also log it with its stack trace on stdout.
            b.Logging.AddFilter(HostLogCategory, LogLevel.None);
        });
        try
        {
            await app.StartAsync(ct);
        }
        // Address in use (IOException), or an address this machine does not have (SocketException).
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new CliUsageException($"--host {options.Host} --port {options.Port}: cannot listen there ({ErrorLine.OneLine(ex.Message)})");
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? DashboardHost.Url(options.Host, options.Port);
        if (token is null && !(options.Host == "localhost" || (System.Net.IPAddress.TryParse(options.Host, out var ip) && System.Net.IPAddress.IsLoopback(ip))))
            _console.Error.WriteLine($"tunesmith: warning: --host {options.Host} without a token: anyone who can reach {address} can read every study; give --token or ${TokenVariable}");
        _console.Out.WriteLine($"dashboard: {address}/{(token is null ? "" : "?token=" + Uri.EscapeDataString(token))}");
        _console.Out.WriteLine($"reading {StorageUrl.Shown(url)} read-only; Ctrl+C stops");
        await _console.Out.FlushAsync(ct);
        await app.WaitForShutdownAsync(ct);
        return ExitCodes.Ok;
    }
}
