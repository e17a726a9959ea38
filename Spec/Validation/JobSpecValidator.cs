using System.Globalization;

namespace Orchestrator.Spec;

/// <summary>
/// Range and cross-field rules of a bound <see cref="JobSpec"/>. Separate from binding so that specs
/// built in code (tests, sweeps) get the same checks as specs read from YAML.
/// </summary>
public static class JobSpecValidator
{
    /// <summary>
    /// Every rule <paramref name="spec"/> breaks on this machine's cores (memory not checked); empty when it is valid.
    /// Errors carry no line.
    /// </summary>
    public static IReadOnlyList<SpecError> Validate(JobSpec spec) => Validate(spec, SpecHost.CoresOnly);

    /// <summary>
    /// Every rule <paramref name="spec"/> breaks on <paramref name="host"/>: its cores bound <c>training.threads</c>, and
    /// when its available memory is given, the job's <see cref="MemoryEstimate"/> times its workers must fit in it.
    /// </summary>
    public static IReadOnlyList<SpecError> Validate(JobSpec spec, SpecHost host) => Validate(spec, host, _ => null);

    /// <summary>As <see cref="Validate(JobSpec, SpecHost)"/>, locating each error via <paramref name="locate"/>.</summary>
    internal static IReadOnlyList<SpecError> Validate(JobSpec spec, SpecHost host, Func<string, SpecLocation?> locate)
    {
        var errors = new List<SpecError>();
        void Check(bool ok, string path, string message)
        {
            if (!ok)
                errors.Add(locate(path) is { } at ? at.Error(path, message) : new SpecError(path, message, null));
        }

        if (spec.Name.Length == 0)
            Check(false, "name", "is required");
        else
            Check(DnsLabel.IsValid(spec.Name), "name", $"must be a DNS-1123 label ({DnsLabel.Rule}); got {SpecText.Quote(spec.Name)}");
        Defined(Check, spec.Device, SpecNames.SpecName, "device");
        Check(spec.Workers is >= 1 and <= SpecVocabulary.MaxWorkers, "workers", $"must be >= 1 and <= {SpecVocabulary.MaxWorkers}");

        var model = spec.Model;
        var modelKnown = Defined(Check, model.Kind, SpecNames.SpecName, "model.kind");
        Check(model.Width >= 1, "model.width", "must be >= 1");
        Check(model.Width <= SpecVocabulary.MaxWidth, "model.width", AtMost(model.Width, SpecVocabulary.MaxWidth));
        Defined(Check, model.Norm, SpecNames.SpecName, "model.norm");
        Defined(Check, model.Classifier, SpecNames.SpecName, "model.classifier");

        var data = spec.Data;
        Defined(Check, data.Dataset, SpecNames.SpecName, "data.dataset");
        // The synthetic dataset is generated in memory, so its root is never read.
        Check(!data.Dataset.ReadsFiles() || !string.IsNullOrWhiteSpace(data.Root), "data.root", "must not be empty");
        Check(data.TrainSubset >= 0, "data.train_subset", "must be >= 0");
        Check(data.TestSubset >= 0, "data.test_subset", "must be >= 0");
        Check(data.Augment.CropPadding >= 0, "data.augment.crop_padding", "must be >= 0");
        Check(data.Augment.CropPadding <= SpecVocabulary.MaxAugmentPixels, "data.augment.crop_padding",
            AtMost(data.Augment.CropPadding, SpecVocabulary.MaxAugmentPixels) + " pixels (twice the largest image side)");
        Check(data.Augment.Cutout >= 0, "data.augment.cutout", "must be >= 0");
        Check(data.Augment.Cutout <= SpecVocabulary.MaxAugmentPixels, "data.augment.cutout",
            AtMost(data.Augment.Cutout, SpecVocabulary.MaxAugmentPixels) + " pixels (twice the largest image side)");

        var training = spec.Training;
        Check(training.Epochs >= 1, "training.epochs", "must be >= 1");
        Check(training.GlobalBatch >= 1, "training.global_batch", "must be >= 1");
        Check(training.GlobalBatch <= SpecVocabulary.MaxGlobalBatch, "training.global_batch", AtMost(training.GlobalBatch, SpecVocabulary.MaxGlobalBatch));
        Check(training.Threads >= 0, "training.threads", "must be >= 0");
        var maxThreads = (long)SpecVocabulary.ThreadsPerCore * Math.Max(1, host.ProcessorCount);
        Check(training.Threads <= maxThreads, "training.threads",
            $"{training.Threads} is more than {SpecVocabulary.ThreadsPerCore} per core of the {host.ProcessorCount} cores of this machine " +
            $"(at most {maxThreads}; 0 = this worker's share of the cores)");
        CheckBatchSplit(spec, Check);
        Check(training.BatchAugmentation >= 1, "training.batch_augmentation", "must be >= 1 (1 = off)");
        Check(training.BatchAugmentation <= SpecVocabulary.MaxBatchAugmentation, "training.batch_augmentation",
            AtMost(training.BatchAugmentation, SpecVocabulary.MaxBatchAugmentation));
        if (training.MixedSize is { } mixedSize)
            CheckMixedSize(mixedSize, model.Kind, modelKnown, Check);

        var optimizer = training.Optimizer;
        Defined(Check, optimizer.Kind, SpecNames.SpecName, "training.optimizer.kind");
        // Conditions state what is valid, so NaN (possible in specs built in code) fails them.
        Check(optimizer.Lr > 0, "training.optimizer.lr", "must be > 0");
        CheckFloat(Check, optimizer.Lr, "training.optimizer.lr");
        Check(optimizer.Momentum is >= 0 and < 1, "training.optimizer.momentum", "must be >= 0 and < 1");
        Check(optimizer.WeightDecay >= 0, "training.optimizer.weight_decay", "must be >= 0");
        CheckFloat(Check, optimizer.WeightDecay, "training.optimizer.weight_decay");
        // Nesterov's look-ahead is defined through the momentum buffer; without momentum it is meaningless.
        Check(!optimizer.Nesterov || optimizer.Momentum > 0, "training.optimizer.nesterov", "requires momentum > 0");
        if (training.Regime is { } regime)
            CheckRegime(regime, training, optimizer, Check);

        var checkpoint = spec.Checkpoint;
        Check(checkpoint.EverySteps >= 0, "checkpoint.every_steps", "must be >= 0");
        Check(checkpoint.Keep >= 1, "checkpoint.keep", "must be >= 1");

        if (spec.Compression is { } compression)
        {
            CheckCompression(compression, path => locate(path) is not null, Check);
            if (compression.OverlapForward)
            {
                Check(compression.Overlap, "compression.overlap_forward", "requires compression.overlap: true (the backward's overlap comes first)");
                Check(training.Regime is not { GradClipNorm: > 0 }, "compression.overlap_forward",
                    "cannot be used with training.regime.grad_clip_norm: clipping needs the norm of every averaged gradient before any update");
                Check(!compression.Codec.Factorizes(), "compression.overlap_forward",
                    $"cannot be used with codec {CodecKind.PowerSgd.SpecName()}: its low-rank factors need a bucket whole, not in pieces");
            }
        }
        LowPrecisionRules.Check(spec, path => locate(path) is not null, Check);
        if (spec.Metrics is { } metrics)
        {
            Check(metrics.Port is >= 0 and <= SpecVocabulary.MaxPort, "metrics.port", $"must be 0 (off) or a port 1..{SpecVocabulary.MaxPort}");
            Check(!string.IsNullOrWhiteSpace(metrics.Host), "metrics.host", "must not be empty");
        }
        if (spec.Fault is { } fault)
        {
            Check(fault.StallSeconds >= 1, "fault.stall_seconds", "must be >= 1");
            Check(fault.MaxRestarts is >= 0 and <= SpecVocabulary.MaxRestarts, "fault.max_restarts", $"must be >= 0 and <= {SpecVocabulary.MaxRestarts}");
            Check(fault.RestartBackoffSeconds is >= 0 and <= SpecVocabulary.MaxRestartBackoffSeconds, "fault.restart_backoff_seconds",
                $"must be >= 0 and <= {SpecVocabulary.MaxRestartBackoffSeconds}");
        }
        if (host.AvailableMemoryBytes is { } available && MemoryEstimate.Applies(spec))
            CheckMemory(spec, available, Check);
        if (spec.Scaling is { } scaling)
        {
            Defined(Check, scaling.Policy, SpecNames.SpecName, "scaling.policy");
            // Mixed-size plans lay out whole epochs for one global batch; a batch that changes mid-epoch has no plan.
            Check(!scaling.KeepsWorkerBatch || !training.MixedSizeOrOff.Enabled, "scaling.policy",
                $"{ScalingPolicy.KeepWorkerBatch.SpecName()} cannot be combined with training.mixed_size (its plan fixes the global batch); " +
                $"use {ScalingPolicy.KeepGlobalBatch.SpecName()}");
            Defined(Check, scaling.OnNodeLoss, SpecNames.SpecName, "scaling.on_node_loss");
            Check(scaling.MinWorkers >= 1 && scaling.MinWorkers <= Math.Max(1, spec.Workers), "scaling.min_workers", $"must be >= 1 and <= workers ({spec.Workers})");
            Check(scaling.MinWorkers == 1 || scaling.OnNodeLoss == NodeLossPolicy.Shrink, "scaling.min_workers",
                $"applies only with on_node_loss: {NodeLossPolicy.Shrink.SpecName()} (a restart keeps the job's {spec.Workers} workers)");
            // B+ mixed-size plans run on the spec's worker count only: there is nothing to shrink to.
            Check(scaling.OnNodeLoss != NodeLossPolicy.Shrink || training.MixedSizeOrOff.Mode != MixedSizeMode.BPlus, "scaling.on_node_loss",
                $"{NodeLossPolicy.Shrink.SpecName()} cannot be combined with training.mixed_size mode B+ (its plan runs on the spec's {spec.Workers} workers only)");
        }
        if (spec.Placement is { } placement)
        {
            Defined(Check, placement.Policy, SpecNames.SpecName, "placement.policy");
            Check(placement.RanksPerNode is >= 0 and <= SpecVocabulary.MaxRanksPerNode, "placement.ranks_per_node",
                $"must be 0 (as many as a node's free slots) or 1..{SpecVocabulary.MaxRanksPerNode}");
        }
        return errors;
    }

