using System.Net;
using System.Net.Sockets;

namespace Orchestrator.Tests.Observability;

/// <summary>Loopback ports that were free a moment ago, for servers a test starts.</summary>
internal static class FreePorts
{
    /// <summary>The first of <paramref name="count"/> consecutive ports that are all free now.</summary>
    public static int Consecutive(int count)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            var probes = new List<TcpListener>();
            try
            {
                var first = new TcpListener(IPAddress.Loopback, 0);
                first.Start();
                probes.Add(first);
                int port = ((IPEndPoint)first.LocalEndpoint).Port;
                if (port + count > IPEndPoint.MaxPort) continue;
                for (int i = 1; i < count; i++)
                {
                    var next = new TcpListener(IPAddress.Loopback, port + i);
                    next.Start();
                    probes.Add(next);
                }
                return port;
            }
            catch (SocketException)
            {
                // one of the following ports is taken: try another start
            }
            finally
            {
                foreach (var probe in probes) probe.Stop();
            }
        }
        throw new InvalidOperationException($"no {count} consecutive free loopback ports found");
    }

    /// <summary>Listens on <paramref name="port"/> so that nothing else can, until disposed.</summary>
    public static IDisposable Occupy(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return new Holder(listener);
    }

    private sealed class Holder(TcpListener listener) : IDisposable
    {
        public void Dispose() => listener.Stop();
    }
}
