using Orchestrator.Spec;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>Builds the torch-op codec a <see cref="CompressionSpec"/> names (the GPU path of the compressed allreduce).</summary>
public static class TorchCodecRegistry
{
    /// <summary>Codec names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Codecs { get; } = ["none", "int8", "nm", "nm+int8"];

    /// <summary>The codec for <c>spec.Codec</c>; N, M and the pruner apply to the N:M codecs only.</summary>
    /// <exception cref="ArgumentException">Unknown codec or pruner, or N:M outside 1 &lt;= N &lt;= M.</exception>
    public static ITensorCodec Create(CompressionSpec spec) => spec.Codec switch
    {
        "none" => new TorchNoneCodec(),
        "int8" => new TorchInt8Codec(),
        "nm" => new TorchNmCodec(spec.N, spec.M, Pruner(spec.Pruner)),
        "nm+int8" => new TorchNmInt8Codec(spec.N, spec.M, Pruner(spec.Pruner)),
        _ => throw new ArgumentException($"Unknown compression codec '{spec.Codec}'; expected one of {string.Join(", ", Codecs)}."),
    };

    private static TorchPruner Pruner(string name) => name switch
    {
        "mvue" => TorchPruner.Mvue,
        "greedy" => TorchPruner.Greedy,
        _ => throw new ArgumentException($"Unknown N:M pruner '{name}'; expected mvue or greedy."),
    };
}
