namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The cumulative <see cref="SynchronizerStats"/> at one moment; the difference of two is what one
/// step moved and spent (its allreduce bytes, codec and transfer seconds, compression ratio).
/// </summary>
internal readonly record struct SyncSnapshot(long BytesSent, long BytesReceived, long UncompressedBytes, long EncodedBytes,
    double CompressionSeconds, double CommunicationSeconds, double HiddenSeconds = 0)
{
    /// <summary>Copies the counters of <paramref name="stats"/> now.</summary>
    public static SyncSnapshot Of(SynchronizerStats stats) => new(stats.BytesSent, stats.BytesReceived,
        stats.UncompressedBytes, stats.EncodedBytes, stats.CompressionSeconds, stats.CommunicationSeconds, stats.HiddenSeconds);

    /// <summary>fp32 size over wire size of the gradients counted (1 when none were).</summary>
    public double CompressionRatio => EncodedBytes > 0 ? (double)UncompressedBytes / EncodedBytes : 1;

    /// <summary>What happened between <paramref name="earlier"/> and <paramref name="later"/>.</summary>
    public static SyncSnapshot operator -(SyncSnapshot later, SyncSnapshot earlier) => new(
        later.BytesSent - earlier.BytesSent, later.BytesReceived - earlier.BytesReceived,
        later.UncompressedBytes - earlier.UncompressedBytes, later.EncodedBytes - earlier.EncodedBytes,
        later.CompressionSeconds - earlier.CompressionSeconds, later.CommunicationSeconds - earlier.CommunicationSeconds,
        later.HiddenSeconds - earlier.HiddenSeconds);
}
