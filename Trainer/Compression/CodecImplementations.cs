using Orchestrator.Spec;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// The one place that decides which implementation encodes a bucket, and builds it: a bucket is encoded
/// where its values are, by the fused kernels in host memory and by torch ops on a device (which must not
/// copy fp32 values to the host: only encoded bytes should cross). A test may force either.
/// </summary>
public static class CodecImplementations
{
    /// <summary>Spellings accepted by <see cref="Parse"/> (the hidden <c>train --codec-implementation</c> test hook).</summary>
    public static IReadOnlyList<string> Names { get; } = ["fused", "torch"];

    /// <summary>
    /// The implementation for values on <paramref name="valuesDevice"/>: <paramref name="forced"/> when given,
    /// else fused on the CPU and torch ops on any other device (the fused kernels read host memory only).
    /// </summary>
    public static CodecImplementation Select(DeviceType valuesDevice, CodecImplementation? forced) =>
        forced ?? (valuesDevice == DeviceType.CPU ? CodecImplementation.Fused : CodecImplementation.TorchOps);

    /// <summary>The <see cref="IGradientCodec"/> for <paramref name="spec"/> in <paramref name="implementation"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A pruning codec with N:M outside <see cref="NmPattern"/>'s range.</exception>
    public static IGradientCodec Create(CompressionSpec spec, CodecImplementation implementation) => implementation switch
    {
        CodecImplementation.Fused => CodecRegistry.Create(spec),
        CodecImplementation.TorchOps => new TorchGradientCodec(TorchCodecRegistry.Create(spec)),
    };

    /// <summary>Reads <c>fused</c> or <c>torch</c>; null or empty means not forced.</summary>
    /// <exception cref="UserFacingException">Any other text.</exception>
    public static CodecImplementation? Parse(string? text) => text switch
    {
        null or "" => null,
        "fused" => CodecImplementation.Fused,
        "torch" => CodecImplementation.TorchOps,
        _ => throw new UserFacingException($"--codec-implementation: expected one of {string.Join(", ", Names)}, got '{text}'"),
    };
}
