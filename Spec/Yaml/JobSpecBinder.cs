namespace Orchestrator.Spec;

/// <summary>
/// The schema: which keys each section has, their types and defaults. Ranges and cross-field rules
/// live in <see cref="JobSpecValidator"/>. To add a field, add one getter call here, a rule there if
/// it has one, and a line in <see cref="JobSpecYaml"/>.
/// </summary>
internal static class JobSpecBinder
{
    public static JobSpec Bind(MappingReader root) => new(
        Name: root.String("name", ""), // required; the validator reports it missing
        Device: root.Choice("device", SpecNames.SpecName, JobSpecDefaults.Device),
        Model: root.Mapping("model", BindModel),
        Data: root.Mapping("data", BindData),
        Training: root.Mapping("training", BindTraining),
        Checkpoint: root.Mapping("checkpoint", BindCheckpoint),
        Workers: root.Int("workers", JobSpecDefaults.Workers),
        // Absent stays null (= defaults), so specs written without it compare equal to their YAML.
        Compression: root.Has("compression") ? root.Mapping("compression", BindCompression) : null,
        Metrics: root.Has("metrics") ? root.Mapping("metrics", BindMetrics) : null,
        Fault: root.Has("fault") ? root.Mapping("fault", BindFault) : null,
        Scaling: root.Has("scaling") ? root.Mapping("scaling", r => new ScalingSpec(r.Choice("policy", SpecNames.SpecName, ScalingSpec.Default.Policy),
            r.Choice("on_node_loss", SpecNames.SpecName, ScalingSpec.Default.OnNodeLoss), r.Int("min_workers", ScalingSpec.Default.MinWorkers))) : null,
        Placement: root.Has("placement") ? root.Mapping("placement", r => new PlacementSpec(
            r.Int("ranks_per_node", PlacementSpec.Default.RanksPerNode), r.Choice("policy", SpecNames.SpecName, PlacementSpec.Default.Policy))) : null);

    private static FaultSpec BindFault(MappingReader r)
    {
        var d = JobSpecDefaults.Fault;
        return new FaultSpec(
            StallSeconds: r.Int("stall_seconds", d.StallSeconds),
            MaxRestarts: r.Int("max_restarts", d.MaxRestarts),
            RestartBackoffSeconds: r.Double("restart_backoff_seconds", d.RestartBackoffSeconds));
    }

    private static MetricsSpec BindMetrics(MappingReader r)
    {
        var d = JobSpecDefaults.Metrics;
        return new MetricsSpec(
            Port: r.Int("port", d.Port),
            Host: r.String("host", d.Host));
    }

    private static CompressionSpec BindCompression(MappingReader r)
    {
        var d = JobSpecDefaults.Compression;
        var codec = r.Choice("codec", SpecNames.SpecName, d.Codec);
        return new CompressionSpec(
            Codec: codec,
            N: r.Int("n", d.N),
            M: r.Int("m", d.M),
            Pruner: r.Choice("pruner", SpecNames.SpecName, d.Pruner),
            Algorithm: r.Choice("algorithm", SpecNames.SpecName, JobSpecDefaults.Algorithm(codec)),
            BucketMb: r.Double("bucket_mb", d.BucketMb),
            WarmupSteps: r.Int("warmup_steps", d.WarmupSteps),
            ErrorFeedback: r.Bool("error_feedback", JobSpecDefaults.ErrorFeedback(codec)),
            MinCompressElements: r.Int("min_compress_elements", d.MinCompressElements),
            Overlap: r.Bool("overlap", d.Overlap),
            Rank: r.Int("rank", d.Rank),
            OverlapForward: r.Bool("overlap_forward", d.OverlapForward));
    }

    private static ModelSpec BindModel(MappingReader r)
    {
        var d = JobSpecDefaults.Model;
        return new ModelSpec(
            Kind: r.Choice("kind", SpecNames.SpecName, d.Kind),
            Width: r.Int("width", d.Width),
            Norm: r.Choice("norm", SpecNames.SpecName, d.Norm),
            Classifier: r.Choice("classifier", SpecNames.SpecName, d.Classifier),
            WeightSparsity: r.Has("weight_sparsity") ? r.Mapping("weight_sparsity", BindWeightSparsity) : null);
    }

    private static WeightSparsitySpec BindWeightSparsity(MappingReader r)
    {
        var d = WeightSparsitySpec.Default;
        return new WeightSparsitySpec(
            N: r.Int("n", d.N),
            M: r.Int("m", d.M),
            Transposable: r.Bool("transposable", d.Transposable),
            Method: r.Choice("method", SpecNames.SpecName, d.Method),
            RecomputeEvery: r.Int("recompute_every", d.RecomputeEvery));
    }