    /// <summary>The global batch splits evenly over the workers, and each worker's share into whole ghost batches.</summary>
    private static void CheckBatchSplit(JobSpec spec, Action<bool, string, string> check)
    {
        var training = spec.Training;
        var ghost = training.GhostBatch;
        var workers = spec.Workers;
        // Out-of-range counts are reported on their own; shares of them would only repeat the error.
        var splittable = training.GlobalBatch >= 1 && workers is >= 1 and <= SpecVocabulary.MaxWorkers;
        if (splittable && workers > 1)
        {
            check(training.GlobalBatch % workers == 0, "training.global_batch",
                $"must be a multiple of workers ({workers}): each worker takes an equal share");
        }
        var ghostNorm = NormKind.GhostBatch.SpecName();
        // Range batch norm takes ghost batches optionally (0 = the whole local batch); a size given obeys ghost batch norm's rules.
        if (spec.Model.Norm == NormKind.GhostBatch || (spec.Model.Norm == NormKind.RangeBatch && ghost != 0))
        {
            if (ghost == 0)
            {
                check(false, "training.ghost_batch", $"is required when model.norm is {ghostNorm}");
            }
            else if (!(ghost >= 2))
            {
                check(false, "training.ghost_batch", "must be >= 2 (batch statistics of one sample are degenerate)");
            }
            else if (splittable && workers == 1)
            {
                check(training.GlobalBatch % ghost == 0, "training.global_batch", "must be a positive multiple of training.ghost_batch");
            }
            else if (splittable && training.GlobalBatch % workers == 0) // an uneven split is reported above
            {
                // Each worker normalizes its own share, so the ghost batches must tile that share.
                var perWorker = training.GlobalBatch / workers;
                check(perWorker % ghost == 0, "training.ghost_batch",
                    $"must divide the per-worker batch global_batch/workers = {perWorker}");
            }
        }
        else
        {
            check(ghost >= 0, "training.ghost_batch", "must be >= 0 (0 = unused)");
            check(ghost <= 0, "training.ghost_batch", $"is only used with model.norm: {ghostNorm} or {NormKind.RangeBatch.SpecName()}");
        }
        CheckMicroBatch(spec, splittable, check);
    }

