using System.Net.Sockets;
using Orchestrator.Tests.Observability;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>Debian's <c>redis-server</c> on a free loopback port, no persistence, its files in the test's directory. Dispose kills it.</summary>
internal sealed class RedisServer : IDisposable
{
    public const string Binary = "/usr/bin/redis-server";

    private readonly BackgroundProcess process;

    private RedisServer(BackgroundProcess process, int port)
    {
        this.process = process;
        Port = port;
    }

    /// <summary>Whether redis-server is installed here (the cluster tests are skipped without it; CI installs it).</summary>
    public static bool IsInstalled => File.Exists(Binary);

    public int Port { get; }

    /// <summary><c>127.0.0.1:PORT</c>, as <c>cluster.redis</c> and <c>--redis</c> take it.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Starts the server in <paramref name="directory"/> and waits until it accepts connections.</summary>
    public static RedisServer Start(string directory, int? onPort = null)
    {
        var port = onPort ?? FreePorts.Consecutive(1);
        var process = BackgroundProcess.Start(Binary,
            ["--bind", "127.0.0.1", "--port", $"{port}", "--save", "", "--appendonly", "no", "--dir", directory],
            "apt-get install redis-server");
        var server = new RedisServer(process, port);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                server.Dispose();
                Assert.Fail($"redis-server exited at start:\n{process.Output}");
            }
            try
            {
                using var client = new TcpClient();
                client.Connect("127.0.0.1", port);
                return server;
            }
            catch (SocketException) { Thread.Sleep(100); }
        }
        server.Dispose();
        throw new TimeoutException($"redis-server not listening on {port} after 20 s:\n{process.Output}");
    }

    /// <summary>SIGKILLs this server and starts an empty one on the same port (what a Redis without persistence does on a crash).</summary>
    public RedisServer RestartEmpty(string directory)
    {
        process.Dispose();
        return Start(directory, Port);
    }

    public void Dispose() => process.Dispose();

    /// <summary>Why a test that needs Redis is skipped here; null where it is installed.</summary>
    public static string? SkipReason => IsInstalled ? null
        : $"{Binary} is not installed: apt-get install redis-server (CI installs it in .ci/run; ./orchestrator test too)";
}

/// <summary>A fact that needs a real <c>redis-server</c>: skipped, saying why, only where it is not installed.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute() => Skip = RedisServer.SkipReason;
}

/// <summary>A theory that needs a real <c>redis-server</c>: skipped, saying why, only where it is not installed.</summary>
public sealed class RedisTheoryAttribute : TheoryAttribute
{
    public RedisTheoryAttribute() => Skip = RedisServer.SkipReason;
}
