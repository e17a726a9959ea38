namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Whether a rank tells UCX (MPICH's ch4 netmod, which carries the traffic between nodes) to send every message eagerly,
/// <c>UCX_RNDV_THRESH=inf</c>, and why. Pure logic; <see cref="Native.UcxEnvironment"/> applies the answer before MPI starts.
/// </summary>
/// <remarks>
/// Above its rendezvous threshold UCX first sends a request to send, and the data moves only after the receiver's progress
/// engine has answered and the sender's has seen the answer. With <c>compression.overlap</c> the communication thread
/// shares its core with the backward, so each of those handshakes waits for a scheduler slot: across a 100 Mbit/s link
/// the example CNN's 1.7 MB of gradients took 156-171 ms while the backward ran against 143 ms alone, and MPICH's
/// <c>MPI_Iallreduce</c> was slower still (bench/results/large-batch-throughput.md). Sent eagerly, the bytes go into the
/// kernel's socket buffers at once and keep moving while the thread sleeps: 143-145 ms, as alone. Over TCP the
/// rendezvous buys nothing (there is no zero-copy to set up); over RDMA transports it does (a copy saved per message),
/// so the threshold is changed only where UCX can use nothing but TCP between nodes, and never against a value the
/// site set.
/// </remarks>
public static class UcxRendezvousPolicy
{
    /// <summary>The variable UCX reads its rendezvous threshold from.</summary>
    public const string Variable = "UCX_RNDV_THRESH";

    /// <summary>The threshold that makes every message eager.</summary>
    public const string Eager = "inf";

    // UCX transports that stay inside a node or are TCP: with only these named, the traffic between nodes is TCP.
    private static readonly HashSet<string> TcpOrLocal = new(StringComparer.OrdinalIgnoreCase)
    {
        "tcp", "self", "sm", "shm", "posix", "sysv", "cma", "knem", "xpmem",
    };

    /// <summary>
    /// The rendezvous threshold to set, or null to leave UCX's own choice.
    /// </summary>
    /// <param name="threshold">The <c>UCX_RNDV_THRESH</c> already in the environment, if any: it always wins.</param>
    /// <param name="transports">The <c>UCX_TLS</c> in the environment, if any.</param>
    /// <param name="rdmaDevices">Whether this machine has RDMA devices (<c>/sys/class/infiniband</c> lists some).</param>
    public static string? ThresholdFor(string? threshold, string? transports, bool rdmaDevices)
    {
        if (!string.IsNullOrWhiteSpace(threshold)) return null;
        var named = (transports ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        // No list, "all", or an exclusion list ("^ib"): UCX picks among what the machine has, so the devices decide.
        bool listsTransports = named.Length > 0 && !named[0].StartsWith('^') && !named.Contains("all", StringComparer.OrdinalIgnoreCase);
        bool tcpOnly = listsTransports ? named.All(TcpOrLocal.Contains) : !rdmaDevices;
        return tcpOnly ? Eager : null;
    }
}