    /// <summary>Micro-batches tile each worker's share, hold whole ghost batches, and give batch norm two rows or more.</summary>
    private static void CheckMicroBatch(JobSpec spec, bool splittable, Action<bool, string, string> check)
    {
        var training = spec.Training;
        var micro = training.MicroBatch;
        const string at = "training.micro_batch";
        if (micro == 0)
            return;
        if (micro < 0)
        {
            check(false, at, "must be >= 1 (0 = the whole local batch in one pass)");
            return;
        }
        if (splittable && training.GlobalBatch % spec.Workers == 0)
        {
            var perWorker = training.GlobalBatch / spec.Workers;
            check(perWorker % micro == 0, at, $"{micro} must divide the per-worker batch global_batch/workers = {perWorker}");
        }
        if ((spec.Model.Norm is NormKind.GhostBatch or NormKind.RangeBatch) && training.GhostBatch >= 2)
            check(micro % training.GhostBatch == 0, at,
                $"{micro} must be a multiple of training.ghost_batch ({training.GhostBatch}): a ghost batch never spans two micro-batches");
        if ((spec.Model.Norm == NormKind.Batch || (spec.Model.Norm == NormKind.RangeBatch && training.GhostBatch == 0)) && training.BatchAugmentation >= 1)
            check((long)micro * training.BatchAugmentation >= 2, at,
                "must give batch norm at least 2 rows per forward (micro_batch x batch_augmentation)");
    }

