using Orchestrator.Trainer.Data;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// Settings of <see cref="SyntheticCalibration"/>. The defaults fit the example models on Fashion-MNIST (1 x 28 x 28
/// inputs); a caller that knows the dataset passes its shape and channel statistics.
/// </summary>
public sealed record SyntheticCalibrationOptions
{
    /// <summary>Adam steps per batch of images.</summary>
    public int Steps { get; init; } = 200;

    /// <summary>Adam's learning rate on the pixels (the images start at N(0, 1), the scale of normalized data).</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>Images optimised together: the batch whose statistics are matched to the running ones.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Channels of a model input.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Height of a model input in pixels.</summary>
    public int Height { get; init; } = 28;

    /// <summary>Width of a model input in pixels.</summary>
    public int Width { get; init; } = 28;

    /// <summary>The dataset's channel statistics, to turn images back into pixels for the picture; null: each image
    /// is stretched to its own minimum and maximum.</summary>
    public ChannelStats? PixelStats { get; init; }

    /// <summary>How many of the first images the picture shows (0: no picture).</summary>
    public int GridImages { get; init; } = 64;

    /// <summary>The options for inputs shaped like <paramref name="dataset"/>'s images.</summary>
    public static SyntheticCalibrationOptions For(TensorDataset dataset, ChannelStats? pixelStats) =>
        new() { Channels = dataset.Channels, Height = dataset.Height, Width = dataset.Width, PixelStats = pixelStats };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a setting out of range.</summary>
    internal void Check()
    {
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "need at least one step");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be positive and finite");
        if (BatchSize < 2) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch statistics need at least 2 images");
        if (Channels < 1 || Height < 1 || Width < 1)
            throw new ArgumentOutOfRangeException(nameof(Channels), $"{Channels}x{Height}x{Width}", "the input shape must be positive");
        if (PixelStats is not null && PixelStats.Mean.Length != Channels)
            throw new ArgumentException($"{nameof(PixelStats)} has {PixelStats.Mean.Length} channels, the inputs {Channels}", nameof(PixelStats));
        if (GridImages < 0) throw new ArgumentOutOfRangeException(nameof(GridImages), GridImages, "must not be negative");
    }
}
