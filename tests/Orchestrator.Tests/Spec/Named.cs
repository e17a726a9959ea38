using Orchestrator.Spec;

namespace Orchestrator.Tests;

/// <summary>Choices from their YAML names, through the spec's one name table: theory data stays readable as the user writes it.</summary>
internal static class Named
{
    public static CodecKind Codec(string name) => SpecChoice.Parse<CodecKind>(name, SpecNames.SpecName);
    public static PrunerKind Pruner(string name) => SpecChoice.Parse<PrunerKind>(name, SpecNames.SpecName);
    public static AllreduceKind Algorithm(string name) => SpecChoice.Parse<AllreduceKind>(name, SpecNames.SpecName);
    public static ModelKind Model(string name) => SpecChoice.Parse<ModelKind>(name, SpecNames.SpecName);
    public static NormKind Norm(string name) => SpecChoice.Parse<NormKind>(name, SpecNames.SpecName);
    public static ClassifierKind Classifier(string name) => SpecChoice.Parse<ClassifierKind>(name, SpecNames.SpecName);
    public static DatasetKind Dataset(string name) => SpecChoice.Parse<DatasetKind>(name, SpecNames.SpecName);
    public static MixedSizeMode Mode(string name) => SpecChoice.Parse<MixedSizeMode>(name, SpecNames.SpecName);
    public static LrScalingKind LrScaling(string name) => SpecChoice.Parse<LrScalingKind>(name, SpecNames.SpecName);
    public static ScheduleKind Schedule(string name) => SpecChoice.Parse<ScheduleKind>(name, SpecNames.SpecName);
    public static ScalingPolicy Policy(string name) => SpecChoice.Parse<ScalingPolicy>(name, SpecNames.SpecName);
}
