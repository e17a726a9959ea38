using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.LowPrecision;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.Regimes;
using Orchestrator.Trainer.Telemetry;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// The training loop of one worker: sample its shard of each global batch, augment, forward,
/// backward, synchronize gradients, step; evaluate every epoch; checkpoint every N steps.
/// Everything random is a function of (seed, position), so a resumed run continues bit-exactly.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    private readonly JobSpec spec;
    private readonly TrainingOptions options;
    private readonly TensorDataset train;
    private readonly TensorDataset test;
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly TorchSharp.Modules.OptimizerHelper optimizer;
    private readonly List<Parameter> parameters;
    private readonly ShardedSampler sampler;
    private readonly EpochPlanner planner;
    private readonly Regime regime;
    private readonly BatchAugmenter augmenter;
    private readonly string fingerprint;
    private readonly CheckpointStore? checkpoints;
    private readonly bool isLeader;
    private readonly bool ownsData;
    private readonly int minimumRows;
    private readonly LowPrecisionTraining? lowPrecision;
    private readonly DeferredUpdates? deferred;
    private readonly FinalizerDrain drain = new();
    private bool stopRequested;

    public TrainingRun(JobSpec spec, DatasetSplits data, TrainingOptions options)
    {
        this.spec = spec;
        this.options = options;
        isLeader = options.Synchronizer.Rank == 0;
        train = data.Train.To(options.Device);
        test = data.Test.To(options.Device);
        ownsData = !ReferenceEquals(train, data.Train); // copies on another device are ours; the caller's data is not

        var input = new ModelInput(train.Channels, train.Height, train.Width, train.Classes);
        fingerprint = ModelFingerprint.Of(spec.Model, input);
        torch.random.manual_seed(spec.Training.Seed);
        lowPrecision = LowPrecisionTraining.For(spec, options.Synchronizer.Rank);
        model = ModelRegistry.Create(spec.Model, input, spec.Training.GhostBatch, lowPrecision?.LayerFactory);
        lowPrecision?.CheckModel(spec.Model);
        fingerprint += lowPrecision?.FingerprintTag;
        model.to(options.Device);
        if (ConvolutionSelfCheck.EnsureCorrect(model, options.Device) is { } fallback) options.Observer.OnNotice(fallback);
        options.Synchronizer.Attach(model);
        parameters = model.parameters().ToList();
        optimizer = OptimizerFactory.Create(spec.Training.Optimizer, parameters);
        deferred = options.Synchronizer.DefersUpdates ? new DeferredUpdates(model, options.Synchronizer, optimizer) : null;

        var training = spec.Training;
        sampler = new ShardedSampler(train.Count, training.GlobalBatch, training.Seed, options.Synchronizer.Rank, options.Synchronizer.WorldSize);
        minimumRows = BatchStatistics.MinimumRowsPerWorker(model);
        planner = new EpochPlanner(train.Count, training.GlobalBatch, training.Seed, training.MixedSizeOrOff, train.Height,
            training.BatchAugmentation, Math.Max(1, training.GhostBatch) * options.Synchronizer.WorldSize,
            options.Synchronizer.WorldSize, minimumRows);
        regime = new Regime(training, planner.StepsPerEpoch);
        augmenter = new BatchAugmenter(spec.Data.Augment);
        if (options.Output is not null)
            checkpoints = new CheckpointStore(options.Output.Checkpoints, spec.Checkpoint.Keep);
    }

    public nn.Module<Tensor, Tensor> Model => model;
    public long TotalSteps => regime.TotalSteps;

    /// <summary>The learning-rate regime (epochs adapted, rates scaled) this run follows.</summary>
    public Regime Regime => regime;
    public long ParameterCount => parameters.Sum(p => p.numel());

    /// <summary>After <see cref="Run"/>: whether it stopped before the end (Ctrl+C or a Stop directive) after checkpointing.</summary>
    public bool StoppedEarly { get; private set; }

    /// <summary>Trains to the end (or to <see cref="TrainingOptions.StopAfterStep"/>, or until cancelled:
    /// then a checkpoint is written at the step boundary) and returns the summary.</summary>
    public RunSummary Run(CancellationToken cancellation = default)
    {
        var wall = Stopwatch.StartNew();
        var position = options.Resume ? RestoreNewest() : TrainingPosition.Start;
        long resumedFrom = position.Step;
        if (resumedFrom > 0) options.Synchronizer.VerifyIdentical(model, position.Step); // every worker loaded the same checkpoint
        // Resumed from the final checkpoint (e.g. a relaunch after a rescale the job finished before it could stop for):
        // nothing to train, and the finished run's summary and plots stay as they were.
        bool alreadyFinished = resumedFrom > 0 && position.Epoch >= regime.TotalEpochs;
        if (alreadyFinished) options.Observer.OnNotice($"already finished at step {position.Step}; nothing left to train");
        using var metrics = isLeader && options.Output is not null ? new MetricsLog(options.Output.Metrics, position.Step) : null;
        options.Observer.OnStart(new TrainingPlan(TotalSteps, planner.StepsPerEpoch, regime.TotalEpochs, position.Step,
            options.Device.ToString(), torch.get_num_threads(), ParameterCount));

        double stepSeconds = 0;
        long stepSamples = 0;
        EvalRecord? last = null;
        double best = 0;
        bool stoppedEarly = false;
        var nonFinite = new NonFiniteWatch();
        while (position.Epoch < regime.TotalEpochs)
        {
            stopRequested = cancellation.IsCancellationRequested;
            var started = Stopwatch.GetTimestamp();
            var before = SyncSnapshot.Of(options.Synchronizer.Stats);
            var settings = regime.At(RegimeStep(position));
            var (loss, accuracy, samples, applied, stopAgreed, directive) = TrainStep(position, settings);
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var sync = SyncSnapshot.Of(options.Synchronizer.Stats) - before;
            stepSeconds += seconds;
            stepSamples += samples;

            var trainedEpoch = position.Epoch;
            position = Next(position, applied);
            var record = new StepRecord(position.Step, trainedEpoch,
                settings.Lr, settings.Momentum, loss, accuracy, samples, seconds, wall.Elapsed.TotalSeconds,
                sync.CompressionSeconds, sync.CommunicationSeconds, sync.BytesSent, sync.BytesReceived, sync.CompressionRatio, !applied,
                sync.HiddenSeconds, lowPrecision?.TakeStepRecord());
            metrics?.Write(record);
            options.Observer.OnStep(record);
            if (!double.IsFinite(loss)) CompletePendingUpdate(); // the watch then looks at the parameters
            if (nonFinite.AfterStep(position.Step, trainedEpoch, loss, settings.Lr, applied, parameters) is { } stepNotice)
                options.Observer.OnNotice(stepNotice);

            if (position.Offset == 0 || (options.EvaluateEverySteps > 0 && position.Step % options.EvaluateEverySteps == 0))
            {
                last = EvaluateNow(position);
                best = Math.Max(best, last.TestAccuracy);
                metrics?.Write(last);
                options.Observer.OnEvaluation(last);
                if (NonFiniteWatch.AfterEvaluation(last.Step, last.TestLoss) is { } evalNotice)
                    options.Observer.OnNotice(evalNotice);
            }

            if (options.VerifyEverySteps > 0 && position.Step % options.VerifyEverySteps == 0)
            {
                CompletePendingUpdate();
                options.Synchronizer.VerifyIdentical(model, position.Step);
            }
            if (position.Step == options.StopAfterStep)
            {
                CompletePendingUpdate();
                return Summary(position, last, best, stepSamples, stepSeconds, wall, resumedFrom);
            }
            if (stopAgreed) { stoppedEarly = true; break; }
            bool finished = position.Epoch >= regime.TotalEpochs;
            if (finished || directive == TrainerDirective.Checkpoint || (spec.Checkpoint.EverySteps > 0 && position.Step % spec.Checkpoint.EverySteps == 0))
                SaveCheckpoint(position);
        }
        if (stoppedEarly) SaveCheckpoint(position);
        StoppedEarly = stoppedEarly;

        CompletePendingUpdate();
        options.Synchronizer.VerifyIdentical(model, position.Step);
        last ??= EvaluateNow(position);
        var summary = Summary(position, last, Math.Max(best, last.TestAccuracy), stepSamples, stepSeconds, wall, resumedFrom);
        if (isLeader && options.Output is not null && !stoppedEarly && !(alreadyFinished && File.Exists(options.Output.Summary)))
            WriteOutputs(summary);
        return summary;
    }

    /// <summary>
    /// One optimizer step on this worker's shard of the global batch at <paramref name="position"/>,
    /// with the regime's <paramref name="settings"/>: gather, resize (mixed sizes), repeat (batch
    /// augmentation), augment, then forward and backward per micro-batch (gradients summed), synchronize once,
    /// clip, update.
    /// </summary>
    public StepOutcome TrainStep(TrainingPosition position, OptimizerSettings settings) =>
        drain.Around(() => StepOnce(position, settings));

    /// <summary>The drain after the steps (switched off only to measure what it changes).</summary>
    internal FinalizerDrain Drain => drain;

    private StepOutcome StepOnce(TrainingPosition position, OptimizerSettings settings)
    {
        using var scope = NewDisposeScope();
        // Masks are computed from the weights: the deferred update must be in them first.
        if (lowPrecision?.Masks is { } masks && position.Step % masks.RecomputeEvery == 0) CompletePendingUpdate();
        lowPrecision?.BeginStep(position.Step);
        var planned = planner.StepAt(position.Epoch, position.Offset);
        var indices = sampler.LocalBatch(position.Epoch, position.Offset, planned.Count);
        options.Samples?.Record(position, indices);
        var index = torch.tensor(indices, device: options.Device);
        var x = ImageResizer.Resize(train.Images.index_select(0, index), planned.Size);
        var y = train.Labels.index_select(0, index);
        (x, y) = BatchAugmentation.Expand(x, y, planned.Duplicates);
        using (var generator = new Generator((ulong)StepSeed.For(spec.Training.Seed, position.Step, options.Synchronizer.Rank)))
            x = augmenter.Apply(x, generator);

        if (deferred is null)
        {
            OptimizerFactory.Apply(optimizer, settings);
            optimizer.zero_grad();
        } // else the deferred update clears each bucket's gradients once it applied them, during the forward
        // A test fault that rewrites this worker's gradients after the backward must come before any bucket leaves: no
        // overlap on that step (the synchronization's messages are the same either way).
        bool rewritesGradients = options.Faults is { NonFiniteStep: { } nanStep } faults && nanStep == position.Step
            && faults.NonFiniteRank == options.Synchronizer.Rank;
        var (lossSum, correct) = ForwardBackward(x, y, indices.Length, planned.Duplicates, rewritesGradients ? null : position.Step);
        options.Faults?.Apply(position.Step, options.Synchronizer.Rank, parameters);
        // Loss and accuracy of the whole global batch, not just this worker's shard.
        // The same reduction carries the stop request and rank 0's control-plane directive (0 on the other
        // ranks), so every worker stops or checkpoints after the same step.
        var directive = isLeader && options.Directives is { } take ? take() : TrainerDirective.None;
        Span<double> totals = [lossSum, correct, y.shape[0], stopRequested ? 1 : 0, (int)directive];
        bool applied;
        if (deferred is not null)
        {
            // overlap_forward: the totals travel with the gradients; the update waits for the next forward.
            applied = options.Synchronizer.SynchronizeDeferred(position.Step, totals);
            deferred.Defer(settings, applied);
        }
        else
        {
            applied = options.Synchronizer.Synchronize(position.Step);
            if (applied)
            {
                if (regime.GradClipNorm > 0)
                    nn.utils.clip_grad_norm_(parameters, regime.GradClipNorm);
                optimizer.step();
            }
            options.Synchronizer.SumAcrossWorkers(totals);
        }
        var agreed = (TrainerDirective)(int)totals[4];
        return new StepOutcome(totals[0] / Math.Max(1, totals[2]), totals[1] / Math.Max(1, totals[2]), planned.Count, applied,
            totals[3] > 0 || agreed == TrainerDirective.Stop, agreed);
    }

    /// <summary>
    /// Forward and backward over the local batch (<paramref name="samples"/> samples, <paramref name="copies"/> rows each)
    /// in the micro-batches of <c>training.micro_batch</c>, leaving the gradient of the whole batch's mean loss in the
    /// parameters: each pass's mean loss is weighted by its share of the rows, so the summed gradients equal one pass over
    /// everything up to float summation order. Returns the summed loss and the correct predictions over all rows.
    /// With <paramref name="overlapStep"/>, the last pass's backward may start averaging buckets whose gradients it
    /// made final (<see cref="IGradientSynchronizer.BeginOverlap"/>).
    /// </summary>
    private (double LossSum, long Correct) ForwardBackward(Tensor x, Tensor y, int samples, int copies, long? overlapStep)
    {
        var passes = MicroBatches.Split(samples, spec.Training.MicroBatch, copies, minimumRows);
        long rows = y.shape[0];
        double lossSum = 0;
        long correct = 0;
        foreach (var pass in passes)
        {
            using var scope = NewDisposeScope(); // a pass's activations go before the next one's are made
            if (overlapStep is { } step && pass == passes[^1]) options.Synchronizer.BeginOverlap(step);
            long length = (long)pass.Count * copies;
            var (xs, ys) = passes.Count == 1 ? (x, y) : (x.narrow(0, (long)pass.Start * copies, length), y.narrow(0, (long)pass.Start * copies, length));
            if (pass == passes[0]) deferred?.BeforeForward();
            var logits = model.forward(xs);
            if (pass == passes[0]) CompletePendingUpdate(); // what the forward did not need, before any backward
            var loss = nn.functional.cross_entropy(logits, ys);
            (passes.Count == 1 ? loss : loss * ((double)length / rows)).backward();
            lossSum += loss.item<float>() * length;
            correct += logits.argmax(1).eq(ys).sum().item<long>();
        }
        return (lossSum, correct);
    }

    /// <summary>
    /// With <c>compression.overlap_forward</c> the last step's update is applied by the next forward; this applies
    /// whatever of it is still deferred (before anything looks at the parameters or talks to the other workers).
    /// Does nothing otherwise. Call it after <see cref="TrainStep(TrainingPosition)"/> before reading the parameters.
    /// </summary>
    public void CompletePendingUpdate()
    {
        if (deferred is null || deferred.Complete()) return;
        options.Observer.OnNotice("an averaged gradient bucket was not finite (a codec could not carry it): every worker skipped that bucket's update");
    }

    /// <summary>The step at <paramref name="position"/> with the regime's settings for it.</summary>
    public StepOutcome TrainStep(TrainingPosition position) =>
        TrainStep(position, regime.At(RegimeStep(position)));

    /// <summary>
    /// Where the regime stands at <paramref name="position"/>: epochs times steps per epoch plus the step's index in its
    /// epoch. Equal to the step count unless the global batch changed (a keep_worker_batch rescale); then the
    /// schedule continues at the same fraction of training instead of jumping.
    /// </summary>
    public long RegimeStep(TrainingPosition position) =>
        (long)position.Epoch * planner.StepsPerEpoch + planner.IndexAt(position.Epoch, position.Offset);

    /// <summary>The position after the step at <paramref name="position"/> (<paramref name="applied"/>
    /// false when every worker skipped it).</summary>
    public TrainingPosition Next(TrainingPosition position, bool applied = true)
    {
        long offset = position.Offset + planner.StepAt(position.Epoch, position.Offset).Count;
        long skipped = position.Skipped + (applied ? 0 : 1);
        return offset >= train.Count
            ? new TrainingPosition(position.Step + 1, position.Epoch + 1, 0, skipped)
            : new TrainingPosition(position.Step + 1, position.Epoch, offset, skipped);
    }

    private EvalRecord EvaluateNow(TrainingPosition position)
    {
        CompletePendingUpdate();
        options.Observer.OnActivity(TrainingActivity.Evaluating);
        try
        {
            return Evaluate(position);
        }
        finally
        {
            drain.Now(); // an evaluation's forwards leave their scalars too
            options.Observer.OnActivity(TrainingActivity.Training);
        }
    }

    private EvalRecord Evaluate(TrainingPosition position)
    {
        options.Faults?.DelayEvaluation();
        options.Synchronizer.SyncBuffers(model);
        if (spec.Training.MixedSizeOrOff.Enabled)
            RunningStatsReestimation.Reestimate(model, ReestimationBatches());
        // Each rank its share of the test set, in forwards small enough to stay in the heap (EvaluationBatch says why).
        var (loss, accuracy) = Evaluator.Evaluate(model, test, options.Synchronizer,
            EvaluationBatch.Rows(spec.Model, test.Channels, Math.Max(test.Height, test.Width)));
        return new EvalRecord(position.Step, position.Offset == 0 ? Math.Max(0, position.Epoch - 1) : position.Epoch, loss, accuracy);
    }

    /// <summary>Training images at the evaluation (native) size, in dataset order: the same batches on
    /// every worker and after every resume.</summary>
    private IEnumerable<Tensor> ReestimationBatches()
    {
        const int batches = 20;
        int batch = Math.Min(train.Count, Math.Max(spec.Training.GlobalBatch / options.Synchronizer.WorldSize, 32));
        for (int b = 0; b < batches && (b + 1) * batch <= train.Count; b++)
            yield return train.Images.narrow(0, (long)b * batch, batch);
    }

    private TrainingPosition RestoreNewest()
    {
        if (checkpoints is null) return TrainingPosition.Start;
        var found = checkpoints.List();
        if (found.Count == 0) return TrainingPosition.Start;
        var checkpoint = checkpoints.LoadNewestValid(options.Observer.OnNotice)
            ?? throw new UserFacingException($"{checkpoints.Directory}: none of the {found.Count} checkpoints is valid; delete the directory or pass --fresh to start over");
        if (LowPrecisionCheckpoint.MaskRefusal(checkpoint.ModelFingerprint, fingerprint) is { } refusal)
            throw new UserFacingException($"{checkpoint.Path}: {refusal}");
        if (checkpoint.ModelFingerprint != fingerprint)
            throw new UserFacingException($"{checkpoint.Path}: written for model {checkpoint.ModelFingerprint}, but the spec builds {fingerprint}; use another --out or --fresh");
        using (var stream = new MemoryStream(checkpoint.ModelState)) model.load(stream);
        using (var reader = new BinaryReader(new MemoryStream(checkpoint.OptimizerState))) optimizer.load_state_dict(reader);
        if (options.Synchronizer.RestoreState(checkpoint.SynchronizerState) is { } fresh) options.Observer.OnNotice(fresh);
        options.Observer.OnNotice($"resumed from {checkpoint.Path} (step {checkpoint.Position.Step}, epoch {checkpoint.Position.Epoch}, sample offset {checkpoint.Position.Offset})");
        return checkpoint.Position;
    }

    private void SaveCheckpoint(TrainingPosition position)
    {
        if (checkpoints is null) return;
        options.Observer.OnActivity(TrainingActivity.Checkpointing);
        try
        {
            WriteCheckpoint(checkpoints, position);
        }
        finally
        {
            options.Observer.OnActivity(TrainingActivity.Training);
        }
    }

    private void WriteCheckpoint(CheckpointStore store, TrainingPosition position)
    {
        CompletePendingUpdate();
        options.Synchronizer.SyncBuffers(model); // collective: every worker, before rank 0 writes
        var synchronizerState = options.Synchronizer.CollectState(); // collective too: every worker's residuals reach rank 0
        if (!isLeader) return;
        // TorchSharp closes the stream it saves to; ToArray still works on a closed MemoryStream.
        var modelBytes = new MemoryStream();
        model.save(modelBytes);
        var optimizerBytes = new MemoryStream();
        using (var writer = new BinaryWriter(optimizerBytes))
            optimizer.save_state_dict(writer);
        store.Save(position, fingerprint, modelBytes.ToArray(), optimizerBytes.ToArray(), synchronizerState);
        options.Observer.OnCheckpoint(position.Step);
    }

    private RunSummary Summary(TrainingPosition position, EvalRecord? last, double best, long samples, double seconds, Stopwatch wall, long resumedFrom)
    {
        var stats = options.Synchronizer.Stats;
        var compression = spec.CompressionOrDefault;
        string codec = options.Synchronizer.WorldSize == 1 ? CodecKind.None.SpecName() : compression.CodecLabel;
        long skipped = position.Skipped;
        return new(spec.Name, position.Step, position.Step - skipped, position.Epoch, last?.TestAccuracy ?? double.NaN, last?.TestLoss ?? double.NaN, best,
            seconds > 0 ? samples / seconds : 0, wall.Elapsed.TotalSeconds, options.Device.ToString(), torch.get_num_threads(),
            ParameterCount, train.Count, test.Count, resumedFrom, options.Synchronizer.WorldSize, codec, options.Synchronizer.Algorithm, skipped,
            stats.Steps > 0 ? (double)stats.BytesSent / stats.Steps : 0, stats.CompressionRatio, stats.OverlappedSteps, lowPrecision?.Summary());
    }

    private void WriteOutputs(RunSummary summary)
    {
        var output = options.Output!;
        File.WriteAllText(output.Summary, JsonSerializer.Serialize(summary, JsonFormat.Indented));
        var (steps, evaluations) = MetricsLog.Read(output.Metrics);
        TrainingPlots.Write(output.Path, steps, evaluations);
    }

    public void Dispose()
    {
        deferred?.Dispose();
        optimizer.Dispose();
        model.Dispose();
        if (ownsData)
        {
            train.Dispose();
            test.Dispose();
        }
    }
}
