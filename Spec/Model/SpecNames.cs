namespace Orchestrator.Spec;

/// <summary>
/// The YAML name of every choice of the spec, and the only place those names are written. The binder parses
/// through <see cref="SpecChoice"/>, the resolved-YAML writer, error messages, summaries and metrics labels
/// print through <c>SpecName()</c>. Each switch lists every member (the compiler refuses one that misses a case).
/// </summary>
public static class SpecNames
{
    public static string SpecName(this DeviceKind value) => value switch
    {
        DeviceKind.Auto => "auto",
        DeviceKind.Cpu => "cpu",
        DeviceKind.Cuda => "cuda",
    };

    public static string SpecName(this CodecKind value) => value switch
    {
        CodecKind.None => "none",
        CodecKind.Int8 => "int8",
        CodecKind.Nm => "nm",
        CodecKind.NmInt8 => "nm+int8",
        CodecKind.PowerSgd => "powersgd",
    };

    public static string SpecName(this PrunerKind value) => value switch
    {
        PrunerKind.Mvue => "mvue",
        PrunerKind.Greedy => "greedy",
    };

    public static string SpecName(this GradientGemms value) => value switch
    {
        GradientGemms.Both => "both",
        GradientGemms.WeightGradient => "weight_gradient",
    };

    public static string SpecName(this AllreduceKind value) => value switch
    {
        AllreduceKind.Ring => "ring",
        AllreduceKind.Allgather => "allgather",
        AllreduceKind.Mpi => "mpi",
    };

    public static string SpecName(this ModelKind value) => value switch
    {
        ModelKind.Mlp => "mlp",
        ModelKind.Cnn => "cnn",
        ModelKind.ResNet20 => "resnet20",
        ModelKind.ResNet44 => "resnet44",
    };

    public static string SpecName(this NormKind value) => value switch
    {
        NormKind.Batch => "batch",
        NormKind.GhostBatch => "ghost_batch",
        NormKind.None => "none",
        NormKind.RangeBatch => "range_batch",
    };

    public static string SpecName(this ClassifierKind value) => value switch
    {
        ClassifierKind.Linear => "linear",
        ClassifierKind.Hadamard => "hadamard",
    };

    public static string SpecName(this DatasetKind value) => value switch
    {
        DatasetKind.FashionMnist => "fashion-mnist",
        DatasetKind.MnistIdx => "mnist-idx",
        DatasetKind.Cifar10 => "cifar10",
        DatasetKind.Synthetic => "synthetic",
    };

    public static string SpecName(this OptimizerKind value) => value switch
    {
        OptimizerKind.Sgd => "sgd",
    };

    public static string SpecName(this MixedSizeMode value) => value switch
    {
        MixedSizeMode.Off => "off",
        MixedSizeMode.BPlus => "B+",
        MixedSizeMode.DPlus => "D+",
    };

    public static string SpecName(this LrScalingKind value) => value switch
    {
        LrScalingKind.None => "none",
        LrScalingKind.Sqrt => "sqrt",
        LrScalingKind.Linear => "linear",
    };

    public static string SpecName(this ScheduleKind value) => value switch
    {
        ScheduleKind.Constant => "constant",
        ScheduleKind.Linear => "linear",
        ScheduleKind.Cosine => "cosine",
        ScheduleKind.Exp => "exp",
    };

    public static string SpecName(this ScalingPolicy value) => value switch
    {
        ScalingPolicy.KeepGlobalBatch => "keep_global_batch",
        ScalingPolicy.KeepWorkerBatch => "keep_worker_batch",
    };

    public static string SpecName(this NodeLossPolicy value) => value switch
    {
        NodeLossPolicy.Restart => "restart",
        NodeLossPolicy.Shrink => "shrink",
    };

    public static string SpecName(this PlacementPolicy value) => value switch
    {
        PlacementPolicy.Pack => "pack",
        PlacementPolicy.Spread => "spread",
    };

    public static string SpecName(this MaskMethod value) => value switch
    {
        MaskMethod.Greedy => "greedy",
        MaskMethod.Optimal => "optimal",
    };

    /// <summary>
    /// How a codec is shown in summaries and codec names: <c>none</c>, <c>int8</c>,
    /// for the pruning codecs the pattern and pruner, e.g. <c>2:4 mvue</c> and <c>2:4 mvue+int8</c>,
    /// and for powersgd its rank, e.g. <c>powersgd r2</c> (<paramref name="rank"/> is read for powersgd only).
    /// </summary>
    public static string CodecLabel(CodecKind codec, NmPattern pattern, PrunerKind pruner, int rank = 0) => codec switch
    {
        CodecKind.None or CodecKind.Int8 => codec.SpecName(),
        CodecKind.Nm => $"{pattern} {pruner.SpecName()}",
        CodecKind.NmInt8 => $"{pattern} {pruner.SpecName()}+{CodecKind.Int8.SpecName()}",
        CodecKind.PowerSgd => $"{codec.SpecName()} r{rank}",
    };
}

/// <summary>
/// Parsing a choice from its name and listing its names, for any choice given its <c>SpecName</c>, e.g.
/// <c>SpecChoice.Parse&lt;CodecKind&gt;(text, SpecNames.SpecName)</c>. Names are case-sensitive, as YAML is; they
/// are listed in declaration order.
/// </summary>
public static class SpecChoice
{
    /// <summary>Every name of <typeparamref name="T"/>, in the order error messages list them.</summary>
    public static IReadOnlyList<string> Names<T>(Func<T, string> name) where T : struct, Enum =>
        [.. Enum.GetValues<T>().Select(name)];

    /// <summary>The value named <paramref name="text"/>; false when no member has that name.</summary>
    public static bool TryParse<T>(string text, Func<T, string> name, out T value) where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (string.Equals(name(candidate), text, StringComparison.Ordinal))
            {
                value = candidate;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>The value named <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">No member has that name; the message is <see cref="Unknown"/>'s.</exception>
    public static T Parse<T>(string text, Func<T, string> name) where T : struct, Enum =>
        TryParse(text, name, out var value) ? value : throw new FormatException(Unknown(text, name));

    /// <summary>The value named <paramref name="text"/>, given by the user as <paramref name="what"/> (e.g. a command-line option).</summary>
    /// <exception cref="UserFacingException">No member has that name: "<paramref name="what"/>: must be one of ...".</exception>
    public static T ParseUserInput<T>(string what, string text, Func<T, string> name) where T : struct, Enum =>
        TryParse(text, name, out var value) ? value : throw new UserFacingException($"{what}: {Unknown(text, name)}");

    /// <summary>"must be one of a, b, c; got 'x'": what is wrong with a name that is none of them.</summary>
    public static string Unknown<T>(string text, Func<T, string> name) where T : struct, Enum =>
        $"must be one of {string.Join(", ", Names(name))}; got {SpecText.Quote(text)}";
}
