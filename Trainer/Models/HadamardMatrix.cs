using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Sylvester's construction of Hadamard matrices: H_1 = [1], H_2n = [[H, H], [H, -H]].</summary>
public static class HadamardMatrix
{
    /// <summary>The smallest power of two that is at least <paramref name="size"/> (1 for size 1).</summary>
    public static long NextPowerOfTwo(long size)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "size must be positive");
        long n = 1;
        while (n < size) n <<= 1;
        return n;
    }

    /// <summary>The n x n Sylvester Hadamard matrix (entries +-1, H H^T = n I); n must be a power of two.</summary>
    public static Tensor Sylvester(long n, ScalarType dtype = ScalarType.Float32)
    {
        if (n < 1 || (n & (n - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(n), n, "Sylvester Hadamard matrices exist for powers of two only");
        using var scope = NewDisposeScope();
        var h = ones(1, 1, dtype: dtype);
        while (h.shape[0] < n) h = cat([cat([h, h], 1), cat([h, -h], 1)], 0);
        return h.MoveToOuterDisposeScope();
    }
}