    /// <param name="written">Whether a path was given in the file or by --set (so an error there has a place to point at).</param>
    private static void CheckCompression(CompressionSpec compression, Func<string, bool> written,
        Action<bool, string, string> check)
    {
        const string at = "compression";
        var codecKnown = Defined(check, compression.Codec, SpecNames.SpecName, $"{at}.codec");
        Defined(check, compression.Pruner, SpecNames.SpecName, $"{at}.pruner");
        var algorithmKnown = Defined(check, compression.Algorithm, SpecNames.SpecName, $"{at}.algorithm");

        // n and m may stay in the file under a codec that does not prune; they are kept but not checked.
        if (compression.Codec.Prunes())
        {
            var (n, m) = (compression.N, compression.M);
            check(NmPattern.ValidN(n), $"{at}.n", "must be >= 1");
            check(NmPattern.ValidM(m), $"{at}.m", $"must be >= 2 and <= {NmPattern.MaxM}");
            if (NmPattern.ValidN(n) && NmPattern.ValidM(m) && !compression.Nm.IsValid)
            {
                // Blame the one the user wrote; with both (or neither) written, n.
                if (written($"{at}.m") && !written($"{at}.n"))
                    check(false, $"{at}.m", $"must be > compression.n ({n}): N:M keeps n of every m values");
                else
                    check(false, $"{at}.n", $"must be < compression.m ({m}): N:M keeps n of every m values");
            }
        }

        // rank may stay in the file under another codec, as n and m do.
        if (compression.Codec.Factorizes())
            check(compression.Rank is >= 1 and <= SpecVocabulary.MaxPowerSgdRank, $"{at}.rank",
                $"must be >= 1 and <= {SpecVocabulary.MaxPowerSgdRank} (the approximation rank of powersgd)");

        if (codecKnown && algorithmKnown && !compression.Algorithm.Carries(compression.Codec))
        {
            if (compression.Codec.Factorizes())
                check(false, $"{at}.algorithm",
                    $"{compression.Codec.SpecName()} requires algorithm {AllreduceKind.Mpi.SpecName()}, got {compression.Algorithm.SpecName()}: " +
                    "its low-rank factors travel as fp32 sums through MPI_Allreduce (leave algorithm out, or write mpi)");
            else
                check(false, $"{at}.algorithm",
                    $"{compression.Algorithm.SpecName()} requires codec {CodecKind.None.SpecName()} or {CodecKind.PowerSgd.SpecName()}, got {compression.Codec.SpecName()}: " +
                    $"plain fp32 MPI_Allreduce cannot carry encoded gradients; use {AllreduceKind.Ring.SpecName()} or {AllreduceKind.Allgather.SpecName()}");
        }
        check(compression.BucketMb is > 0 and <= SpecVocabulary.MaxBucketMb, $"{at}.bucket_mb",
            $"must be > 0 and <= {Number(SpecVocabulary.MaxBucketMb)}");
        check(compression.WarmupSteps >= 0, $"{at}.warmup_steps", "must be >= 0");
        check(compression.MinCompressElements >= 0, $"{at}.min_compress_elements", "must be >= 0");
    }

