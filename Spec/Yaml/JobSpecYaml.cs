using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Orchestrator.Spec;

/// <summary>Writes a resolved <see cref="JobSpec"/> as YAML that <see cref="JobSpecLoader.Parse"/> reads back unchanged.</summary>
public static partial class JobSpecYaml
{
    /// <summary>
    /// The spec with every field spelled out (defaults included), so the file next to a run records
    /// exactly what ran even if the defaults change later.
    /// </summary>
    public static string ToYaml(JobSpec spec)
    {
        var w = new Writer();
        w.Field(0, "name", Text(spec.Name));
        w.Field(0, "device", spec.Device.SpecName());
        w.Field(0, "workers", Int(spec.Workers));
        // Null (absent) reads back as null, which means the defaults.
        if (spec.Compression is { } compression)
        {
            w.Section(0, "compression");
            w.Field(1, "codec", Text(compression.Codec.SpecName()));
            w.Field(1, "n", Int(compression.N));
            w.Field(1, "m", Int(compression.M));
            w.Field(1, "pruner", Text(compression.Pruner.SpecName()));
            w.Field(1, "algorithm", Text(compression.Algorithm.SpecName()));
            w.Field(1, "bucket_mb", Double(compression.BucketMb));
            w.Field(1, "warmup_steps", Int(compression.WarmupSteps));
            w.Field(1, "error_feedback", Bool(compression.ErrorFeedback));
            w.Field(1, "min_compress_elements", Int(compression.MinCompressElements));
            w.Field(1, "overlap", Bool(compression.Overlap));
            w.Field(1, "overlap_forward", Bool(compression.OverlapForward));
            w.Field(1, "rank", Int(compression.Rank));
        }
        if (spec.Metrics is { } metrics)
        {
            w.Section(0, "metrics");
            w.Field(1, "port", Int(metrics.Port));
            w.Field(1, "host", Text(metrics.Host));
        }
        if (spec.Fault is { } fault)
        {
            w.Section(0, "fault");
            w.Field(1, "stall_seconds", Int(fault.StallSeconds));
            w.Field(1, "max_restarts", Int(fault.MaxRestarts));
            w.Field(1, "restart_backoff_seconds", Double(fault.RestartBackoffSeconds));
        }
        if (spec.Scaling is { } scaling)
        {
            w.Section(0, "scaling");
            w.Field(1, "policy", Text(scaling.Policy.SpecName()));
            w.Field(1, "on_node_loss", Text(scaling.OnNodeLoss.SpecName()));
            w.Field(1, "min_workers", Int(scaling.MinWorkers));
        }
        if (spec.Placement is { } placement)
        {
            w.Section(0, "placement");
            w.Field(1, "ranks_per_node", Int(placement.RanksPerNode));
            w.Field(1, "policy", Text(placement.Policy.SpecName()));
        }

        w.Section(0, "model");
        w.Field(1, "kind", Text(spec.Model.Kind.SpecName()));
        w.Field(1, "width", Int(spec.Model.Width));
        w.Field(1, "norm", Text(spec.Model.Norm.SpecName()));
        w.Field(1, "classifier", Text(spec.Model.Classifier.SpecName()));
        if (spec.Model.WeightSparsity is { } masks)
        {
            w.Section(1, "weight_sparsity");
            w.Field(2, "n", Int(masks.N));
            w.Field(2, "m", Int(masks.M));
            w.Field(2, "transposable", Bool(masks.Transposable));
            w.Field(2, "method", Text(masks.Method.SpecName()));
            w.Field(2, "recompute_every", Int(masks.RecomputeEvery));
        }

        var data = spec.Data;
        w.Section(0, "data");
        w.Field(1, "dataset", Text(data.Dataset.SpecName()));
        w.Field(1, "root", Text(data.Root));
        w.Field(1, "train_subset", Int(data.TrainSubset));
        w.Field(1, "test_subset", Int(data.TestSubset));
        w.Section(1, "augment");
        w.Field(2, "crop_padding", Int(data.Augment.CropPadding));
        w.Field(2, "flip", Bool(data.Augment.Flip));
        w.Field(2, "cutout", Int(data.Augment.Cutout));

        var training = spec.Training;
        w.Section(0, "training");
        w.Field(1, "epochs", Int(training.Epochs));
        w.Field(1, "global_batch", Int(training.GlobalBatch));
        w.Section(1, "optimizer");
        w.Field(2, "kind", Text(training.Optimizer.Kind.SpecName()));
        w.Field(2, "lr", Double(training.Optimizer.Lr));
        w.Field(2, "momentum", Double(training.Optimizer.Momentum));
        w.Field(2, "nesterov", Bool(training.Optimizer.Nesterov));
        w.Field(2, "weight_decay", Double(training.Optimizer.WeightDecay));
        w.Field(1, "seed", training.Seed.ToString(CultureInfo.InvariantCulture));
        w.Field(1, "threads", Int(training.Threads));
        w.Field(1, "ghost_batch", Int(training.GhostBatch));
        w.Field(1, "batch_augmentation", Int(training.BatchAugmentation));
        w.Field(1, "micro_batch", Int(training.MicroBatch));
        // Null sections are left out, which reads back as null (mixed size off, no regime).
        if (training.MixedSize is { } mixed)
        {
            w.Section(1, "mixed_size");
            w.Field(2, "mode", Text(mixed.Mode.SpecName()));
            w.Field(2, "sizes", Flow(mixed.Sizes.Select(Int)));
            w.Field(2, "probabilities", Flow(mixed.Probabilities.Select(Double)));
        }
        if (training.Regime is { } regime)
        {
            w.Section(1, "regime");
            w.Field(2, "lr_scaling", Text(regime.LrScaling.SpecName()));
            w.Field(2, "base_batch", Int(regime.BaseBatch));
            w.Field(2, "adapt_updates", Bool(regime.AdaptUpdates));
            w.Field(2, "warmup_epochs", Double(regime.WarmupEpochs));
            w.Field(2, "grad_clip_norm", Double(regime.GradClipNorm));
            if (regime.Phases.Count == 0)
            {
                w.Field(2, "phases", "[]");
            }
            else
            {
                w.Section(2, "phases");
                foreach (var phase in regime.Phases)
                    w.Item(3, Phase(phase));
            }
        }
        if (training.Quantize is { } quantize)
        {
            // A bit width left out (fp32) stays out: it reads back as null.
            w.Section(1, "quantize");
            if (quantize.Weights is { } weights) w.Field(2, "weights", Int(weights));
            if (quantize.Activations is { } activations) w.Field(2, "activations", Int(activations));
            if (quantize.Gradients is { } gradients) w.Field(2, "gradients", Int(gradients));
            w.Field(2, "stochastic", Bool(quantize.Stochastic));
            w.Field(2, "bifurcation", Bool(quantize.Bifurcation));
        }
        if (training.GradientSparsity is { } sparsity)
        {
            w.Section(1, "gradient_sparsity");
            w.Field(2, "n", Int(sparsity.N));
            w.Field(2, "m", Int(sparsity.M));
            w.Field(2, "pruner", Text(sparsity.Pruner.SpecName()));
            w.Field(2, "dense_first_last", Bool(sparsity.DenseFirstLast));
            w.Field(2, "gemms", Text(sparsity.Gemms.SpecName()));
        }

        w.Section(0, "checkpoint");
        w.Field(1, "every_steps", Int(spec.Checkpoint.EverySteps));
        w.Field(1, "keep", Int(spec.Checkpoint.Keep));
        return w.ToString();
    }

