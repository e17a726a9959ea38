using Prometheus;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>
/// The Prometheus metrics of one trainer worker, in a registry of their own (one per worker, so tests
/// can run several in a process). One prefix (<see cref="Prefix"/>), base units (seconds, bytes),
/// <c>_total</c> counters, labels <c>job</c> and <c>rank</c> only, plus <c>codec</c> on the allreduce
/// byte counters (the job's configured codec: a fixed vocabulary, so still bounded).
/// Every series exists from construction on (counters at 0, accuracy NaN until the first evaluation),
/// so a dashboard panel has data as soon as the worker is scraped.
/// </summary>
/// <remarks>
/// prometheus-net's <c>MeterAdapter</c> is not used: the trainer has no System.Diagnostics.Metrics meters
/// (that matters for the Orleans silo, whose meters must be attached at start-up).
/// </remarks>
public sealed class TrainerMetrics
{
    /// <summary>Prefix of every trainer metric name.</summary>
    public const string Prefix = "orchestrator_trainer_";

    private static readonly string[] JobRank = ["job", "rank"];
    private static readonly string[] JobRankCodec = ["job", "rank", "codec"];
    // 0.5 ms .. ~16 s: from a tiny synthetic step to a large model on CPU.
    private static readonly double[] StepBuckets = Histogram.ExponentialBuckets(0.0005, 2, 16);

    private readonly int worldSize;
    private readonly Counter.Child samples;
    private readonly Counter.Child steps;
    private readonly Histogram.Child computeSeconds;
    private readonly Histogram.Child compressionSeconds;
    private readonly Histogram.Child communicationSeconds;
    private readonly Counter.Child bytesSent;
    private readonly Counter.Child bytesReceived;
    private readonly Gauge.Child compressionRatio;
    private readonly Gauge.Child loss;
    private readonly Gauge.Child testAccuracy;
    private readonly Gauge.Child learningRate;
    private readonly Gauge.Child epoch;
    private readonly Gauge.Child lastStep;
    private readonly Counter.Child skippedSteps;
    private readonly Counter.Child checkpoints;
    private readonly Func<string, string, Gauge.Child> gaugeOf;
    private readonly Func<string, string, Counter.Child> counterOf;
    private LowPrecisionMetrics? lowPrecision;

    /// <param name="job">The job's name (a DNS-1123 label, so bounded).</param>
    /// <param name="rank">This worker's rank.</param>
    /// <param name="worldSize">Workers in the job.</param>
    /// <param name="codec">The gradient codec the job is configured with (<c>none</c> for one worker).</param>
    public TrainerMetrics(string job, int rank, int worldSize, string codec)
    {
        this.worldSize = Math.Max(1, worldSize);
        var factory = Metrics.WithCustomRegistry(Registry);
        string r = rank.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Counter.Child CounterOf(string name, string help) =>
            factory.CreateCounter(Prefix + name, help, new CounterConfiguration { LabelNames = JobRank }).WithLabels(job, r);
        Gauge.Child GaugeOf(string name, string help) =>
            factory.CreateGauge(Prefix + name, help, new GaugeConfiguration { LabelNames = JobRank }).WithLabels(job, r);
        Histogram.Child HistogramOf(string name, string help) =>
            factory.CreateHistogram(Prefix + name, help, new HistogramConfiguration { LabelNames = JobRank, Buckets = StepBuckets }).WithLabels(job, r);
        Counter.Child BytesOf(string name, string help) =>
            factory.CreateCounter(Prefix + name, help, new CounterConfiguration { LabelNames = JobRankCodec }).WithLabels(job, r, codec);

        samples = CounterOf("samples_total", "Training samples this worker processed (its share of each global batch); throughput is its rate.");
        steps = CounterOf("steps_total", "Optimizer steps this worker took part in (skipped ones included).");
        computeSeconds = HistogramOf("step_compute_seconds", "Per step: time outside gradient compression and communication (data, forward, backward, update).");
        compressionSeconds = HistogramOf("step_compression_seconds", "Per step: time encoding and decoding gradients.");
        communicationSeconds = HistogramOf("step_communication_seconds", "Per step: time in allreduce transfers, waiting for other workers included.");
        bytesSent = BytesOf("allreduce_sent_bytes_total", "Allreduce payload bytes this worker sent.");
        bytesReceived = BytesOf("allreduce_received_bytes_total", "Allreduce payload bytes this worker received.");
        compressionRatio = GaugeOf("compression_ratio", "fp32 size over wire size of the last step's gradients (1 = uncompressed).");
        loss = GaugeOf("loss", "Training loss of the last step's global batch.");
        testAccuracy = GaugeOf("test_accuracy", "Accuracy (0..1) on the test split at the last evaluation; NaN before the first.");
        learningRate = GaugeOf("learning_rate", "Learning rate of the last step.");
        epoch = GaugeOf("epoch", "Epoch (0-based) of the last step.");
        lastStep = GaugeOf("last_step_timestamp_seconds", "Unix time at which the last step ended (for stall detection).");
        var world = GaugeOf("world_size", "Workers in the job.");
        skippedSteps = CounterOf("skipped_steps_total", "Steps every worker skipped because some gradient was not finite.");
        checkpoints = CounterOf("checkpoints_written_total", "Checkpoints this worker wrote (only rank 0 writes them).");

        gaugeOf = GaugeOf;
        counterOf = CounterOf;
        world.Set(this.worldSize);
        compressionRatio.Set(1);
        testAccuracy.Set(double.NaN);
        loss.Set(double.NaN);
    }

