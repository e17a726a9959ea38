namespace Orchestrator.Contracts.Spec;

/// <summary>
/// Range and cross-field rules of a bound <see cref="JobSpec"/>. Separate from binding so that specs
/// built in code (tests, sweeps) get the same checks as specs read from YAML.
/// </summary>
public static class JobSpecValidator
{
    /// <summary>Every rule <paramref name="spec"/> breaks; empty when it is valid. Errors carry no line.</summary>
    public static IReadOnlyList<SpecError> Validate(JobSpec spec) => Validate(spec, _ => null);

    /// <summary>As <see cref="Validate(JobSpec)"/>, locating each error via <paramref name="locate"/>.</summary>
    internal static IReadOnlyList<SpecError> Validate(JobSpec spec, Func<string, SpecLocation?> locate)
    {
        var errors = new List<SpecError>();
        void Check(bool ok, string path, string message)
        {
            if (!ok)
                errors.Add(locate(path) is { } at ? at.Error(path, message) : new SpecError(path, message, null));
        }
        void OneOf(string value, IReadOnlyList<string> allowed, string path) =>
            Check(allowed.Contains(value, StringComparer.Ordinal), path,
                $"must be one of {string.Join(", ", allowed)}; got '{value}'");

        if (spec.Name.Length == 0)
            Check(false, "name", "is required");
        else
            Check(DnsLabel.IsValid(spec.Name), "name", $"must be a DNS-1123 label ({DnsLabel.Rule}); got '{spec.Name}'");
        Check(System.Enum.IsDefined(spec.Device), "device", $"unknown device {(int)spec.Device}");

        var model = spec.Model;
        OneOf(model.Kind, SpecVocabulary.ModelKinds, "model.kind");
        Check(model.Width >= 1, "model.width", "must be >= 1");
        OneOf(model.Norm, SpecVocabulary.Norms, "model.norm");

        var data = spec.Data;
        OneOf(data.Dataset, SpecVocabulary.Datasets, "data.dataset");
        // The synthetic dataset is generated in memory, so its root is never read.
        Check(data.Dataset == SpecVocabulary.Synthetic || !string.IsNullOrWhiteSpace(data.Root), "data.root", "must not be empty");
        Check(data.TrainSubset >= 0, "data.train_subset", "must be >= 0");
        Check(data.TestSubset >= 0, "data.test_subset", "must be >= 0");
        Check(data.Augment.CropPadding >= 0, "data.augment.crop_padding", "must be >= 0");
        Check(data.Augment.Cutout >= 0, "data.augment.cutout", "must be >= 0");

        var training = spec.Training;
        Check(training.Epochs >= 1, "training.epochs", "must be >= 1");
        Check(training.GlobalBatch >= 1, "training.global_batch", "must be >= 1");
        Check(training.Threads >= 0, "training.threads", "must be >= 0");

        var optimizer = training.Optimizer;
        OneOf(optimizer.Kind, SpecVocabulary.OptimizerKinds, "training.optimizer.kind");
        // Conditions state what is valid, so NaN (possible in specs built in code) fails them.
        Check(optimizer.Lr > 0, "training.optimizer.lr", "must be > 0");
        Check(optimizer.Momentum is >= 0 and < 1, "training.optimizer.momentum", "must be >= 0 and < 1");
        Check(optimizer.WeightDecay >= 0, "training.optimizer.weight_decay", "must be >= 0");
        // Nesterov's look-ahead is defined through the momentum buffer; without momentum it is meaningless.
        Check(!optimizer.Nesterov || optimizer.Momentum > 0, "training.optimizer.nesterov", "requires momentum > 0");

        var checkpoint = spec.Checkpoint;
        Check(checkpoint.EverySteps >= 0, "checkpoint.every_steps", "must be >= 0");
        Check(checkpoint.Keep >= 1, "checkpoint.keep", "must be >= 1");
        return errors;
    }
}