    private static QuantizeSpec BindQuantize(MappingReader r)
    {
        var d = QuantizeSpec.Default;
        // A bit width left out means fp32 there, so absent stays null rather than taking a default width.
        int? Bits(string key) => r.Has(key) ? r.Int(key, 0) : null;
        return new QuantizeSpec(
            Weights: Bits("weights"),
            Activations: Bits("activations"),
            Gradients: Bits("gradients"),
            Stochastic: r.Bool("stochastic", d.Stochastic),
            Bifurcation: r.Bool("bifurcation", d.Bifurcation));
    }

    private static GradientSparsitySpec BindGradientSparsity(MappingReader r)
    {
        var d = GradientSparsitySpec.Default;
        return new GradientSparsitySpec(
            N: r.Int("n", d.N),
            M: r.Int("m", d.M),
            Pruner: r.Choice("pruner", SpecNames.SpecName, d.Pruner),
            DenseFirstLast: r.Bool("dense_first_last", d.DenseFirstLast),
            Gemms: r.Choice("gemms", SpecNames.SpecName, d.Gemms));
    }

    private static DataSpec BindData(MappingReader r)
    {
        var d = JobSpecDefaults.Data;
        return new DataSpec(
            Dataset: r.Choice("dataset", SpecNames.SpecName, d.Dataset),
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
        var epochs = r.Int("epochs", d.Epochs);
        var globalBatch = r.Int("global_batch", d.GlobalBatch);
        var optimizer = r.Mapping("optimizer", BindOptimizer);
        var seed = r.Long("seed", d.Seed);
        var threads = r.Int("threads", d.Threads);
        var ghostBatch = r.Int("ghost_batch", d.GhostBatch);
        var batchAugmentation = r.Int("batch_augmentation", d.BatchAugmentation);
        var microBatch = r.Int("micro_batch", d.MicroBatch);
        // Absent sections stay null (= off / no regime), so specs written without them compare equal to their YAML.
        var mixedSize = r.Has("mixed_size") ? r.Mapping("mixed_size", BindMixedSize) : d.MixedSize;
        var regime = r.Has("regime") ? r.Mapping("regime", x => BindRegime(x, globalBatch, ghostBatch)) : d.Regime;
        var quantize = r.Has("quantize") ? r.Mapping("quantize", BindQuantize) : null;
        var gradientSparsity = r.Has("gradient_sparsity") ? r.Mapping("gradient_sparsity", BindGradientSparsity) : null;
        return new TrainingSpec(epochs, globalBatch, optimizer, seed, threads, ghostBatch, batchAugmentation, mixedSize, regime, microBatch,
            quantize, gradientSparsity);
    }

    private static MixedSizeSpec BindMixedSize(MappingReader r)
    {
        var d = JobSpecDefaults.MixedSize;
        return new MixedSizeSpec(
            Mode: r.Choice("mode", SpecNames.SpecName, d.Mode),
            Sizes: new(r.List("sizes", d.Sizes, ScalarParsers.Int32)),
            Probabilities: new(r.List("probabilities", d.Probabilities, ScalarParsers.Double)));
    }

    /// <summary>The regime; <c>base_batch</c> defaults from the batch sizes bound just before it.</summary>
    private static RegimeSpec BindRegime(MappingReader r, int globalBatch, int ghostBatch)
    {
        var d = JobSpecDefaults.Regime(globalBatch, ghostBatch);
        return new RegimeSpec(
            LrScaling: r.Choice("lr_scaling", SpecNames.SpecName, d.LrScaling),
            BaseBatch: r.Int("base_batch", d.BaseBatch),
            AdaptUpdates: r.Bool("adapt_updates", d.AdaptUpdates),
            WarmupEpochs: r.Double("warmup_epochs", d.WarmupEpochs),
            GradClipNorm: r.Double("grad_clip_norm", d.GradClipNorm),
            Phases: new(r.List("phases", d.Phases, BindPhase)));
    }

    private static RegimePhase BindPhase(MappingReader r) => new(
        // No default: a phase without a start is a mistake, not "epoch 0" (which would put it out of order).
        Epoch: r.Require("epoch") ? r.Double("epoch", 0) : 0,
        Lr: OptionalDouble(r, "lr"),
        Momentum: OptionalDouble(r, "momentum"),
        WeightDecay: OptionalDouble(r, "weight_decay"),
        Nesterov: r.Has("nesterov") ? r.Bool("nesterov", false) : null,
        Schedule: r.Choice("schedule", SpecNames.SpecName, ScheduleKind.Constant),
        EndLr: OptionalDouble(r, "end_lr"));

    /// <summary>Null when absent: a phase's missing setting keeps the one in force before it.</summary>
    private static double? OptionalDouble(MappingReader r, string key) => r.Has(key) ? r.Double(key, 0) : null;

    private static OptimizerSpec BindOptimizer(MappingReader r)
    {
        var d = JobSpecDefaults.Optimizer;
        return new OptimizerSpec(
            Kind: r.Choice("kind", SpecNames.SpecName, d.Kind),
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
