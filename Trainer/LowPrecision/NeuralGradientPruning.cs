using System.Runtime.InteropServices;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// N:M pruning of a neural gradient (dL/d layer output, [batch, channels, ...]; ALGORITHMS.md section 7) with the
/// allreduce codecs' pruners, so both features share one implementation of the MVUE law and of the greedy baseline.
/// Blocks run along the reduction dimension of the backward GEMM that takes the result (<see cref="BackwardGemm"/>): for
/// the weight-gradient GEMM dW = g^T x (the one transposable weight masks, section 8, leave dense) M consecutive values of
/// one output channel over (sample, position); for the input-gradient GEMM M consecutive output channels of one sample
/// at one position. Values that do not fill a whole block at the end of a row end in a zero-padded block.
/// </summary>
public static class NeuralGradientPruning
{
    /// <summary>Blocks pruned per pass of the fused CPU pruner (a multiple of 8: each pass's position bits start on a byte).</summary>
    private const int SegmentBlocks = 4096;

    /// <summary>
    /// The pruned gradient (same shape as <paramref name="gradient"/>): at most N non-zeros per block; with MVUE each
    /// kept value is divided by its inclusion probability, so E[result] = gradient. All randomness comes from
    /// <paramref name="seed"/>. A block holding a NaN or an infinity comes back as NaNs (the codecs' non-finite rule),
    /// so a diverged step still shows as a non-finite gradient.
    /// </summary>
    public static Tensor Prune(Tensor gradient, int n, int m, PrunerKind pruner, ulong seed, BackwardGemm blocksFor = BackwardGemm.WeightGradient) =>
        Prune(gradient, n, m, pruner, seed, blocksFor, fusedOnCpu: true);

    /// <summary>As <see cref="Prune(Tensor, int, int, PrunerKind, ulong, BackwardGemm)"/>; <paramref name="fusedOnCpu"/> = false
    /// takes the torch-op pruning (the path of other devices) on the CPU too, so tests can check both.</summary>
    internal static Tensor Prune(Tensor gradient, int n, int m, PrunerKind pruner, ulong seed, BackwardGemm blocksFor, bool fusedOnCpu)
    {
        NmPattern.Check(n, m);
        if (gradient.dim() < 2) throw new ArgumentException($"a neural gradient is [batch, channels, ...]; got {gradient.dim()} dims", nameof(gradient));
        using var scope = NewDisposeScope();
        long channels = gradient.shape[1];
        // [batch, channels, positions]; each row then runs along the GEMM's reduction: [channels, batch x positions] for
        // dW, [batch x positions, channels] for dX.
        var grouped = gradient.reshape(gradient.shape[0], channels, -1);
        bool alongChannels = blocksFor == BackwardGemm.InputGradient;
        var moved = alongChannels ? grouped.transpose(1, 2) : grouped.transpose(0, 1);
        var rows = alongChannels ? moved.reshape(-1, channels) : moved.reshape(channels, -1);
        long length = rows.shape[1];
        long padded = (length + m - 1) / m * m;
        var blocks = padded == length ? rows.contiguous() : nn.functional.pad(rows, [0, padded - length]);
        var pruned = fusedOnCpu && gradient.device_type == DeviceType.CPU && gradient.dtype == ScalarType.Float32 && blocks.numel() <= int.MaxValue / sizeof(float)
            ? PruneFused(blocks, n, m, pruner, seed)
            : PruneTorch(blocks, n, m, pruner, seed);
        if (padded != length) pruned = pruned.narrow(1, 0, length);
        var restored = pruned.reshape(moved.shape);
        var back = alongChannels ? restored.transpose(1, 2) : restored.transpose(0, 1);
        return back.contiguous().reshape(gradient.shape).MoveToOuterDisposeScope();
    }

    /// <summary>The fused CPU pruners of the codecs (<see cref="MvuePruner"/>, <see cref="GreedyPruner"/>) and their scatter.</summary>
    private static Tensor PruneFused(Tensor blocks, int n, int m, PrunerKind kind, ulong seed)
    {
        INmPruner pruner = kind switch
        {
            PrunerKind.Mvue => new MvuePruner(n, m),
            PrunerKind.Greedy => new GreedyPruner(n, m),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown pruner"),
        };
        var output = empty_like(blocks);
        var input = MemoryMarshal.Cast<byte, float>(blocks.bytes);
        var dense = MemoryMarshal.Cast<byte, float>(output.bytes);
        int total = input.Length / m;
        var kept = new float[SegmentBlocks * n];
        var positions = new byte[NmLayout.PositionBytes(SegmentBlocks, n, m)];
        var rng = new CodecRandom(seed);
        for (int start = 0; start < total; start += SegmentBlocks)
        {
            int count = Math.Min(SegmentBlocks, total - start);
            var keptPart = kept.AsSpan(0, count * n);
            var positionPart = positions.AsSpan(0, NmLayout.PositionBytes(count, n, m));
            pruner.Prune(input.Slice(start * m, count * m), keptPart, positionPart, ref rng);
            NmScatter.Scatter(n, m, keptPart, positionPart, dense.Slice(start * m, count * m), add: false, vectorized: true);
        }
        return output;
    }

    /// <summary>The codecs' torch-op pruning (any device), scattered back to dense blocks.</summary>
    private static Tensor PruneTorch(Tensor blocks, int n, int m, PrunerKind kind, ulong seed)
    {
        var (values, positions) = TorchNmPruning.Prune(blocks.flatten(), n, m, kind, new CounterUniform(seed));
        var dense = zeros([values.shape[0], m], values.dtype, values.device).scatter_add_(1, positions, values);
        return dense.reshape(blocks.shape);
    }
}
