using CsCheck;
using Orchestrator.Spec;

namespace Orchestrator.Tests.Spec;

/// <summary>
/// Property tests of the spec reader: any input either loads or raises <see cref="UserFacingException"/> (never another
/// exception, never a crash), and what loads keeps every bound. Iterations are fixed and single-threaded so the whole
/// class runs in a few seconds on a shared machine.
/// </summary>
public class SpecPropertyTests
{
    private const int Iterations = 1000;

    /// <summary>A valid spec touching every section, for mutation.</summary>
    private const string ValidYaml = """
        name: demo
        device: cpu
        workers: 2
        compression: { codec: nm+int8, n: 2, m: 4, pruner: mvue, algorithm: ring, bucket_mb: 25, warmup_steps: 1, error_feedback: true }
        metrics: { port: 9400, host: 127.0.0.1 }
        fault: { stall_seconds: 60, max_restarts: 2, restart_backoff_seconds: 1 }
        scaling: { policy: keep_global_batch }
        model: { kind: resnet20, width: 16, norm: ghost_batch, classifier: hadamard }
        data:
          dataset: synthetic
          root: /data
          train_subset: 1000
          test_subset: 100
          augment: { crop_padding: 4, flip: true, cutout: 8 }
        training:
          epochs: 3
          global_batch: 256
          ghost_batch: 64
          batch_augmentation: 2
          mixed_size: { mode: B+, sizes: [8, 12, 16], probabilities: [0.25, 0.5, 0.25] }
          optimizer: { kind: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5e-4 }
          regime:
            lr_scaling: sqrt
            base_batch: 64
            adapt_updates: true
            warmup_epochs: 1
            grad_clip_norm: 5
            phases:
              - { epoch: 0, lr: 0.1 }
              - { epoch: 2, lr: 0.01, schedule: cosine, end_lr: 0 }
          seed: 3
          threads: 1
        checkpoint: { every_steps: 10, keep: 2 }
        """;

    private static readonly string[] Numbers =
    [
        "0", "1", "-1", "2", "3", "8", "64", "65", "128", "1024", "1025", "65536", "65537", "2147483647", "2147483648",
        "-2147483649", "99999999999999999999", "1e39", "-1e39", "3.4e38", "1e308", "1e999", "1e-400", "0.5", ".nan", ".inf",
        "-.inf", "NaN", "Infinity", "0x10", "1_000", "+5", "0.0", "-0",
    ];

    private static readonly string[] Words =
    [
        "name", "device", "workers", "model", "kind", "width", "norm", "classifier", "data", "dataset", "root", "augment",
        "crop_padding", "cutout", "flip", "training", "epochs", "global_batch", "ghost_batch", "batch_augmentation", "threads",
        "optimizer", "lr", "momentum", "weight_decay", "nesterov", "regime", "phases", "epoch", "mixed_size", "sizes",
        "probabilities", "mode", "compression", "codec", "checkpoint", "keep", "fault", "scaling", "policy", "metrics", "port",
        "cnn", "mlp", "resnet20", "resnet44", "ghost_batch", "hadamard", "cifar10", "synthetic", "B+", "D+", "true", "false",
        "null", "~", "demo", "x",
    ];

    private static readonly string[] Punctuation =
    [
        "{", "}", "[", "]", ": ", ":", ", ", ",", " ", "\n", "\n  ", "\n    ", "- ", "&a ", "*a", "&b ", "*b", "\"", "'", "# c",
        "!!str ", "!!int ", "? ", "|\n  ", ">\n  ", "---\n", "...\n", "%YAML 1.2\n---\n", "\t", "\r\n", "é", "\u0000", "\uFEFF",
        "<<: *a", "=", ".",
    ];

    private static readonly Gen<string> Token = Gen.Frequency(
        (3, Gen.OneOf(Punctuation)), (3, Gen.OneOf(Words)), (2, Gen.OneOf(Numbers)));

    /// <summary>Nesting deep enough to have crashed the loader, of either kind, sometimes closed.</summary>
    private static readonly Gen<string> Nesting = Gen.Select(Gen.Int[0, 400], Gen.Int[0, 2], (depth, kind) => kind switch
    {
        0 => "model: " + string.Concat(Enumerable.Repeat("{a: ", depth)) + "1" + new string('}', depth),
        1 => new string('[', depth) + new string(']', depth / 2),
        _ => string.Concat(Enumerable.Range(0, Math.Min(depth, 100)).Select(i => new string(' ', 2 * i) + "k:\n")),
    });

    private static readonly Gen<string> YamlishText = Gen.Frequency(
        (6, Token.Array[0, 60].Select(string.Concat)),
        (1, Nesting));

