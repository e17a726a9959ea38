using System.Diagnostics;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// What allreduces cost, accumulated over calls (the caller resets or diffs it per step): the bytes
/// this rank sent and received, and wall time split into communication and codec work, so the
/// trainer's metrics can split a step into compute, compression and communication.
/// </summary>
public sealed class AllreduceStats
{
    /// <summary>Allreduce calls counted.</summary>
    public long Calls { get; private set; }
    /// <summary>Payload bytes this rank sent (for MPI's own collectives, the bandwidth-optimal count; see each algorithm).</summary>
    public long BytesSent { get; private set; }
    /// <summary>Payload bytes this rank received.</summary>
    public long BytesReceived { get; private set; }
    /// <summary>Seconds inside communication calls (includes waiting for slower ranks).</summary>
    public double CommunicationSeconds { get; private set; }
    /// <summary>Seconds encoding, decoding and averaging.</summary>
    public double CodecSeconds { get; private set; }

    /// <summary>Zeroes every counter.</summary>
    public void Reset()
    {
        Calls = BytesSent = BytesReceived = 0;
        CommunicationSeconds = CodecSeconds = 0;
    }

    internal void AddCall() => Calls++;

    internal void AddTraffic(long sent, long received)
    {
        BytesSent += sent;
        BytesReceived += received;
    }

    /// <summary>Adds the time since <paramref name="start"/> (a <see cref="Stopwatch.GetTimestamp"/>) to communication; returns now.</summary>
    internal long AddCommunication(long start)
    {
        long now = Stopwatch.GetTimestamp();
        CommunicationSeconds += (now - start) / (double)Stopwatch.Frequency;
        return now;
    }

    /// <summary>Adds the time since <paramref name="start"/> to codec work; returns now.</summary>
    internal long AddCodec(long start)
    {
        long now = Stopwatch.GetTimestamp();
        CodecSeconds += (now - start) / (double)Stopwatch.Frequency;
        return now;
    }
}
