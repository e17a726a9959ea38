namespace Orchestrator.Contracts.Spec;

/// <summary>
/// The schema: which keys each section has, their types and defaults. Ranges and cross-field rules
/// live in <see cref="JobSpecValidator"/>. To add a field, add one getter call here, a rule there if
/// it has one, and a line in <see cref="JobSpecYaml"/>.
/// </summary>
internal static class JobSpecBinder
{
    public static JobSpec Bind(MappingReader root) => new(
        Name: root.String("name", ""), // required; the validator reports it missing
        Device: root.Enum("device", JobSpecDefaults.Device),
        Model: root.Mapping("model", BindModel),
        Data: root.Mapping("data", BindData),
        Training: root.Mapping("training", BindTraining),
        Checkpoint: root.Mapping("checkpoint", BindCheckpoint));

    private static ModelSpec BindModel(MappingReader r)
    {
        var d = JobSpecDefaults.Model;
        return new ModelSpec(
            Kind: r.OneOf("kind", SpecVocabulary.ModelKinds, d.Kind),
            Width: r.Int("width", d.Width),
            Norm: r.OneOf("norm", SpecVocabulary.Norms, d.Norm));
    }

    private static DataSpec BindData(MappingReader r)
    {
        var d = JobSpecDefaults.Data;
        return new DataSpec(
            Dataset: r.OneOf("dataset", SpecVocabulary.Datasets, d.Dataset),
            Root: r.String("root", d.Root),
            TrainSubset: r.Int("train_subset", d.TrainSubset),
            TestSubset: r.Int("test_subset", d.TestSubset),
            Augment: r.Mapping("augment", BindAugment));
    }

    private static AugmentSpec BindAugment(MappingReader r)
    {
        var d = JobSpecDefaults.Augment;
        return new AugmentSpec(
            CropPadding: r.Int("crop_padding", d.CropPadding),
            Flip: r.Bool("flip", d.Flip),
            Cutout: r.Int("cutout", d.Cutout));
    }

    private static TrainingSpec BindTraining(MappingReader r)
    {
        var d = JobSpecDefaults.Training;
        return new TrainingSpec(
            Epochs: r.Int("epochs", d.Epochs),
            GlobalBatch: r.Int("global_batch", d.GlobalBatch),
            Optimizer: r.Mapping("optimizer", BindOptimizer),
            Seed: r.Long("seed", d.Seed),
            Threads: r.Int("threads", d.Threads));
    }

    private static OptimizerSpec BindOptimizer(MappingReader r)
    {
        var d = JobSpecDefaults.Optimizer;
        return new OptimizerSpec(
            Kind: r.OneOf("kind", SpecVocabulary.OptimizerKinds, d.Kind),
            Lr: r.Double("lr", d.Lr),
            Momentum: r.Double("momentum", d.Momentum),
            Nesterov: r.Bool("nesterov", d.Nesterov),
            WeightDecay: r.Double("weight_decay", d.WeightDecay));
    }

    private static CheckpointSpec BindCheckpoint(MappingReader r)
    {
        var d = JobSpecDefaults.Checkpoint;
        return new CheckpointSpec(
            EverySteps: r.Int("every_steps", d.EverySteps),
            Keep: r.Int("keep", d.Keep));
    }
}
