using Orchestrator.Spec;
using System.Runtime.CompilerServices;
namespace Orchestrator.Trainer.Compression;

/// <summary>
/// Minimum-variance unbiased N:M pruning (ALGORITHMS.md section 7): inclusion probabilities
/// p_i = min(1, c a_i) with sum p_i = N (water-filling), the kept set drawn by systematic sampling
/// with one u per block, kept value x_i / p_i. E[result] = x with variance sum x_i^2 (1/p_i - 1).
/// Blocks with at most N non-zeros are kept exactly (zeros fill the other slots at unused positions);
/// all-zero blocks stay zero. 1:2 and 2:4 use closed-form vectorized kernels, other N:M the generic
/// scalar water-filling.
/// </summary>
public sealed class MvuePruner : INmPruner
{
    private readonly bool _vectorized;

    /// <summary>Creates an N:M MVUE pruner (1 &lt;= N &lt; M &lt;= 16); <paramref name="vectorized"/> = false
    /// forces the scalar kernels.</summary>
    public MvuePruner(int n, int m, bool vectorized = true)
    {
        NmPattern.Check(n, m);
        N = n;
        M = m;
        _vectorized = vectorized;
    }

    /// <inheritdoc />
    public int N { get; }

    /// <inheritdoc />
    public int M { get; }

    /// <inheritdoc />
    public PrunerKind Kind => PrunerKind.Mvue;

    /// <inheritdoc />
    public bool Unbiased => true;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public void Prune(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, ref CodecRandom rng)
    {
        NmLayout.CheckPrune(this, input.Length, kept.Length, positions.Length);
        if (N == 2 && M == 4)
        {
            Mvue24Kernel.Prune(input, kept, positions, ref rng, _vectorized);
            return;
        }
        if (N == 1 && M == 2)
        {
            Mvue12Kernel.Prune(input, kept, positions, ref rng, _vectorized);
            return;
        }
        positions.Clear();
        int bits = WireFormat.PositionBits(M);
        Span<int> pos = stackalloc int[16];
        int blocks = input.Length / M;
        for (int b = 0; b < blocks; b++)
        {
            Block(input.Slice(b * M, M), N, kept.Slice(b * N, N), pos, rng.NextFloat());
            for (int k = 0; k < N; k++) PositionPacking.Write(positions, b * N + k, bits, pos[k]);
        }
    }

    /// <summary>
    /// Exact MVUE for one block of M &lt;= 16 values with uniform <paramref name="u"/>, over the whole float range;
    /// the generic N:M path and the fallback of the 1:2 and 2:4 kernels for blocks their fp32 closed forms get
    /// wrong (subnormal levels, sums past float.MaxValue, non-finite values). The water level K is found in
    /// double (sums of up to 16 floats are exact or nearly so there, subnormals included), then rounded UP to
    /// the float K_r the wire carries: non-saturated values are kept with p = a / K_r as sign(x) K_r, so
    /// E = a exactly even where K is not representable (sum p &lt;= N; a systematic-sampling point past the
    /// total keeps nothing, a zero filler). A block with a NaN or an infinity, or whose K_r overflows (its
    /// magnitudes sum past about N x float.MaxValue, which no N fp32 values can carry unbiasedly), sends N NaNs
    /// at positions 0..N-1 (the non-finite rule, README "Compression").
    /// </summary>
    internal static void Block(ReadOnlySpan<float> x, int n, Span<float> kept, Span<int> pos, float u)
    {
        int m = x.Length, nnz = 0, k = 0;
        uint used = 0;
        for (int i = 0; i < m; i++)
        {
            if (!float.IsFinite(x[i]))
            {
                Unencodable(n, kept, pos);
                return;
            }
            if (x[i] != 0f) nnz++;
        }
        if (nnz <= n)
        {
            for (int i = 0; i < m; i++)
            {
                if (x[i] == 0f) continue;
                kept[k] = x[i];
                pos[k++] = i;
                used |= 1u << i;
            }
        }
        else
        {
            // Water-filling: saturate (p = 1) every value with a_i >= K = rest / (N - saturated). Saturating
            // one only lowers K, so all current candidates can be saturated at once; at most N - 1 ever are.
            uint sat = 0;
            int nsat = 0;
            double kk;
            while (true)
            {
                double rest = 0;
                for (int i = 0; i < m; i++) if ((sat & (1u << i)) == 0) rest += MathF.Abs(x[i]);
                kk = rest / (n - nsat);
                bool changed = false;
                for (int i = 0; i < m && nsat < n - 1; i++)
                {
                    if ((sat & (1u << i)) == 0 && x[i] != 0f && MathF.Abs(x[i]) >= kk)
                    {
                        sat |= 1u << i;
                        nsat++;
                        changed = true;
                    }
                }
                if (!changed) break;
            }
            float kf = RoundUp(kk);
            if (float.IsInfinity(kf))
            {
                Unencodable(n, kept, pos);
                return;
            }
            // Systematic sampling: targets u, u+1, ..., u+N-1 on the cumulative p (all in double).
            double c = 0, uu = u, kd = kf;
            int t = 0;
            for (int i = 0; i < m && t < n; i++)
            {
                if (x[i] == 0f) continue;
                bool saturated = (sat & (1u << i)) != 0;
                double next = c + (saturated ? 1.0 : MathF.Abs(x[i]) / kd);
                bool take = false;
                while (t < n && uu + t < next) { take = true; t++; }
                if (take)
                {
                    kept[k] = saturated ? x[i] : MathF.CopySign(kf, x[i]);
                    pos[k++] = i;
                    used |= 1u << i;
                }
                c = next;
            }
        }
        // Fill the remaining slots with zeros at distinct unused positions (every block sends N values).
        for (int j = 0; k < n; j++)
        {
            if ((used & (1u << j)) != 0) continue;
            kept[k] = 0f;
            pos[k++] = j;
            used |= 1u << j;
        }
    }

    /// <summary>The smallest float &gt;= <paramref name="value"/> (infinity past float.MaxValue).</summary>
    internal static float RoundUp(double value)
    {
        float f = (float)value;
        return f < value ? MathF.BitIncrement(f) : f;
    }

    /// <summary>The encoding of a block with a non-finite value or an overflowing level: N NaNs at positions 0..N-1.</summary>
    internal static void Unencodable(int n, Span<float> kept, Span<int> pos)
    {
        for (int k = 0; k < n; k++)
        {
            kept[k] = float.NaN;
            pos[k] = k;
        }
    }
}