    /// <summary>The valid spec with a few edits: a line dropped, doubled or cut, a token put in, a number swapped.</summary>
    private static readonly Gen<string> MutatedSpec =
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, 10_000], Gen.Int[0, 10_000], Token).Array[1, 4].Select(edits =>
        {
            var lines = ValidYaml.Split('\n').ToList();
            foreach (var (kind, a, b, token) in edits)
            {
                var i = a % lines.Count;
                var line = lines[i];
                switch (kind)
                {
                    case 0: lines.RemoveAt(i); break;
                    case 1: lines.Insert(i, line); break;
                    case 2: lines[i] = line[..(b % (line.Length + 1))]; break;
                    case 3: lines[i] = line.Insert(b % (line.Length + 1), token); break;
                    default:
                        // Replace the n-th number on the line (if any) with a boundary value.
                        var digits = System.Text.RegularExpressions.Regex.Matches(line, @"-?\d+(\.\d+)?(e-?\d+)?");
                        if (digits.Count > 0)
                        {
                            var m = digits[b % digits.Count];
                            lines[i] = line[..m.Index] + Numbers[a % Numbers.Length] + line[(m.Index + m.Length)..];
                        }
                        break;
                }
                if (lines.Count == 0)
                    lines.Add("");
            }
            return string.Join('\n', lines);
        });

    private static readonly Gen<string> OverrideText = Gen.Frequency(
        (4, Gen.Select(Gen.OneOf(Words).Array[1, 4], Gen.Frequency((3, Gen.OneOf(Numbers)), (2, Token.Array[0, 8].Select(string.Concat))),
            (path, value) => string.Join('.', path) + "=" + value)),
        (1, Token.Array[0, 12].Select(string.Concat)));

    private static readonly Gen<string[]> Overrides = OverrideText.Array[0, 4];

    /// <summary>A small machine, so the memory rule is exercised too.</summary>
    private static readonly SpecHost Host = new(ProcessorCount: 2, AvailableMemoryBytes: 256L << 20);

    /// <summary>Loads or fails with <see cref="UserFacingException"/>; a spec that loads keeps every bound.</summary>
    private static void LoadsOrRefuses(string yaml, string[] overrides)
    {
        JobSpec spec;
        try
        {
            spec = JobSpecLoader.Parse(yaml, "p.yaml", overrides, Host);
        }
        catch (UserFacingException ex)
        {
            Assert.True(ex.Message.Length < 20_000, "error message too long: " + ex.Message.Length);
            return;
        }
        AssertWithinBounds(spec);
    }

    private static void AssertWithinBounds(JobSpec spec)
    {
        Assert.Empty(JobSpecValidator.Validate(spec, Host));
        Assert.InRange(spec.Model.Width, 1, SpecVocabulary.MaxWidth);
        Assert.InRange(spec.Workers, 1, SpecVocabulary.MaxWorkers);
        var training = spec.Training;
        Assert.InRange(training.GlobalBatch, 1, SpecVocabulary.MaxGlobalBatch);
        Assert.InRange(training.BatchAugmentation, 1, SpecVocabulary.MaxBatchAugmentation);
        Assert.InRange(training.Threads, 0, SpecVocabulary.ThreadsPerCore * Host.ProcessorCount);
        Assert.InRange(spec.Data.Augment.CropPadding, 0, SpecVocabulary.MaxAugmentPixels);
        Assert.InRange(spec.Data.Augment.Cutout, 0, SpecVocabulary.MaxAugmentPixels);
        Assert.InRange(training.Optimizer.Lr, double.Epsilon, float.MaxValue);
        Assert.InRange(training.Optimizer.WeightDecay, 0, float.MaxValue);
        Assert.InRange(training.Optimizer.Momentum, 0, 0.999999999);
        Assert.All(training.MixedSizeOrOff.Sizes, s => Assert.InRange(s, SpecVocabulary.MinImageSize, SpecVocabulary.MaxImageSize));
        foreach (var phase in training.Regime?.Phases ?? [])
        {
            Assert.True(double.IsFinite(phase.Epoch));
            if (phase.Lr is { } lr)
                Assert.InRange(lr, double.Epsilon, float.MaxValue);
        }
        Assert.InRange(MemoryEstimate.Of(spec).TotalBytes * (double)spec.Workers, 0, Host.AvailableMemoryBytes!.Value);
        // What loads also round-trips through the resolved YAML.
        Assert.Equal(spec, JobSpecLoader.Parse(JobSpecYaml.ToYaml(spec), "resolved.yaml", [], Host));
    }

    [Fact]
    public void The_valid_spec_loads()
    {
        AssertWithinBounds(JobSpecLoader.Parse(ValidYaml, "p.yaml", [], Host));
    }

    [Fact]
    public void Random_yamlish_text_loads_or_is_a_user_error()
    {
        YamlishText.Sample(text => LoadsOrRefuses(text, []), iter: Iterations, threads: 1);
    }

    [Fact]
    public void Mutated_specs_load_within_bounds_or_are_user_errors()
    {
        MutatedSpec.Sample(text => LoadsOrRefuses(text, []), iter: Iterations, threads: 1);
    }

    [Fact]
    public void Random_overrides_load_within_bounds_or_are_user_errors()
    {
        Overrides.Sample(overrides => LoadsOrRefuses(ValidYaml, overrides), iter: Iterations, threads: 1);
    }

    [Fact]
    public void Random_text_after_set_loads_or_is_a_user_error()
    {
        Gen.Select(YamlishText, YamlishText).Sample((path, value) => LoadsOrRefuses("name: demo", [path + "=" + value]), iter: Iterations, threads: 1);
    }
}
