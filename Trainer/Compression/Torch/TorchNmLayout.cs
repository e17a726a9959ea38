using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>The position half of the N:M layout, shared by both N:M codecs.</summary>
internal static class TorchNmLayout
{
    /// <summary>Places the kept values [N * blocks] at the positions unpacked from <paramref name="positionBytes"/>; returns the first <paramref name="elements"/> values.</summary>
    public static Tensor Scatter(Tensor values, Tensor positionBytes, int elements, int n, int m)
    {
        using var scope = NewDisposeScope();
        long blocks = WireFormat.Blocks(elements, m);
        var positions = TensorBits.Unpack(positionBytes, blocks * n, WireFormat.PositionBits(m)).view(blocks, n);
        // ceil(log2 M) bits can name positions past the block when M is not a power of two; only a
        // corrupt encoding has them, and scattering them would write out of bounds (a device assert on
        // CUDA). The check syncs, so it runs only for those M.
        if ((m & (m - 1)) != 0 && positions.ge(m).any().item<bool>())
            throw new InvalidDataException($"An N:M encoding names an in-block position >= M = {m}.");
        // Adding rather than overwriting: an encoder may repeat a position for a zero filler value,
        // which must not erase the value kept there.
        var dense = zeros([blocks, m], ScalarType.Float32, values.device).scatter_add_(1, positions, values.view(blocks, n));
        return dense.flatten().narrow(0, 0, elements).contiguous().MoveToOuterDisposeScope();
    }
}
