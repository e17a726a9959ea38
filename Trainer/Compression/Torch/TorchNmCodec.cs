using Orchestrator.Spec;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>
/// N:M pruning codec: float32 kept values[N * blocks] then their in-block positions, ceil(log2 M) bits
/// each, LSB-first in kept-value order (<see cref="WireFormat"/>). Unbiased with <see cref="PrunerKind.Mvue"/>.
/// </summary>
public sealed class TorchNmCodec : ITensorCodec
{
    private readonly int _n;
    private readonly int _m;
    private readonly PrunerKind _pruner;

    /// <summary>Keeps <paramref name="n"/> of every <paramref name="m"/> consecutive values (<see cref="NmPattern"/>: 1 &lt;= n &lt; m &lt;= 16).</summary>
    public TorchNmCodec(int n, int m, PrunerKind pruner)
    {
        NmPattern.Check(n, m);
        (_n, _m, _pruner) = (n, m, pruner);
    }

    /// <summary>
    /// The MVUE inclusion probabilities of blocks of magnitudes [blocks, M]: p = min(1, c a) with sum p = N
    /// per block (water-filling). A block with at most N non-zeros gets p = 1 on its non-zeros and on its
    /// first N - count zeros (fillers that keep every block at exactly N values).
    /// </summary>
    public static Tensor InclusionProbabilities(Tensor magnitudes, int n)
    {
        NmPattern.Check(n, (int)magnitudes.shape[1]);
        using var scope = NewDisposeScope();
        return TorchNmPruning.InclusionProbabilities(magnitudes, n).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public CodecKind Kind => CodecKind.Nm;

    /// <inheritdoc/>
    public string Name => SpecNames.CodecLabel(Kind, new NmPattern(_n, _m), _pruner);

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => WireFormat.NmBytes(elements, _n, _m);

    /// <inheritdoc/>
    public Tensor Encode(Tensor flat, ulong seed)
    {
        var input = TorchCodecChecks.Input(flat);
        using var scope = NewDisposeScope();
        var uniform = new CounterUniform(seed);
        var (values, positions) = TorchNmPruning.Prune(input, _n, _m, _pruner, uniform);
        return cat([TensorBits.FloatsToBytes(values), TensorBits.Pack(positions, WireFormat.PositionBits(_m))]).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Decode(Tensor encoded, int elements)
    {
        TorchCodecChecks.Encoded(encoded, EncodedBytes(elements));
        using var scope = NewDisposeScope();
        long kept = (long)WireFormat.Blocks(elements, _m) * _n;
        var values = TensorBits.BytesToFloats(encoded, kept);
        return TorchNmLayout.Scatter(values, encoded.narrow(0, 4 * kept, encoded.numel() - 4 * kept), elements, _n, _m).MoveToOuterDisposeScope();
    }
}
