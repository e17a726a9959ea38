using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.PostTraining;
using Orchestrator.Trainer.PostTraining.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Inference;

/// <summary>
/// A model as the trainer left it in a run directory: built from the run's resolved <c>spec.yaml</c>, loaded from its
/// newest checkpoint whose checksum verifies (as a resume would pick it), in eval mode, with the run's test set.
/// </summary>
public sealed class TrainedModel : IDisposable
{
    private readonly IDisposable? attachments;

    private TrainedModel(JobSpec spec, nn.Module<Tensor, Tensor> model, TensorDataset test, string checkpointPath, long step, double? reportedAccuracy,
        IDisposable? attachments = null)
    {
        this.attachments = attachments;
        Spec = spec;
        Model = model;
        Test = test;
        CheckpointPath = checkpointPath;
        Step = step;
        ReportedTestAccuracy = reportedAccuracy;
    }

    /// <summary>The run's resolved spec.</summary>
    public JobSpec Spec { get; }

    /// <summary>The model, in eval mode on <see cref="Load"/>'s device.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The run's test set (its <c>data.test_subset</c>), on the CPU.</summary>
    public TensorDataset Test { get; }

    /// <summary>The checkpoint loaded.</summary>
    public string CheckpointPath { get; }

    /// <summary>The training step that checkpoint was written at.</summary>
    public long Step { get; }

    /// <summary>The test accuracy <c>summary.json</c> reports, when the run finished and wrote one.</summary>
    public double? ReportedTestAccuracy { get; }

    /// <summary>
    /// Loads the run in <paramref name="runDirectory"/> onto <paramref name="device"/>; or, when it is a directory
    /// <c>orchestrator quantize</c> wrote, the quantized model (its reported accuracy is the quantize report's).
    /// </summary>
    /// <param name="onNotice">Told about newer checkpoints that were skipped as corrupt, and about a switch of convolution kernels.</param>
    /// <exception cref="UserFacingException">Not a run directory, no valid checkpoint, or a checkpoint of another model.</exception>
    public static TrainedModel Load(string runDirectory, Device device, Action<string> onNotice)
    {
        if (!Directory.Exists(runDirectory))
            throw new UserFacingException($"{runDirectory}: no such run directory");
        if (QuantizedModelDirectory.Is(runDirectory)) return LoadQuantized(runDirectory, device, onNotice);
        var specPath = RunLayout.Spec(runDirectory);
        if (!File.Exists(specPath))
            throw new UserFacingException($"{runDirectory}: not a run directory the trainer wrote ({RunLayout.SpecFile} is missing)");
        var store = new CheckpointStore(RunLayout.Checkpoints(runDirectory), keep: 1);
        var found = store.List();
        if (found.Count == 0)
            throw new UserFacingException($"{runDirectory}: no checkpoint in {store.Directory}; train the model first (./orchestrator train SPEC --out {runDirectory})");
        var checkpoint = store.LoadNewestValid(onNotice)
            ?? throw new UserFacingException($"{store.Directory}: none of the {found.Count} checkpoints is valid (every checksum failed)");

        var spec = JobSpecLoader.LoadFile(specPath, [], SpecHost.CoresOnly);
        var splits = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
        splits.Train.Dispose();
        var test = splits.Test;
        var input = new ModelInput(test.Channels, test.Height, test.Width, test.Classes);
        var model = ModelRegistry.Create(spec.Model, input, spec.Training.GhostBatch);
        var fingerprint = ModelFingerprint.Of(spec.Model, input);
        if (checkpoint.ModelFingerprint != fingerprint)
        {
            model.Dispose();
            test.Dispose();
            throw new UserFacingException($"{checkpoint.Path}: written for model {checkpoint.ModelFingerprint}, but {specPath} builds {fingerprint}");
        }
        using (var stream = new MemoryStream(checkpoint.ModelState)) model.load(stream);
        model.to(device);
        // oneDNN computes some float32 convolutions wrongly on some CPUs (forward included): the trainer's check and fallback.
        if (ConvolutionSelfCheck.EnsureCorrect(model, device) is { } fallback) onNotice(fallback);
        model.eval();
        return new TrainedModel(spec, model, test, checkpoint.Path, checkpoint.Position.Step, ReadAccuracy(RunLayout.Summary(runDirectory)));
    }

    /// <summary>A model <c>orchestrator quantize</c> wrote: the spec's model with the stored state and its input quantization.</summary>
    private static TrainedModel LoadQuantized(string directory, Device device, Action<string> onNotice)
    {
        var manifest = QuantizedModelDirectory.ReadManifest(directory);
        var specPath = RunLayout.Spec(directory);
        var modelPath = Path.Combine(directory, QuantizedModelDirectory.ModelFile);
        if (!File.Exists(specPath) || !File.Exists(modelPath))
            throw new UserFacingException($"{directory}: a quantized model directory without {RunLayout.SpecFile} or {QuantizedModelDirectory.ModelFile}");
        var spec = JobSpecLoader.LoadFile(specPath, [], SpecHost.CoresOnly);
        var splits = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
        splits.Train.Dispose();
        var test = splits.Test;
        var input = new ModelInput(test.Channels, test.Height, test.Width, test.Classes);
        var fingerprint = ModelFingerprint.Of(spec.Model, input);
        if (manifest.ModelFingerprint != fingerprint)
        {
            test.Dispose();
            throw new UserFacingException($"{Path.Combine(directory, QuantizedModelDirectory.QuantizationFile)}: written for model {manifest.ModelFingerprint}, but {specPath} builds {fingerprint}");
        }
        var model = ModelRegistry.Create(spec.Model, input, spec.Training.GhostBatch);
        try
        {
            model.load(modelPath);
            model.to(device);
            if (ConvolutionSelfCheck.EnsureCorrect(model, device) is { } fallback) onNotice(fallback);
            var hooks = new ActivationQuantization(QuantizableLayer.Of(model), manifest.Layers);
            model.eval();
            return new TrainedModel(spec, model, test, modelPath, manifest.Step, QuantizedModelDirectory.ReportedAccuracy(directory), hooks);
        }
        catch
        {
            model.Dispose();
            test.Dispose();
            throw;
        }
    }

    /// <summary>summary.json's test_accuracy, when the file exists and holds a finite one.</summary>
    private static double? ReadAccuracy(string summaryPath)
    {
        if (!File.Exists(summaryPath)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(summaryPath));
            return document.RootElement.TryGetProperty("test_accuracy", out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        attachments?.Dispose();
        Model.Dispose();
        Test.Dispose();
    }
}
