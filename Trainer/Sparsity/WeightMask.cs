using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Sparsity;

/// <summary>
/// The mask of one conv or linear weight under <c>model.weight_sparsity</c>: the weight as a row-major
/// [out, in x kh x kw] matrix (a conv reshaped, as Hubara et al. do), masked by <see cref="TransposableNmMask"/> or the
/// plain <see cref="NmMask"/>. Computed on the CPU from the dense weights; the result is a 0/1 float tensor of the
/// weight's shape on its device.
/// </summary>
public static class WeightMask
{
    /// <summary>Whether the pattern tiles a weight of <paramref name="shape"/>: the columns a multiple of M, and with
    /// transposable masks the rows too (a partial block cannot keep N per row and column).</summary>
    public static bool Fits(ReadOnlySpan<long> shape, WeightSparsitySpec spec)
    {
        var (rows, cols) = Matrix(shape);
        return cols % spec.M == 0 && (!spec.Transposable || rows % spec.M == 0);
    }

    /// <summary>The weight as the matrix the mask covers: [out, product of the other dims].</summary>
    public static (long Rows, long Cols) Matrix(ReadOnlySpan<long> shape)
    {
        long cols = 1;
        for (int i = 1; i < shape.Length; i++) cols *= shape[i];
        return (shape[0], cols);
    }

    /// <summary>The mask (1 = kept) of <paramref name="weight"/>, which must <see cref="Fits"/>. Deterministic.</summary>
    /// <exception cref="ArgumentException">A non-finite weight (masks rank magnitudes), or a shape that does not fit.</exception>
    public static Tensor Compute(Tensor weight, WeightSparsitySpec spec)
    {
        var (rows, cols) = Matrix(weight.shape);
        float[] values;
        using (var host = weight.detach().cpu().to(ScalarType.Float32).contiguous())
            values = host.data<float>().ToArray();
        bool[] kept = spec.Transposable
            ? TransposableNmMask.Compute(values, (int)rows, (int)cols, spec.N, spec.M, Method(spec.Method))
            : NmMask.Compute(values, (int)rows, (int)cols, spec.N, spec.M);
        var ones = new float[kept.Length];
        for (int i = 0; i < kept.Length; i++) ones[i] = kept[i] ? 1f : 0f;
        using var mask = tensor(ones, weight.shape);
        return mask.to(weight.device);
    }

    /// <summary>The spec's method as the algorithm's.</summary>
    public static TransposableMaskMethod Method(MaskMethod method) => method switch
    {
        MaskMethod.Greedy => TransposableMaskMethod.Greedy,
        MaskMethod.Optimal => TransposableMaskMethod.Optimal,
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown mask method"),
    };
}
