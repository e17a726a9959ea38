using System.Globalization;
using System.Net;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>One listening TCP socket held by a process: its kernel inode (shared by processes that inherited it) and address.</summary>
internal sealed record ListeningSocket(int Pid, long Inode, IPAddress Address, int Port)
{
    public bool IsLoopback => IPAddress.IsLoopback(Address);
}

/// <summary>
/// The listening TCP sockets of given processes, read from /proc (no <c>ss</c> needed): /proc/net/tcp{,6} lists the
/// sockets in LISTEN state by inode, /proc/PID/fd links a process to the inodes it holds.
/// </summary>
internal static class ListeningSockets
{
    private const string Listen = "0A";

    public static List<ListeningSocket> Of(IEnumerable<int> pids)
    {
        var listening = new Dictionary<long, (IPAddress Address, int Port)>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 10 || f[3] != Listen) continue;
                var local = f[1].Split(':');
                listening[long.Parse(f[9], CultureInfo.InvariantCulture)] = (Address(local[0]), int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }
        var found = new List<ListeningSocket>();
        foreach (var pid in pids)
        {
            IEnumerable<string> fds;
            try { fds = Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").ToList(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var fd in fds)
            {
                string? target;
                try { target = new FileInfo(fd).LinkTarget; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal)) continue;
                var inode = long.Parse(target["socket:[".Length..^1], CultureInfo.InvariantCulture);
                if (listening.TryGetValue(inode, out var where)) found.Add(new ListeningSocket(pid, inode, where.Address, where.Port));
            }
        }
        return found;
    }

    /// <summary>/proc/net/tcp writes addresses as hex of the in-memory bytes, 32-bit words in host (little-endian) order.</summary>
    private static IPAddress Address(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        for (int word = 0; word < bytes.Length; word += 4) Array.Reverse(bytes, word, 4);
        return new IPAddress(bytes);
    }
}
