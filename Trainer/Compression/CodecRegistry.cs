using Orchestrator.Spec;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// Builds the CPU codec a <see cref="CompressionSpec"/> names. Codecs and pruners are looked up in
/// dictionaries of factories, so adding one is one entry; unknown names are the user's mistake.
/// </summary>
public static class CodecRegistry
{
    private static readonly Dictionary<string, Func<int, int, INmPruner>> Pruners = new(StringComparer.OrdinalIgnoreCase)
    {
        ["mvue"] = (n, m) => new MvuePruner(n, m),
        ["greedy"] = (n, m) => new GreedyPruner(n, m),
    };

    private static readonly Dictionary<string, Func<CompressionSpec, IGradientCodec>> Codecs = new(StringComparer.OrdinalIgnoreCase)
    {
        ["none"] = _ => new NoneCodec(),
        ["int8"] = _ => new Int8Codec(),
        ["nm"] = spec => new NmCodec(CreatePruner(spec)),
        ["nm+int8"] = spec => new NmInt8Codec(CreatePruner(spec)),
    };

    /// <summary>Codec names accepted in <c>compression.codec</c>.</summary>
    public static IReadOnlyCollection<string> CodecNames => Codecs.Keys;

    /// <summary>Pruner names accepted in <c>compression.pruner</c>.</summary>
    public static IReadOnlyCollection<string> PrunerNames => Pruners.Keys;

    /// <summary>Creates the codec for <paramref name="spec"/>; throws <see cref="UserFacingException"/> for
    /// an unknown codec or pruner name or an invalid N:M.</summary>
    public static IGradientCodec Create(CompressionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!Codecs.TryGetValue(spec.Codec ?? "", out var factory))
            throw new UserFacingException(
                $"compression.codec: unknown codec '{spec.Codec}'; expected one of {string.Join(", ", Codecs.Keys)}.");
        return factory(spec);
    }

    /// <summary>Creates the N:M pruner for <paramref name="spec"/> (used by the nm codecs).</summary>
    public static INmPruner CreatePruner(CompressionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!Pruners.TryGetValue(spec.Pruner ?? "", out var factory))
            throw new UserFacingException(
                $"compression.pruner: unknown pruner '{spec.Pruner}'; expected one of {string.Join(", ", Pruners.Keys)}.");
        if (spec.M < 2 || spec.M > 16 || spec.N < 1 || spec.N >= spec.M)
            throw new UserFacingException(
                $"compression.n / compression.m: N:M pruning needs 1 <= N < M <= 16; got {spec.N}:{spec.M}.");
        return factory(spec.N, spec.M);
    }
}
