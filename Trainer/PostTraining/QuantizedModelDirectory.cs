using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.PostTraining.Quantization;
using Orchestrator.Trainer.PostTraining.Report;
using Orchestrator.Trainer.Telemetry;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining;

/// <summary>
/// The directory <c>orchestrator quantize</c> writes: the run's <c>spec.yaml</c>, the model state with the quantized
/// (dequantized fp32) weights and tuned biases and norms (<c>model.bin</c>, TorchSharp's format), how each layer runs
/// (<c>quantization.json</c>) and the report (<c>report.json</c>). Written into a temporary directory beside the target
/// and renamed into place, so a failure leaves nothing half written.
/// </summary>
public static class QuantizedModelDirectory
{
    /// <summary>File names in the directory.</summary>
    public const string ModelFile = "model.bin", QuantizationFile = "quantization.json", ReportFile = "report.json";

    /// <summary>How the quantized model is rebuilt: the source run, its model fingerprint, and each quantized layer.</summary>
    public sealed record Manifest(string SourceRun, string SourceCheckpoint, long Step, string ModelFingerprint, IReadOnlyList<LayerQuantization> Layers);

    /// <summary>Whether <paramref name="directory"/> is one this class wrote.</summary>
    public static bool Is(string directory) => File.Exists(Path.Combine(directory, QuantizationFile));

    /// <summary>Writes the quantized <paramref name="model"/> (its hooks are not part of the state: the manifest rebuilds them).</summary>
    /// <exception cref="UserFacingException">The directory cannot be written.</exception>
    public static void Write(string directory, string specPath, nn.Module<Tensor, Tensor> model, Manifest manifest, QuantizeReport report,
        string scratchDirectory)
    {
        var full = Path.GetFullPath(directory);
        try
        {
            using (var stream = File.Create(Path.Combine(scratchDirectory, ModelFile))) model.save(stream);
            File.Copy(specPath, Path.Combine(scratchDirectory, RunLayout.SpecFile), overwrite: true);
            File.WriteAllText(Path.Combine(scratchDirectory, QuantizationFile), JsonSerializer.Serialize(manifest, JsonFormat.Indented) + "\n");
            File.WriteAllText(Path.Combine(scratchDirectory, ReportFile), JsonSerializer.Serialize(report, JsonFormat.Indented) + "\n");
            if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
            var parent = Path.GetDirectoryName(full);
            if (parent is not null) Directory.CreateDirectory(parent);
            Directory.Move(scratchDirectory, full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--out {directory}: cannot write the quantized model ({e.Message})");
        }
    }

    /// <summary>A scratch directory beside <paramref name="directory"/> for <see cref="Write"/> (the caller deletes it on failure).</summary>
    public static string Scratch(string directory)
    {
        var full = Path.GetFullPath(directory).TrimEnd('/');
        var scratch = $"{full}.tmp-{Environment.ProcessId}";
        try
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
            Directory.CreateDirectory(scratch);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--out {directory}: cannot create {scratch} ({e.Message})");
        }
        return scratch;
    }

    /// <summary>Reads the manifest of a quantized model directory.</summary>
    /// <exception cref="UserFacingException">The file is missing or not a manifest.</exception>
    public static Manifest ReadManifest(string directory)
    {
        var path = Path.Combine(directory, QuantizationFile);
        try
        {
            return JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), JsonFormat.Lines)
                ?? throw new UserFacingException($"{path}: empty");
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            throw new UserFacingException($"{path}: not a quantization manifest ({e.Message})");
        }
    }

    /// <summary>The final test accuracy in the directory's report, when it holds one.</summary>
    public static double? ReportedAccuracy(string directory)
    {
        var path = Path.Combine(directory, ReportFile);
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.TryGetProperty("test_accuracy", out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
