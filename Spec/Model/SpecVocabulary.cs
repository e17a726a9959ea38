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

    /// <summary>Largest <c>fault.max_restarts</c>.</summary>
    public const int MaxRestarts = 100;

    /// <summary>Largest <c>fault.restart_backoff_seconds</c> (one hour).</summary>
    public const double MaxRestartBackoffSeconds = 3600;
}
