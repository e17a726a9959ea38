using Orchestrator.Spec;
using Orchestrator.Trainer.Data;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>The <c>--calibration</c> names and the source each builds (real data needs the run's training split).</summary>
public static class CalibrationSources
{
    private static readonly Dictionary<string, Func<Func<TensorDataset>, SyntheticCalibrationOptions, ICalibrationSource>> Factories = new()
    {
        ["real"] = (train, _) => new RealCalibration(train()),
        ["synthetic"] = (_, synthetic) => new SyntheticCalibration(synthetic),
    };

    /// <summary>The names a user may give.</summary>
    public static IReadOnlyList<string> Names => [.. Factories.Keys];

    /// <summary>The source called <paramref name="name"/>; <paramref name="trainSplit"/> is called only by sources that read data.</summary>
    /// <param name="synthetic">Settings of data-free calibration (the model's input shape, the dataset's pixel statistics
    /// for the picture); its defaults when null.</param>
    /// <exception cref="UserFacingException">An unknown name.</exception>
    public static ICalibrationSource Create(string name, Func<TensorDataset> trainSplit, SyntheticCalibrationOptions? synthetic = null)
    {
        var key = name.Trim().ToLowerInvariant();
        if (Factories.TryGetValue(key, out var factory)) return factory(trainSplit, synthetic ?? new SyntheticCalibrationOptions());
        throw new UserFacingException($"--calibration: unknown source '{name}'; expected one of {string.Join(", ", Names)}");
    }
}
