using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>
/// Uniform draws in [0, 1) made by torch ops on whatever device the values live on: SplitMix64 of a running counter
/// offset by the seed, the top 24 bits as a float32 (the resolution of <c>torch.rand</c> in float32).
/// </summary>
/// <remarks>
/// Why not a libtorch generator: through TorchSharp 0.107 every <see cref="Generator"/> is a CPU generator whatever device
/// it is asked for (its native <c>THSGenerator_new</c> ignores the device), <c>torch.rand</c> with it on a GPU fails, and
/// TorchSharp then hands back an uninitialised tensor handle: the codecs and the 8-bit gradients segfaulted on an H200.
/// A counter needs no state shared between threads (backward runs on libtorch's device thread, the gradient codecs on
/// the communication thread), gives the same draws for the same seed on every device and thread count, and costs a few
/// elementwise integer passes where the values already are.
/// </remarks>
public sealed class CounterUniform
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private readonly ulong seed;
    private ulong drawn;

    /// <param name="seed">Picks the stream; equal seeds give equal draws.</param>
    public CounterUniform(ulong seed) => this.seed = Mix(seed);

    /// <summary>The next <paramref name="shape"/>'s worth of draws (float32, row-major order of the stream) on <paramref name="device"/>.</summary>
    public Tensor Next(ReadOnlySpan<long> shape, Device device)
    {
        long count = 1;
        foreach (long d in shape) count *= d;
        using var scope = NewDisposeScope();
        // z_i = (seed + (drawn + i + 1) * gamma) mod 2^64, then the SplitMix64 finaliser; int64 arithmetic wraps like uint64.
        var z = arange(count, ScalarType.Int64, device).add(1L + (long)drawn).mul(unchecked((long)Gamma)).add(unchecked((long)seed));
        z = Round(z, 30, 0xBF58476D1CE4E5B9UL, device);
        z = Round(z, 27, 0x94D049BB133111EBUL, device);
        z = z.bitwise_xor(ShiftRight(z, 31, device));
        var uniform = ShiftRight(z, 40, device).to(ScalarType.Float32).mul_(1f / (1 << 24)).view(shape.ToArray());
        drawn += (ulong)count;
        return uniform.MoveToOuterDisposeScope();
    }

    private static Tensor Round(Tensor z, int shift, ulong multiplier, Device device) =>
        z.bitwise_xor(ShiftRight(z, shift, device)).mul(unchecked((long)multiplier));

    /// <summary>Logical (unsigned) right shift of int64 values: libtorch shifts signed values arithmetically, so the sign's copies are masked off.</summary>
    private static Tensor ShiftRight(Tensor z, int bits, Device device) =>
        z.bitwise_right_shift(tensor((long)bits, ScalarType.Int64, device)).bitwise_and(tensor((long)((1UL << (64 - bits)) - 1), ScalarType.Int64, device));

    /// <summary>SplitMix64's finaliser on the host, so that nearby seeds start far apart in the counter space.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
