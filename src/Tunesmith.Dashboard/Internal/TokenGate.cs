using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Tunesmith.Dashboard.Internal;

/// <summary>
/// With a token set, lets through only requests that carry it — as <c>?token=</c>, the <c>X-Tunesmith-Token</c> header
/// or the <c>tunesmith_token</c> cookie, which a page opened with <c>?token=</c> sets so that its own requests and event
/// stream carry it. Everything else gets 401 with a one-line reason.
/// </summary>
internal sealed class TokenGate(string? token)
{
    public const string HeaderName = "X-Tunesmith-Token";
    public const string CookieName = "tunesmith_token";
    private readonly byte[]? _token = token is null ? null : Encoding.UTF8.GetBytes(token);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (_token is null) { await next(context); return; }
        var fromQuery = context.Request.Query["token"].ToString();
        var presented = fromQuery.Length > 0 ? fromQuery
            : context.Request.Headers[HeaderName].ToString() is { Length: > 0 } h ? h
            : context.Request.Cookies[CookieName] ?? "";
        if (!Matches(presented))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(presented.Length == 0
                ? "tunesmith dashboard: this dashboard needs its token (open it with ?token=...)\n"
                : "tunesmith dashboard: wrong token\n");
            return;
        }
        if (fromQuery.Length > 0)
            context.Response.Cookies.Append(CookieName, fromQuery, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", IsEssential = true });
        await next(context);
    }

    private bool Matches(string presented) =>
        presented.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _token);
}
