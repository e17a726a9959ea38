namespace Orchestrator.Spec;

/// <summary>
/// The numeric limits of the job spec. (The choices are typed values in <c>SpecChoices.cs</c>, their names in
/// <see cref="SpecNames"/>, the N:M range in <see cref="NmPattern"/>.)
/// </summary>
public static class SpecVocabulary
{
    /// <summary>Smallest image side (pixels) the models accept; mixed sizes below it are rejected.</summary>
    public const int MinImageSize = 8;

    /// <summary>Largest TCP port (<c>metrics.port</c>).</summary>
    public const int MaxPort = 65535;

    /// <summary>Most data-parallel workers a job may ask for.</summary>
    public const int MaxWorkers = 1024;

    /// <summary>Largest gradient bucket (<c>compression.bucket_mb</c>), in MB.</summary>
    public const double MaxBucketMb = 1024;

    /// <summary>Largest <c>compression.rank</c> of powersgd (the paper uses 1-4; beyond 64 a factor pair of a typical layer
    /// costs about as much as the layer's fp32 gradient, and such matrices are averaged uncompressed anyway).</summary>
    public const int MaxPowerSgdRank = 64;

    /// <summary>Largest <c>placement.ranks_per_node</c> (a node with many GPUs, or one rank per core of a large CPU node).</summary>
    public const int MaxRanksPerNode = 256;

    /// <summary>Largest <c>fault.max_restarts</c>.</summary>
    public const int MaxRestarts = 100;

    /// <summary>Largest <c>fault.restart_backoff_seconds</c> (one hour).</summary>
    public const double MaxRestartBackoffSeconds = 3600;

    /// <summary>
    /// Largest <c>model.width</c>. The reference models use 16-64 (a wide ResNet's first stage 160); 1024 gives a
    /// resnet44 of about 2 billion parameters, far past any machine here, so a larger value is a typo.
    /// </summary>
    public const int MaxWidth = 1024;

    /// <summary>Largest <c>training.global_batch</c> (2^16; the large-batch literature goes to 32k-64k, and the datasets here hold 50-60k samples).</summary>
    public const int MaxGlobalBatch = 65536;

    /// <summary>Largest <c>training.batch_augmentation</c> M (the method uses 2-32 copies).</summary>
    public const int MaxBatchAugmentation = 64;

    /// <summary>
    /// Largest <c>data.augment.crop_padding</c> and <c>data.augment.cutout</c>, in pixels. The image size is not known
    /// here (it comes with the dataset), so a fixed bound: twice the largest image side (CIFAR-10's 32).
    /// </summary>
    public const int MaxAugmentPixels = 64;

    /// <summary>Largest image side of <c>training.mixed_size.sizes</c> (8x CIFAR-10's 32).</summary>
    public const int MaxImageSize = 256;

    /// <summary><c>training.threads</c> may be at most this many per core of the machine validating the spec.</summary>
    public const int ThreadsPerCore = 4;
}
