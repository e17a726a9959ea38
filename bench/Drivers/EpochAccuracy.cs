namespace Orchestrator.Bench.Drivers;

/// <summary>Test accuracy after a training epoch, and the training seconds spent up to its end (evaluation excluded).</summary>
public sealed record EpochAccuracy(int Epoch, double TrainSeconds, double TestAccuracy)
{
    /// <summary>Training seconds until the first epoch whose test accuracy reached <paramref name="target"/>; null when none did.</summary>
    public static double? SecondsTo(IReadOnlyList<EpochAccuracy> epochs, double target) =>
        epochs.FirstOrDefault(e => e.TestAccuracy >= target)?.TrainSeconds;
}
