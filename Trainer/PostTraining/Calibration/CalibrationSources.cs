using Orchestrator.Spec;
using Orchestrator.Trainer.Data;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>The <c>--calibration</c> names and the source each builds (real data needs the run's training split).</summary>
public static class CalibrationSources
{
    private static readonly Dictionary<string, Func<Func<TensorDataset>, ICalibrationSource>> Factories = new()
    {
        ["real"] = train => new RealCalibration(train()),
    };

    /// <summary>The names a user may give.</summary>
    public static IReadOnlyList<string> Names => [.. Factories.Keys, .. Pending.Keys];

    /// <summary>Sources named on the command line whose implementation is not in this build.</summary>
    private static readonly Dictionary<string, string> Pending = new()
    {
        ["synthetic"] = "data-free calibration (ALGORITHMS.md section 10) is not in this build yet; use --calibration real",
    };

    /// <summary>The source called <paramref name="name"/>; <paramref name="trainSplit"/> is called only by sources that read data.</summary>
    /// <exception cref="UserFacingException">An unknown name, or one not available in this build.</exception>
    public static ICalibrationSource Create(string name, Func<TensorDataset> trainSplit)
    {
        var key = name.Trim().ToLowerInvariant();
        if (Factories.TryGetValue(key, out var factory)) return factory(trainSplit);
        if (Pending.TryGetValue(key, out var why)) throw new UserFacingException($"--calibration {key}: {why}");
        throw new UserFacingException($"--calibration: unknown source '{name}'; expected one of {string.Join(", ", Names)}");
    }
}
