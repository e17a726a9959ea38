namespace Orchestrator.Trainer.Collectives;

/// <summary>Cumulative allreduce traffic and time of one worker.</summary>
public sealed class SynchronizerStats
{
    /// <summary>Bytes this worker sent (payload, excluding MPI headers).</summary>
    public long BytesSent { get; set; }

    /// <summary>Bytes this worker received.</summary>
    public long BytesReceived { get; set; }

    /// <summary>fp32 bytes of the gradients averaged (4 per value per step).</summary>
    public long UncompressedBytes { get; set; }

    /// <summary>Bytes of the same gradients in their wire encodings.</summary>
    public long EncodedBytes { get; set; }

    /// <summary>Bytes copied between the training device and the host while averaging buckets where they live (the
    /// device path: encodings on their way to and from the wire); 0 on the host path.</summary>
    public long HostTransferBytes { get; set; }

    /// <summary>Seconds spent encoding and decoding.</summary>
    public double CompressionSeconds { get; set; }

    /// <summary>Seconds spent moving bytes (waiting on the network included).</summary>
    public double CommunicationSeconds { get; set; }

    /// <summary>Of <see cref="CompressionSeconds"/> + <see cref="CommunicationSeconds"/>, the seconds that ran on the
    /// communication thread while the backward still ran (<c>compression.overlap</c>), so the step did not wait for them.</summary>
    public double HiddenSeconds { get; set; }

    /// <summary>Steps in which some bucket started averaging during the backward.</summary>
    public long OverlappedSteps { get; set; }

    /// <summary>Steps synchronized.</summary>
    public long Steps { get; set; }

    /// <summary>Steps every worker skipped together because some gradient was not finite.</summary>
    public long SkippedSteps { get; set; }

    /// <summary>fp32 size over encoded size of the gradients (1 without compression).</summary>
    public double CompressionRatio => EncodedBytes > 0 ? (double)UncompressedBytes / EncodedBytes : 1;
}