    /// <summary>The registry holding this worker's metrics (what its <c>/metrics</c> endpoint serves).</summary>
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    /// <summary>Counts one finished step.</summary>
    public void ObserveStep(StepRecord step)
    {
        samples.Inc(step.Samples / worldSize);
        steps.Inc();
        computeSeconds.Observe(step.ComputeSeconds);
        compressionSeconds.Observe(step.CompressionSeconds);
        communicationSeconds.Observe(step.CommunicationSeconds);
        bytesSent.Inc(step.BytesSent);
        bytesReceived.Inc(step.BytesReceived);
        if (!step.Skipped) compressionRatio.Set(step.CompressionRatio);
        else skippedSteps.Inc();
        loss.Set(step.Loss);
        learningRate.Set(step.Lr);
        epoch.Set(step.Epoch);
        lastStep.SetToCurrentTimeUtc();
        if (step.LowPrecision is { } figures) (lowPrecision ??= new LowPrecisionMetrics(gaugeOf, counterOf)).Observe(figures);
    }

    /// <summary>
    /// The series of low-precision and sparse training (<c>training.quantize</c>, <c>training.gradient_sparsity</c>,
    /// <c>model.weight_sparsity</c>), created at the first step that reports them: jobs without these features do not
    /// serve them at all.
    /// </summary>
    private sealed class LowPrecisionMetrics(Func<string, string, Gauge.Child> gauge, Func<string, string, Counter.Child> counter)
    {
        private readonly Gauge.Child weightBits = gauge("weight_bits", "Bits of the conv and linear weights (32 = fp32).");
        private readonly Gauge.Child activationBits = gauge("activation_bits", "Bits of the conv and linear inputs (32 = fp32).");
        private readonly Gauge.Child gradientBits = gauge("gradient_bits", "Bits of the gradients with respect to conv and linear outputs (32 = fp32).");
        private readonly Gauge.Child gradientSparsity = gauge("gradient_sparsity", "Measured fraction of zeros in the last step's N:M-pruned output gradients (NaN without gradient sparsity).");
        private readonly Gauge.Child maskDensity = gauge("weight_mask_density", "Kept fraction of the masked layers' weights (NaN without weight masks).");
        private readonly Counter.Child maskSeconds = counter("weight_mask_seconds_total", "Time spent recomputing N:M weight masks.");

        public void Observe(Orchestrator.Trainer.LowPrecision.LowPrecisionRecord figures)
        {
            weightBits.Set(figures.WeightBits);
            activationBits.Set(figures.ActivationBits);
            gradientBits.Set(figures.GradientBits);
            gradientSparsity.Set(figures.GradientSparsity ?? double.NaN);
            maskDensity.Set(figures.MaskDensity ?? double.NaN);
            maskSeconds.Inc(figures.MaskSeconds ?? 0);
        }
    }

    /// <summary>Records an evaluation on the test split.</summary>
    public void ObserveEvaluation(EvalRecord evaluation) => testAccuracy.Set(evaluation.TestAccuracy);

    /// <summary>Counts one checkpoint written.</summary>
    public void CheckpointWritten() => checkpoints.Inc();
}