    private static void CheckMixedSize(MixedSizeSpec mixed, ModelKind modelKind, bool modelKnown,
        Action<bool, string, string> check)
    {
        const string at = "training.mixed_size";
        // Sizes and probabilities may stay in the file while the mode is off; they are kept but not checked.
        if (!Defined(check, mixed.Mode, SpecNames.SpecName, $"{at}.mode") || !mixed.Enabled)
            return;

        if (modelKnown)
        {
            var pooling = System.Enum.GetValues<ModelKind>().Where(k => k.HasGlobalPooling()).Select(k => k.SpecName());
            check(modelKind.HasGlobalPooling(), $"{at}.mode",
                $"needs a model with global pooling ({string.Join(", ", pooling)}); " +
                $"model.kind {modelKind.SpecName()} takes only the dataset's image size");
        }

        var sizes = mixed.Sizes;
        if (sizes.Count == 0)
        {
            // Without sizes there is nothing to hold probabilities against.
            check(false, $"{at}.sizes", $"must list at least one size when mode is {mixed.Mode.SpecName()}");
            return;
        }
        for (var i = 0; i < sizes.Count; i++)
        {
            check(sizes[i] >= SpecVocabulary.MinImageSize, $"{at}.sizes[{i}]",
                $"{sizes[i]} is smaller than the model accepts ({SpecVocabulary.MinImageSize} px)");
            check(sizes[i] <= SpecVocabulary.MaxImageSize, $"{at}.sizes[{i}]",
                $"{sizes[i]} is larger than the limit of {SpecVocabulary.MaxImageSize} px");
        }

        var probabilities = mixed.Probabilities;
        if (probabilities.Count != sizes.Count)
        {
            check(false, $"{at}.probabilities",
                $"must have one entry per size ({sizes.Count} size{(sizes.Count == 1 ? "" : "s")}, got {probabilities.Count})");
            return;
        }
        var allInRange = true;
        for (var i = 0; i < probabilities.Count; i++)
        {
            var ok = probabilities[i] is > 0 and <= 1;
            allInRange &= ok;
            check(ok, $"{at}.probabilities[{i}]", "must be > 0 and <= 1");
        }
        // One bad entry already explains a wrong sum.
        if (allInRange)
        {
            var sum = probabilities.Sum();
            check(Math.Abs(sum - 1) <= 1e-6, $"{at}.probabilities", $"must sum to 1, got {Number(sum)}");
        }
    }