    /// <summary>One phase as a flow mapping; settings the phase leaves unset (null) are left out, as in the input.</summary>
    private static string Phase(RegimePhase phase)
    {
        var fields = new List<string> { $"epoch: {Double(phase.Epoch)}" };
        if (phase.Lr is { } lr)
            fields.Add($"lr: {Double(lr)}");
        if (phase.Momentum is { } momentum)
            fields.Add($"momentum: {Double(momentum)}");
        if (phase.WeightDecay is { } weightDecay)
            fields.Add($"weight_decay: {Double(weightDecay)}");
        if (phase.Nesterov is { } nesterov)
            fields.Add($"nesterov: {Bool(nesterov)}");
        fields.Add($"schedule: {Text(phase.Schedule.SpecName())}");
        if (phase.EndLr is { } endLr)
            fields.Add($"end_lr: {Double(endLr)}");
        return "{ " + string.Join(", ", fields) + " }";
    }

    private static string Flow(IEnumerable<string> items) => "[" + string.Join(", ", items) + "]";

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";

    // "R" round-trips every finite double exactly; the reader parses the result back with the invariant culture.
    private static string Double(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Plain when unambiguous (names, keys, paths), double-quoted otherwise.</summary>
    private static string Text(string value)
    {
        if (PlainSafe().IsMatch(value) && !Reserved.Contains(value))
            return value;
        var quoted = new StringBuilder("\"");
        foreach (var c in value)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }

    // Words YAML 1.1 or 1.2 readers would take for booleans or null if written plain.
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
        { "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~" };

    // Starts with a letter, '/' or '_' so it cannot read as a number, indicator or tag; '+' only later (B+, D+).
    [GeneratedRegex(@"^[A-Za-z_/][A-Za-z0-9_./+-]*$")]
    private static partial Regex PlainSafe();

    private sealed class Writer
    {
        private readonly StringBuilder text = new();

        public void Section(int depth, string key) => Line(depth, $"{key}:");

        public void Field(int depth, string key, string value) => Line(depth, $"{key}: {value}");

        /// <summary>A block-sequence item (<c>- value</c>) of the section one level up.</summary>
        public void Item(int depth, string value) => Line(depth, $"- {value}");

        private void Line(int depth, string line) => text.Append(' ', depth * 2).Append(line).Append('\n');

        public override string ToString() => text.ToString();
    }
}
