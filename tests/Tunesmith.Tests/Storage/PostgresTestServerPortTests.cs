using Xunit;

namespace Tunesmith.Tests.Storage;

public sealed class PostgresTestServerPortTests
{
    [Fact]
    public void A_private_server_port_lies_outside_the_source_port_range_and_is_free()
    {
        var (low, high) = PostgresTestServer.EphemeralPortRange();
        for (var i = 0; i < 20; i++)
        {
            var port = PostgresTestServer.PrivateServerPort();
            Assert.True(port < low || port > high, $"{port} is inside {low}..{high}");
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
        }
    }
}
