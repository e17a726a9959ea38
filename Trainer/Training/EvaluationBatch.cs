using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Rows per evaluation forward: as many as keep the model's largest activation below half of glibc's mmap threshold
/// (<see cref="HeapTuning.MmapThresholdBytes"/>), between 16 and 1000.
/// </summary>
/// <remarks>
/// Measured before <see cref="HeapTuning"/> turned mmap off: blocks above the threshold were mapped and unmapped on
/// every forward, and the kernel zeroed each page on first touch: at 1000 rows the example CNN's first evaluation took
/// 11.3 s (4.6 s of it system time, 650,000 page faults) instead of 2.9 s, one thread. The bound stays: a thread other
/// than the main one still gets large blocks mapped (its arena's heaps hold at most 64 MiB), and larger forwards are
/// no faster.
/// </remarks>
public static class EvaluationBatch
{
    /// <summary>The most rows per forward, whatever the model (more only lengthens the pauses between progress).</summary>
    public const int MaxRows = 1000;

    /// <summary>The fewest rows per forward: below this the per-call overhead dominates.</summary>
    public const int MinRows = 16;

    /// <param name="model">The model the spec builds.</param>
    /// <param name="channels">Input channels.</param>
    /// <param name="side">Input side (evaluation runs at the dataset's size).</param>
    public static int Rows(ModelSpec model, int channels, int side)
    {
        double rowBytes = 4.0 * LargestActivationFloats(model, channels, side);
        double rows = HeapTuning.MmapThresholdBytes / 2.0 / rowBytes;
        return (int)Math.Clamp(Math.Floor(rows), MinRows, MaxRows);
    }

    /// <summary>The largest single tensor one row makes in a forward: the input, or the first stage's full-resolution
    /// feature maps (the MLP's hidden layer), whichever is larger.</summary>
    public static double LargestActivationFloats(ModelSpec model, int channels, int side)
    {
        double input = (double)channels * side * side;
        double features = model.Kind == ModelKind.Mlp ? 8.0 * model.Width : (double)model.Width * side * side;
        return Math.Max(input, features);
    }
}