    private static void CheckRegime(RegimeSpec regime, TrainingSpec training, OptimizerSpec optimizer, Action<bool, string, string> check)
    {
        const string at = "training.regime";
        Defined(check, regime.LrScaling, SpecNames.SpecName, $"{at}.lr_scaling");
        check(regime.BaseBatch >= 1, $"{at}.base_batch", "must be >= 1");
        // The trainer counts adapted epochs in an int: epochs x ceil(global_batch/base_batch) must fit one.
        if (regime.AdaptUpdates && regime.BaseBatch >= 1 && training.GlobalBatch >= 1 && training.Epochs >= 1)
        {
            var adapted = (long)training.Epochs * (((long)training.GlobalBatch + regime.BaseBatch - 1) / regime.BaseBatch);
            check(adapted <= int.MaxValue, "training.epochs",
                $"{training.Epochs} x ceil(global_batch/base_batch) = {adapted} adapted epochs is more than an int holds ({int.MaxValue})");
        }
        check(regime.WarmupEpochs >= 0, $"{at}.warmup_epochs", "must be >= 0");
        CheckFloat(check, regime.WarmupEpochs, $"{at}.warmup_epochs");
        check(regime.GradClipNorm >= 0, $"{at}.grad_clip_norm", "must be >= 0 (0 = off)");
        CheckFloat(check, regime.GradClipNorm, $"{at}.grad_clip_norm");

        var phases = regime.Phases;
        check(phases.Count > 0, $"{at}.phases", "must have at least one phase");
        // The settings in force as each phase starts: a phase changes only what it names.
        var momentum = optimizer.Momentum;
        var nesterov = optimizer.Nesterov;
        for (var i = 0; i < phases.Count; i++)
        {
            var phase = phases[i];
            var path = $"{at}.phases[{i}]";
            if (i == 0)
            {
                check(phase.Epoch == 0, $"{path}.epoch", $"the first phase must start at epoch 0; got {Number(phase.Epoch)}");
            }
            else if (!(phase.Epoch >= 0))
            {
                check(false, $"{path}.epoch", "must be >= 0");
            }
            else if (!double.IsFinite(phase.Epoch))
            {
                check(false, $"{path}.epoch", "must be a finite number");
            }
            else
            {
                // Epochs beyond training.epochs are allowed: such a phase simply never starts.
                var previous = phases[i - 1].Epoch;
                check(phase.Epoch != previous, $"{path}.epoch", $"two phases start at epoch {Number(phase.Epoch)}");
                check(!(phase.Epoch < previous), $"{path}.epoch",
                    $"phases out of order: epoch {Number(phase.Epoch)} after {Number(previous)}");
            }

            // Phase 0 without lr takes training.optimizer.lr; later phases without lr keep the one before.
            if (phase.Lr is { } lr)
            {
                check(lr > 0, $"{path}.lr", "must be > 0");
                CheckFloat(check, lr, $"{path}.lr");
            }
            if (Defined(check, phase.Schedule, SpecNames.SpecName, $"{path}.schedule") && phase.EndLr is { } endLr)
            {
                switch (phase.Schedule)
                {
                    case ScheduleKind.Constant:
                        check(false, $"{path}.end_lr",
                            $"is only used with a {ScheduleKind.Linear.SpecName()}, {ScheduleKind.Cosine.SpecName()} or {ScheduleKind.Exp.SpecName()} schedule");
                        break;
                    case ScheduleKind.Exp:
                        check(endLr > 0, $"{path}.end_lr", $"must be > 0 for schedule {ScheduleKind.Exp.SpecName()}");
                        CheckFloat(check, endLr, $"{path}.end_lr");
                        break;
                    case ScheduleKind.Linear or ScheduleKind.Cosine:
                        check(endLr >= 0, $"{path}.end_lr", "must be >= 0");
                        CheckFloat(check, endLr, $"{path}.end_lr");
                        break;
                }
            }
            if (phase.Momentum is { } m)
                check(m is >= 0 and < 1, $"{path}.momentum", "must be >= 0 and < 1");
            if (phase.WeightDecay is { } wd)
            {
                check(wd >= 0, $"{path}.weight_decay", "must be >= 0");
                CheckFloat(check, wd, $"{path}.weight_decay");
            }

            momentum = phase.Momentum ?? momentum;
            nesterov = phase.Nesterov ?? nesterov;
            // Report only where a phase changes the pair; an inherited bad pair was reported where it began.
            if (nesterov && !(momentum > 0) && (phase.Nesterov is not null || phase.Momentum is not null))
            {
                check(false, phase.Nesterov is not null ? $"{path}.nesterov" : $"{path}.momentum",
                    phase.Nesterov is not null ? "requires momentum > 0" : "must be > 0 while nesterov is on");
            }
        }
    }

