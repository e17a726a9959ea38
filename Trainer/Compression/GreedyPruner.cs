using Orchestrator.Spec;
namespace Orchestrator.Trainer.Compression;

/// <summary>
/// The biased baseline of ALGORITHMS.md section 7: keep the N largest magnitudes of each block as they
/// are (ties: lower index first), drop the rest. Deterministic; E[result] != x whenever something
/// non-zero is dropped, which is the paper's point about gradients.
/// </summary>
public sealed class GreedyPruner : INmPruner
{
    /// <summary>Creates an N:M greedy pruner (1 &lt;= N &lt; M &lt;= 16).</summary>
    public GreedyPruner(int n, int m)
    {
        NmPattern.Check(n, m);
        N = n;
        M = m;
    }

    /// <inheritdoc />
    public int N { get; }

    /// <inheritdoc />
    public int M { get; }

    /// <inheritdoc />
    public PrunerKind Kind => PrunerKind.Greedy;

    /// <inheritdoc />
    public bool Unbiased => false;

    /// <inheritdoc />
    public void Prune(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, ref CodecRandom rng)
    {
        NmLayout.CheckPrune(this, input.Length, kept.Length, positions.Length);
        positions.Clear();
        int bits = WireFormat.PositionBits(M);
        int blocks = input.Length / M;
        for (int b = 0; b < blocks; b++)
        {
            var x = input.Slice(b * M, M);
            if (!AllFinite(x))
            {
                for (int k = 0; k < N; k++)
                {
                    kept[b * N + k] = float.NaN;
                    PositionPacking.Write(positions, b * N + k, bits, k);
                }
                continue;
            }
            uint taken = 0;
            for (int k = 0; k < N; k++)
            {
                // Selection by repeated max: M <= 16, N < M, so at most 15 x 16 compares per block.
                int best = -1;
                float bestA = -1f;
                for (int i = 0; i < M; i++)
                {
                    float a = MathF.Abs(x[i]);
                    if ((taken & (1u << i)) == 0 && !(a <= bestA)) { best = i; bestA = a; }
                }
                taken |= 1u << best;
                kept[b * N + k] = x[best];
                PositionPacking.Write(positions, b * N + k, bits, best);
            }
        }
    }

    private static bool AllFinite(ReadOnlySpan<float> x)
    {
        foreach (float v in x) if (!float.IsFinite(v)) return false;
        return true;
    }
}
