using Orchestrator.Tests.Observability;
using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary>Numbers must fit the type they feed and stay within sane bounds; the job must fit the machine's memory.</summary>
public class ResourceBoundsTests
{
    [Theory]
    [InlineData("training: { optimizer: { lr: 1e39 } }", "training.optimizer.lr", "1E+39 is beyond the float32 range the trainer computes in (at most 3.40282347E+38)")]
    [InlineData("training: { optimizer: { weight_decay: 1e39 } }", "training.optimizer.weight_decay", "1E+39 is beyond the float32 range the trainer computes in (at most 3.40282347E+38)")]
    [InlineData("training: { regime: { grad_clip_norm: 4e38 } }", "training.regime.grad_clip_norm", "4E+38 is beyond the float32 range the trainer computes in (at most 3.40282347E+38)")]
    [InlineData("training: { regime: { phases: [ { epoch: 0, lr: 5e38 } ] } }", "training.regime.phases[0].lr", "5E+38 is beyond the float32 range the trainer computes in (at most 3.40282347E+38)")]
    [InlineData("training: { optimizer: { lr: .nan } }", "training.optimizer.lr", "expected a number, got '.nan'")]
    [InlineData("training: { optimizer: { momentum: .inf } }", "training.optimizer.momentum", "expected a number, got '.inf'")]
    [InlineData("training: { optimizer: { lr: 1e999 } }", "training.optimizer.lr", "1e999 is out of range: this field holds at most 1.8E+308")]
    [InlineData("model: { width: 99999999999 }", "model.width", "99999999999 is out of range: this field holds at most 2147483647")]
    [InlineData("training: { threads: -99999999999 }", "training.threads", "-99999999999 is out of range: this field holds at least -2147483648")]
    [InlineData("model: { width: 1025 }", "model.width", "1025 is more than the limit of 1024")]
    [InlineData("training: { global_batch: 65537 }", "training.global_batch", "65537 is more than the limit of 65536")]
    [InlineData("training: { batch_augmentation: 65 }", "training.batch_augmentation", "65 is more than the limit of 64")]
    [InlineData("data: { augment: { crop_padding: 65 } }", "data.augment.crop_padding", "65 is more than the limit of 64 pixels (twice the largest image side)")]
    [InlineData("data: { augment: { cutout: 1000 } }", "data.augment.cutout", "1000 is more than the limit of 64 pixels (twice the largest image side)")]
    [InlineData("model: { kind: resnet20 }\ntraining: { mixed_size: { mode: B+, sizes: [28, 4096], probabilities: [0.5, 0.5] } }",
        "training.mixed_size.sizes[1]", "4096 is larger than the limit of 256 px")]
    public void Out_of_range_numbers_are_errors_naming_the_field(string body, string path, string message)
    {
        var error = FailsOnce("name: demo\n" + body);
        Assert.Equal(path, error.Path);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Bounds_themselves_are_accepted()
    {
        var spec = Parse("""
            name: demo
            model: { width: 1024 }
            data: { augment: { crop_padding: 64, cutout: 64 } }
            training: { global_batch: 65536, batch_augmentation: 64, optimizer: { lr: 3.4e38 } }
            """);
        Assert.Equal(1024, spec.Model.Width);
    }

    [Fact]
    public void Ghost_batch_beyond_the_worker_batch_is_an_error()
    {
        var error = FailsOnce("name: demo\nmodel: { norm: ghost_batch }\ntraining: { global_batch: 256, ghost_batch: 2147483647 }");
        Assert.Equal("training.global_batch", error.Path);
    }

    [Fact]
    public void Non_finite_values_in_specs_built_in_code_are_errors()
    {
        var regime = JobSpecDefaults.Regime(128, 0) with
        {
            WarmupEpochs = double.PositiveInfinity,
            GradClipNorm = double.NaN,
            Phases = [new RegimePhase(0, Lr: double.PositiveInfinity, WeightDecay: double.PositiveInfinity), new RegimePhase(double.PositiveInfinity)],
        };
        var spec = Full with
        {
            Training = Full.Training with
            {
                Optimizer = Full.Training.Optimizer with { Lr = double.PositiveInfinity, WeightDecay = double.NaN },
                Regime = regime,
            },
        };

        var paths = JobSpecValidator.Validate(spec).Select(e => e.Path).ToList();

        Assert.Equal(
            ["training.optimizer.lr", "training.optimizer.weight_decay", "training.regime.warmup_epochs", "training.regime.grad_clip_norm",
             "training.regime.phases[0].lr", "training.regime.phases[0].weight_decay", "training.regime.phases[1].epoch"],
            paths);
    }

    [Fact]
    public void Adapted_epochs_beyond_int_are_an_error()
    {
        var error = FailsOnce("name: demo\ntraining:\n  epochs: 1000000000\n  global_batch: 1024\n  regime: { base_batch: 128, adapt_updates: true }");
        Assert.Equal("training.epochs: 1000000000 x ceil(global_batch/base_batch) = 8000000000 adapted epochs is more than an int holds (2147483647) (line 3)",
            error.ToString());
    }

    [Fact]
    public void Threads_are_bounded_by_the_cores()
    {
        var host = new SpecHost(ProcessorCount: 2, AvailableMemoryBytes: null);
        Assert.Equal(8, JobSpecLoader.Parse("name: demo\ntraining: { threads: 8 }", "t.yaml", [], host).Training.Threads);

        var error = Assert.Single(Assert.Throws<SpecException>(() =>
            JobSpecLoader.Parse("name: demo\ntraining: { threads: 9 }", "t.yaml", [], host)).Errors);

        Assert.Equal("training.threads: 9 is more than 4 per core of the 2 cores of this machine (at most 8; 0 = this worker's share of the cores) (line 2)",
            error.ToString());
    }

    [Fact]
    public void Threads_bound_uses_this_machine_by_default()
    {
        var max = SpecVocabulary.ThreadsPerCore * Environment.ProcessorCount;
        Assert.Equal(max, Parse($"name: demo\ntraining: {{ threads: {max} }}").Training.Threads);
        Assert.Equal("training.threads", FailsOnce($"name: demo\ntraining: {{ threads: {max + 1} }}").Path);
    }

    [Fact]
    public void A_job_larger_than_the_available_memory_is_an_error_with_every_other_error()
    {
        const string yaml = """
            name: Demo
            workers: 2
            model: { kind: resnet44, width: 64 }
            data: { dataset: cifar10, root: /data }
            training: { global_batch: 8192, batch_augmentation: 4 }
            """;
        var host = new SpecHost(ProcessorCount: 8, AvailableMemoryBytes: 16L << 30);

        var errors = Assert.Throws<SpecException>(() => JobSpecLoader.Parse(yaml, "big.yaml", [], host)).Errors;

        Assert.Equal(["name", "training.global_batch"], errors.Select(e => e.Path));
        var memory = errors[1];
        Assert.Equal(5, memory.Line);
        Assert.StartsWith("the job needs about ", memory.Message);
        Assert.Contains("more than the 16 GiB available on this machine: 2 workers x ", memory.Message);
        Assert.Contains("for 16384 rows of 3x32x32 per forward = global_batch 8192 / workers 2 x batch_augmentation 4", memory.Message);
        Assert.Contains("model resnet44 width 64: ", memory.Message);
        Assert.EndsWith("lower training.global_batch (or set training.micro_batch to accumulate gradients over smaller passes), training.batch_augmentation, model.width or workers", memory.Message);
    }

    [Fact]
    public void A_wide_model_is_blamed_on_its_width()
    {
        var host = new SpecHost(8, 1L << 30);
        var error = Assert.Single(Assert.Throws<SpecException>(() =>
            JobSpecLoader.Parse("name: demo\nmodel: { kind: mlp, width: 1024 }\ntraining: { global_batch: 8 }", "t.yaml", [], host)).Errors);
        Assert.Equal("model.width", error.Path);
    }

    [Fact]
    public void Memory_is_not_checked_when_the_sizes_are_invalid_or_no_figure_is_given()
    {
        var host = new SpecHost(8, 1);
        var error = Assert.Single(Assert.Throws<SpecException>(() =>
            JobSpecLoader.Parse("name: demo\nmodel: { width: 5000 }", "t.yaml", [], host)).Errors);
        Assert.Equal("model.width", error.Path);
        Assert.Equal(5000, Parse("name: demo\ntraining: { global_batch: 5000 }").Training.GlobalBatch);
    }

    [Theory]
    [InlineData("fashion-mnist.yaml")]
    [InlineData("fashion-mnist-large-batch.yaml")]
    public void The_examples_fit_in_2_gib(string example)
    {
        var path = RepoFiles.Path(Path.Combine("examples", example));
        var spec = JobSpecLoader.LoadFile(path, [], new SpecHost(2, 2L << 30));
        var estimate = MemoryEstimate.Of(spec);
        Assert.InRange(estimate.TotalBytes * spec.Workers, 1L << 20, 2L << 30);
    }

    [Fact]
    public void Load_file_measures_this_machine()
    {
        var host = SpecHost.Measure();
        Assert.Equal(Environment.ProcessorCount, host.ProcessorCount);
        Assert.NotNull(host.AvailableMemoryBytes);
        Assert.InRange(host.AvailableMemoryBytes!.Value, 1L << 20, long.MaxValue);
        // The examples load with this machine's figures.
        JobSpecLoader.LoadFile(RepoFiles.Path("examples/fashion-mnist.yaml"), []);
    }
}