    /// <summary>
    /// A value the trainer uses as a float32 (learning rates, weight decay, clip norm, warm-up): beyond float32's range
    /// it would become infinity there. NaN and negative values fail the field's own range check, not this one.
    /// </summary>
    private static void CheckFloat(Action<bool, string, string> check, double value, string path) =>
        check(!(Math.Abs(value) > float.MaxValue), path,
            $"{Number(value)} is beyond the float32 range the trainer computes in (at most {float.MaxValue.ToString("G9", CultureInfo.InvariantCulture)})");

    /// <summary>The job's workers (all on this machine, as <c>run</c> and <c>mpirun</c> start them) must fit in its available memory.</summary>
    private static void CheckMemory(JobSpec spec, long available, Action<bool, string, string> check)
    {
        var estimate = MemoryEstimate.Of(spec);
        var total = (double)estimate.TotalBytes * spec.Workers;
        if (total <= available)
            return;
        var training = spec.Training;
        var shape = DatasetShape.Of(spec.Data.Dataset);
        var modelBytes = estimate.ModelBytes + estimate.OptimizerBytes;
        // Blame the field behind the largest part.
        var path = estimate.ActivationBytes >= Math.Max(modelBytes, estimate.DatasetBytes) ? (training.MicroBatch > 0 ? "training.micro_batch" : "training.global_batch")
            : modelBytes >= estimate.DatasetBytes ? "model.width"
            : "data.train_subset";
        var workers = spec.Workers == 1 ? "1 worker" : $"{spec.Workers} workers";
        check(false, path,
            $"the job needs about {MemoryEstimate.Format((long)Math.Min(total, long.MaxValue))} of memory, more than the " +
            $"{MemoryEstimate.Format(available)} available on this machine: {workers} x {MemoryEstimate.Format(estimate.TotalBytes)} " +
            $"(activations {MemoryEstimate.Format(estimate.ActivationBytes)} for {estimate.RowsPerWorker} rows of " +
            $"{shape.Channels}x{estimate.ImageSide}x{estimate.ImageSide} per forward = " +
            (training.MicroBatch > 0 ? $"micro_batch {training.MicroBatch}" : $"global_batch {training.GlobalBatch} / workers {spec.Workers}") +
            $" x batch_augmentation {training.BatchAugmentation}; model {spec.Model.Kind.SpecName()} width {spec.Model.Width}: " +
            $"{estimate.Parameters} parameters, {MemoryEstimate.Format(modelBytes)} with gradients and optimizer state; " +
            $"dataset {MemoryEstimate.Format(estimate.DatasetBytes)}); lower training.global_batch (or set training.micro_batch to accumulate gradients " +
            "over smaller passes), training.batch_augmentation, model.width or workers");
    }

    private static string AtMost(long value, long max) => $"{value} is more than the limit of {max}";

    /// <summary>Whether a choice holds a named value; specs built in code can hold one no member names, e.g. (CodecKind)7.</summary>
    internal static bool Defined<T>(Action<bool, string, string> check, T value, Func<T, string> name, string path) where T : struct, Enum
    {
        var defined = System.Enum.IsDefined(value);
        check(defined, path, SpecChoice.Unknown(Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture), name));
        return defined;
    }

    private static string Number(double value) => value.ToString("G10", CultureInfo.InvariantCulture);
}
