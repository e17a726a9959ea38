using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary>The large-batch keys: model.classifier, training.ghost_batch, batch_augmentation, mixed_size, regime.</summary>
public class LargeBatchSpecTests
{
    /// <summary>The documented example; comments give line numbers.</summary>
    private const string ExampleYaml = """
        name: large-batch
        model:    { kind: resnet20, width: 16, norm: ghost_batch, classifier: linear }
        training:
          global_batch: 4096
          ghost_batch: 128
          batch_augmentation: 4
          mixed_size: { mode: off, sizes: [20, 28, 36], probabilities: [0.3, 0.4, 0.3] }
          regime:
            lr_scaling: sqrt
            base_batch: 128
            adapt_updates: true
            warmup_epochs: 0
            grad_clip_norm: 5.0
            phases:
              - { epoch: 0, lr: 0.1, momentum: 0.9, weight_decay: 1e-4 }
              - { epoch: 81, lr: 0.01 }
              - { epoch: 122, lr: 0.001, schedule: cosine, end_lr: 0 }
        """;

    private static readonly RegimeSpec ExampleRegime = new(LrScalingKind.Sqrt, 128, true, 0, 5.0,
    [
        new RegimePhase(0, Lr: 0.1, Momentum: 0.9, WeightDecay: 1e-4),
        new RegimePhase(81, Lr: 0.01),
        new RegimePhase(122, Lr: 0.001, Schedule: ScheduleKind.Cosine, EndLr: 0),
    ]);

    /// <summary>A valid resnet spec with ghost batches, a regime and mixed sizes, for tests to break one rule of.</summary>
    private static readonly JobSpec LargeBatch = Full with
    {
        Model = new ModelSpec(ModelKind.ResNet44, 16, NormKind.GhostBatch, ClassifierKind.Hadamard),
        Training = Full.Training with
        {
            GlobalBatch = 1024,
            GhostBatch = 64,
            BatchAugmentation = 2,
            MixedSize = new MixedSizeSpec(MixedSizeMode.DPlus, [16, 24, 32], [0.25, 0.5, 0.25]),
            Regime = new RegimeSpec(LrScalingKind.Linear, 256, false, 2.5, 1.0,
            [
                new RegimePhase(0, Momentum: 0.95, Nesterov: true),
                new RegimePhase(40.5, Lr: 0.02, WeightDecay: 0, Schedule: ScheduleKind.Exp, EndLr: 1e-4),
                new RegimePhase(90, Lr: 0.01, Nesterov: false, Schedule: ScheduleKind.Linear),
            ]),
        },
    };

    [Fact]
    public void Documented_example_binds_every_field()
    {
        var spec = Parse(ExampleYaml);

        Assert.Equal(ModelKind.ResNet20, spec.Model.Kind);
        Assert.Equal(16, spec.Model.Width);
        Assert.Equal(NormKind.GhostBatch, spec.Model.Norm);
        Assert.Equal(ClassifierKind.Linear, spec.Model.Classifier);

        var training = spec.Training;
        Assert.Equal(4096, training.GlobalBatch);
        Assert.Equal(128, training.GhostBatch);
        Assert.Equal(4, training.BatchAugmentation);

        // Mode off: sizes and probabilities are kept although nothing uses them.
        var mixed = Assert.IsType<MixedSizeSpec>(training.MixedSize);
        Assert.Equal(MixedSizeMode.Off, mixed.Mode);
        Assert.False(mixed.Enabled);
        Assert.Equal([20, 28, 36], mixed.Sizes);
        Assert.Equal([0.3, 0.4, 0.3], mixed.Probabilities);

        var regime = Assert.IsType<RegimeSpec>(training.Regime);
        Assert.Equal(LrScalingKind.Sqrt, regime.LrScaling);
        Assert.Equal(128, regime.BaseBatch);
        Assert.True(regime.AdaptUpdates);
        Assert.Equal(0, regime.WarmupEpochs);
        Assert.Equal(5.0, regime.GradClipNorm);
        Assert.Equal(3, regime.Phases.Count);

        var (first, second, third) = (regime.Phases[0], regime.Phases[1], regime.Phases[2]);
        Assert.Equal(0, first.Epoch);
        Assert.Equal(0.1, first.Lr);
        Assert.Equal(0.9, first.Momentum);
        Assert.Equal(1e-4, first.WeightDecay);
        Assert.Null(first.Nesterov);
        Assert.Equal(ScheduleKind.Constant, first.Schedule);
        Assert.Null(first.EndLr);

        Assert.Equal(81, second.Epoch);
        Assert.Equal(0.01, second.Lr);
        Assert.Null(second.Momentum);
        Assert.Null(second.WeightDecay);
        Assert.Null(second.Nesterov);
        Assert.Equal(ScheduleKind.Constant, second.Schedule);
        Assert.Null(second.EndLr);

        Assert.Equal(122, third.Epoch);
        Assert.Equal(0.001, third.Lr);
        Assert.Null(third.Momentum);
        Assert.Equal(ScheduleKind.Cosine, third.Schedule);
        Assert.Equal(0.0, third.EndLr);

        Assert.Equal(ExampleRegime, regime);
        // Keys not in the example keep their defaults.
        Assert.Equal(JobSpecDefaults.Optimizer, training.Optimizer);
        Assert.Equal(JobSpecDefaults.Training.Epochs, training.Epochs);
    }

    [Fact]
    public void Absent_keys_take_their_defaults()
    {
        var spec = Parse("name: demo");

        Assert.Equal(ClassifierKind.Linear, spec.Model.Classifier);
        Assert.Equal(0, spec.Training.GhostBatch);
        Assert.Equal(1, spec.Training.BatchAugmentation);
        Assert.Null(spec.Training.MixedSize);
        Assert.Equal(MixedSizeSpec.Off, spec.Training.MixedSizeOrOff);
        Assert.False(spec.Training.MixedSizeOrOff.Enabled);
        Assert.Null(spec.Training.Regime);
        Assert.Equal(JobSpecDefaults.Training, spec.Training);
        Assert.Equal(JobSpecDefaults.Model, spec.Model);
    }

    [Fact]
    public void Empty_sections_take_their_defaults()
    {
        var spec = Parse("""
            name: demo
            training:
              global_batch: 512
              mixed_size:
              regime:
            """);

        Assert.Equal(MixedSizeSpec.Off, spec.Training.MixedSize);
        // base_batch defaults to the global batch, so an empty regime scales nothing.
        Assert.Equal(new RegimeSpec(LrScalingKind.None, 512, false, 0, 0, [new RegimePhase(0)]), spec.Training.Regime);
    }

    [Fact]
    public void Base_batch_defaults_to_the_ghost_batch_when_there_is_one()
    {
        var spec = Parse("""
            name: demo
            model: { kind: resnet20, norm: ghost_batch }
            training: { global_batch: 2048, ghost_batch: 32, regime: { lr_scaling: sqrt } }
            """);
        Assert.Equal(32, spec.Training.Regime!.BaseBatch);
    }

    [Fact]
    public void Range_batch_norm_takes_ghost_batches_optionally()
    {
        var whole = Parse("name: demo\nmodel: { kind: cnn, norm: range_batch }\ntraining: { global_batch: 256 }");
        var ghosts = Parse("name: demo\nworkers: 2\nmodel: { kind: cnn, norm: range_batch }\ntraining: { global_batch: 256, ghost_batch: 32 }");

        Assert.Equal(NormKind.RangeBatch, whole.Model.Norm);
        Assert.Equal(0, whole.Training.GhostBatch);
        Assert.Equal(32, ghosts.Training.GhostBatch);
    }

    [Fact]
    public void Phase_zero_without_lr_and_phases_past_the_last_epoch_are_allowed()
    {
        var spec = Parse("""
            name: demo
            training:
              epochs: 10
              regime:
                phases:
                  - epoch: 0
                    momentum: 0.8
                  - { epoch: 500, lr: 0.001 }
            """);

        Assert.Equal([new RegimePhase(0, Momentum: 0.8), new RegimePhase(500, Lr: 0.001)], spec.Training.Regime!.Phases);
    }

    [Fact]
    public void Mixed_sizes_on_a_resnet_bind()
    {
        var spec = Parse("""
            name: demo
            model: { kind: resnet44 }
            training:
              mixed_size:
                mode: D+
                sizes: [8, 32]
                probabilities: [0.1, 0.9]
            """);
        Assert.Equal(new MixedSizeSpec(MixedSizeMode.DPlus, [8, 32], [0.1, 0.9]), spec.Training.MixedSize);
        Assert.True(spec.Training.MixedSizeOrOff.Enabled);
    }

    [Fact]
    public void Mode_off_does_not_check_sizes_or_probabilities()
    {
        var spec = Parse("""
            name: demo
            model: { kind: mlp }
            training: { mixed_size: { mode: off, sizes: [2], probabilities: [0.5, 7] } }
            """);
        Assert.Equal(new MixedSizeSpec(MixedSizeMode.Off, [2], [0.5, 7]), spec.Training.MixedSize);
    }

    [Theory]
    // Ghost batch norm.
    [InlineData("model: { norm: batch }\ntraining: { ghost_batch: 64 }",
        "training.ghost_batch: is only used with model.norm: ghost_batch or range_batch (line 3)")]
    [InlineData("training: { ghost_batch: 64 }", // default norm (batch)
        "training.ghost_batch: is only used with model.norm: ghost_batch or range_batch (line 2)")]
    [InlineData("training: { ghost_batch: -1 }",
        "training.ghost_batch: must be >= 0 (0 = unused) (line 2)")]
    [InlineData("model: { norm: ghost_batch }",
        "training.ghost_batch: is required when model.norm is ghost_batch")]
    [InlineData("model: { norm: ghost_batch }\ntraining: { ghost_batch: 0 }",
        "training.ghost_batch: is required when model.norm is ghost_batch (line 3)")]
    [InlineData("model: { norm: ghost_batch }\ntraining: { ghost_batch: 1 }",
        "training.ghost_batch: must be >= 2 (batch statistics of one sample are degenerate) (line 3)")]
    [InlineData("model: { norm: ghost_batch }\ntraining:\n  global_batch: 1000\n  ghost_batch: 128",
        "training.global_batch: must be a positive multiple of training.ghost_batch (line 4)")]
    [InlineData("model: { norm: ghost_batch }\ntraining:\n  global_batch: 64\n  ghost_batch: 128",
        "training.global_batch: must be a positive multiple of training.ghost_batch (line 4)")]
    // Range batch norm: ghost batches optional, and when given, under ghost batch norm's rules.
    [InlineData("model: { norm: range_batch }\ntraining: { ghost_batch: 1 }",
        "training.ghost_batch: must be >= 2 (batch statistics of one sample are degenerate) (line 3)")]
    [InlineData("model: { norm: range_batch }\ntraining:\n  global_batch: 1000\n  ghost_batch: 128",
        "training.global_batch: must be a positive multiple of training.ghost_batch (line 4)")]
    [InlineData("model: { norm: range_batch }\ntraining: { global_batch: 256, ghost_batch: 64, micro_batch: 32 }",
        "training.micro_batch: 32 must be a multiple of training.ghost_batch (64): a ghost batch never spans two micro-batches (line 3)")]
    [InlineData("model: { norm: range_batch }\ntraining: { global_batch: 256, micro_batch: 1 }",
        "training.micro_batch: must give batch norm at least 2 rows per forward (micro_batch x batch_augmentation) (line 3)")]
    // Batch augmentation and classifier.
    [InlineData("training: { batch_augmentation: 0 }", "training.batch_augmentation: must be >= 1 (1 = off) (line 2)")]
    [InlineData("model: { classifier: softmax }", "model.classifier: must be one of linear, hadamard; got 'softmax' (line 2)")]
    // Mixed size.
    [InlineData("model: { kind: resnet20 }\ntraining: { mixed_size: { mode: A+ } }",
        "training.mixed_size.mode: must be one of off, B+, D+; got 'A+' (line 3)")]
    [InlineData("model: { kind: resnet20 }\ntraining: { mixed_size: { mode: B+ } }",
        "training.mixed_size.sizes: must list at least one size when mode is B+")]
    [InlineData("model: { kind: resnet20 }\ntraining:\n  mixed_size:\n    mode: B+\n    sizes:\n      - 20\n      - 5\n    probabilities: [0.5, 0.5]",
        "training.mixed_size.sizes[1]: 5 is smaller than the model accepts (8 px) (line 8)")]
    [InlineData("model: { kind: resnet20 }\ntraining:\n  mixed_size:\n    mode: B+\n    sizes: [20, 28, 36]\n    probabilities: [0.3, 0.4, 0.2]",
        "training.mixed_size.probabilities: must sum to 1, got 0.9 (line 7)")]
    [InlineData("model: { kind: resnet20 }\ntraining:\n  mixed_size: { mode: B+, sizes: [20, 28], probabilities: [1] }",
        "training.mixed_size.probabilities: must have one entry per size (2 sizes, got 1) (line 4)")]
    [InlineData("model: { kind: resnet20 }\ntraining:\n  mixed_size: { mode: B+, sizes: [20, 28], probabilities: [1, 0] }",
        "training.mixed_size.probabilities[1]: must be > 0 and <= 1 (line 4)")]
    [InlineData("model: { kind: resnet20 }\ntraining:\n  mixed_size: { mode: D+, sizes: [20, 28], probabilities: [1.5, -0.5] }",
        "training.mixed_size.probabilities[0]: must be > 0 and <= 1 (line 4)",
        "training.mixed_size.probabilities[1]: must be > 0 and <= 1 (line 4)")]
    [InlineData("model: { kind: cnn }\ntraining:\n  mixed_size: { mode: D+, sizes: [20, 28], probabilities: [0.5, 0.5] }",
        "training.mixed_size.mode: needs a model with global pooling (resnet20, resnet44); model.kind cnn takes only the dataset's image size (line 4)")]
    [InlineData("training:\n  mixed_size: { mode: B+, sizes: [20], probabilities: [1] }", // default model: cnn
        "training.mixed_size.mode: needs a model with global pooling (resnet20, resnet44); model.kind cnn takes only the dataset's image size (line 3)")]
    [InlineData("model: { kind: mlp }\ntraining:\n  mixed_size: { mode: B+, sizes: [20], probabilities: [1] }",
        "training.mixed_size.mode: needs a model with global pooling (resnet20, resnet44); model.kind mlp takes only the dataset's image size (line 4)")]
    // The bad list falls back to empty; that is not reported again as "must list at least one size".
    [InlineData("model: { kind: resnet20 }\ntraining:\n  mixed_size: { mode: B+, sizes: [twenty], probabilities: [1] }",
        "training.mixed_size.sizes[0]: expected an integer, got 'twenty' (line 4)")]
    // Regime settings.
    [InlineData("training:\n  regime: { lr_scaling: quadratic }",
        "training.regime.lr_scaling: must be one of none, sqrt, linear; got 'quadratic' (line 3)")]
    [InlineData("training:\n  regime: { base_batch: 0 }", "training.regime.base_batch: must be >= 1 (line 3)")]
    [InlineData("training:\n  regime: { warmup_epochs: -1 }", "training.regime.warmup_epochs: must be >= 0 (line 3)")]
    [InlineData("training:\n  regime: { grad_clip_norm: -0.5 }", "training.regime.grad_clip_norm: must be >= 0 (0 = off) (line 3)")]
    [InlineData("training:\n  regime: { adapt_updates: 1 }", "training.regime.adapt_updates: expected true or false, got '1' (line 3)")]
    [InlineData("training:\n  regime: 3", "training.regime: expected a mapping, got '3' (line 3)")]
    // Phases.
    [InlineData("training:\n  regime:\n    phases: []", "training.regime.phases: must have at least one phase (line 4)")]
    [InlineData("training:\n  regime:\n    phases:", "training.regime.phases: must have at least one phase (line 4)")]
    [InlineData("training:\n  regime:\n    phases: { epoch: 0 }", "training.regime.phases: expected a list, got a mapping (line 4)")]
    [InlineData("training:\n  regime:\n    phases: [3]", "training.regime.phases[0]: expected a mapping, got '3' (line 4)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 5, lr: 0.1 }",
        "training.regime.phases[0].epoch: the first phase must start at epoch 0; got 5 (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0 }\n      - { epoch: 81 }\n      - { epoch: 50 }",
        "training.regime.phases[2].epoch: phases out of order: epoch 50 after 81 (line 7)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0 }\n      - { epoch: 81 }\n      - { epoch: 81 }",
        "training.regime.phases[2].epoch: two phases start at epoch 81 (line 7)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0 }\n      - { epoch: -3 }",
        "training.regime.phases[1].epoch: must be >= 0 (line 6)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0 }\n      - { lr: 0.01 }",
        "training.regime.phases[1].epoch: is required (line 6)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, lr: 0.1 }\n      - { epoch: 10, lr: -0.1 }",
        "training.regime.phases[1].lr: must be > 0 (line 6)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, lr: 0 }",
        "training.regime.phases[0].lr: must be > 0 (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, schedule: linear, end_lr: -1 }",
        "training.regime.phases[0].end_lr: must be >= 0 (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, schedule: exp, end_lr: 0 }",
        "training.regime.phases[0].end_lr: must be > 0 for schedule exp (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, end_lr: 0.001 }",
        "training.regime.phases[0].end_lr: is only used with a linear, cosine or exp schedule (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, schedule: step }",
        "training.regime.phases[0].schedule: must be one of constant, linear, cosine, exp; got 'step' (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, momentum: 1 }",
        "training.regime.phases[0].momentum: must be >= 0 and < 1 (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, weight_decay: -1e-4 }",
        "training.regime.phases[0].weight_decay: must be >= 0 (line 5)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, momentum: 0, nesterov: true }",
        "training.regime.phases[0].nesterov: requires momentum > 0 (line 5)")]
    [InlineData("training:\n  optimizer: { nesterov: true }\n  regime:\n    phases:\n      - { epoch: 0 }\n      - { epoch: 9, momentum: 0 }",
        "training.regime.phases[1].momentum: must be > 0 while nesterov is on (line 7)")]
    [InlineData("training:\n  regime:\n    phases:\n      - { epoch: 0, lrr: 0.1 }",
        "training.regime.phases[0].lrr: unknown field; did you mean 'lr'? (line 5)")]
    public void Rule_is_reported_with_path_and_line(string body, params string[] expected)
    {
        var ex = Fails("name: demo\n" + body);
        Assert.Equal(expected, ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void All_errors_are_reported_at_once()
    {
        var ex = Fails("""
            name: demo
            model: { kind: cnn, norm: ghost_batch, classifier: hadamard }
            training:
              global_batch: 1000
              ghost_batch: 64
              batch_augmentation: 0
              mixed_size: { mode: B+, sizes: [4, 32], probabilities: [0.5, 0.4] }
              regime:
                lr_scaling: cube
                phases:
                  - { epoch: 0, lr: 0.1 }
                  - { epoch: 81, lr: -0.01 }
                  - { epoch: 50, momentum: 2 }
            """);

        Assert.Equal(
            [
                "training.global_batch: must be a positive multiple of training.ghost_batch (line 4)",
                "training.batch_augmentation: must be >= 1 (1 = off) (line 6)",
                "training.mixed_size.mode: needs a model with global pooling (resnet20, resnet44); model.kind cnn takes only the dataset's image size (line 7)",
                "training.mixed_size.sizes[0]: 4 is smaller than the model accepts (8 px) (line 7)",
                "training.mixed_size.probabilities: must sum to 1, got 0.9 (line 7)",
                "training.regime.lr_scaling: must be one of none, sqrt, linear; got 'cube' (line 9)",
                "training.regime.phases[1].lr: must be > 0 (line 12)",
                "training.regime.phases[2].epoch: phases out of order: epoch 50 after 81 (line 13)",
                "training.regime.phases[2].momentum: must be >= 0 and < 1 (line 13)",
            ],
            ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Set_lr_scaling_changes_only_that_regime_field()
    {
        var spec = Parse(ExampleYaml, "training.regime.lr_scaling=linear");
        Assert.Equal(ExampleRegime with { LrScaling = LrScalingKind.Linear }, spec.Training.Regime);

        // Without a regime in the file the override creates one with defaults.
        var created = Parse("name: demo", "training.regime.lr_scaling=linear");
        Assert.Equal(new RegimeSpec(LrScalingKind.Linear, 256, false, 0, 0, [new RegimePhase(0)]), created.Training.Regime);

        var error = FailsOnce("name: demo", "training.regime.lr_scaling=cubic");
        Assert.Equal("training.regime.lr_scaling: must be one of none, sqrt, linear; got 'cubic' (--set)", error.ToString());
    }

    [Fact]
    public void Set_ghost_batch_overrides_the_file_and_feeds_the_base_batch_default()
    {
        var spec = Parse(ExampleYaml, "training.ghost_batch=64");
        Assert.Equal(64, spec.Training.GhostBatch);
        Assert.Equal(128, spec.Training.Regime!.BaseBatch); // written in the file

        var defaulted = Parse("""
            name: demo
            model: { kind: resnet20, norm: ghost_batch }
            training: { ghost_batch: 32, regime: {} }
            """, "training.ghost_batch=64");
        Assert.Equal(64, defaulted.Training.GhostBatch);
        Assert.Equal(64, defaulted.Training.Regime!.BaseBatch);

        var error = FailsOnce("name: demo", "training.ghost_batch=64");
        Assert.Equal("training.ghost_batch: is only used with model.norm: ghost_batch or range_batch (--set)", error.ToString());
    }

    [Fact]
    public void Set_mixed_size_replaces_the_whole_section()
    {
        var spec = Parse(ExampleYaml, "training.mixed_size={mode: B+, sizes: [16, 28], probabilities: [0.5, 0.5]}");
        Assert.Equal(new MixedSizeSpec(MixedSizeMode.BPlus, [16, 28], [0.5, 0.5]), spec.Training.MixedSize);

        var ex = Fails(ExampleYaml, "training.mixed_size={mode: B+, sizes: [16, 4], probabilities: [0.5, 0.6]}");
        Assert.Equal(
            [
                "training.mixed_size.sizes[1]: 4 is smaller than the model accepts (8 px) (--set)",
                "training.mixed_size.probabilities: must sum to 1, got 1.1 (--set)",
            ],
            ex.Errors.Select(e => e.ToString()));
    }

    public static TheoryData<JobSpec> RoundTripSpecs => new()
    {
        LargeBatch,
        Parse(ExampleYaml),
        // Mode off with leftover (unchecked) lists, and an empty-section regime.
        Full with
        {
            Training = Full.Training with
            {
                MixedSize = new MixedSizeSpec(MixedSizeMode.Off, [2], [7]),
                Regime = new RegimeSpec(LrScalingKind.None, 128, false, 0, 0, [new RegimePhase(0)]),
            },
        },
        Full with { Training = Full.Training with { MixedSize = MixedSizeSpec.Off } },
    };

    [Theory]
    [MemberData(nameof(RoundTripSpecs))]
    public void ToYaml_round_trips_regimes_and_mixed_sizes(JobSpec spec)
    {
        Assert.Empty(JobSpecValidator.Validate(spec));
        Assert.Equal(spec, Parse(JobSpecYaml.ToYaml(spec)));
    }

    [Fact]
    public void ToYaml_writes_the_new_sections_readably()
    {
        var yaml = JobSpecYaml.ToYaml(LargeBatch);

        Assert.Contains("""
              norm: ghost_batch
              classifier: hadamard
            """.ReplaceLineEndings("\n"), yaml);
        Assert.Contains("""
              threads: 3
              ghost_batch: 64
              batch_augmentation: 2
              micro_batch: 0
              mixed_size:
                mode: D+
                sizes: [16, 24, 32]
                probabilities: [0.25, 0.5, 0.25]
              regime:
                lr_scaling: linear
                base_batch: 256
                adapt_updates: false
                warmup_epochs: 2.5
                grad_clip_norm: 1
                phases:
                  - { epoch: 0, momentum: 0.95, nesterov: true, schedule: constant }
                  - { epoch: 40.5, lr: 0.02, weight_decay: 0, schedule: exp, end_lr: 0.0001 }
                  - { epoch: 90, lr: 0.01, nesterov: false, schedule: linear }
            checkpoint:
            """.ReplaceLineEndings("\n"), yaml);
    }

    [Fact]
    public void ToYaml_leaves_out_absent_sections_and_quotes_off()
    {
        Assert.DoesNotContain("mixed_size", JobSpecYaml.ToYaml(Full));
        Assert.DoesNotContain("regime", JobSpecYaml.ToYaml(Full));
        // Plain "off" is false to YAML 1.1 readers, so it is quoted; this reader takes either.
        Assert.Contains("mode: \"off\"", JobSpecYaml.ToYaml(Full with { Training = Full.Training with { MixedSize = MixedSizeSpec.Off } }));
    }

    [Fact]
    public void Specs_built_in_code_get_the_same_rules()
    {
        var spec = LargeBatch with
        {
            Model = LargeBatch.Model with { Classifier = (ClassifierKind)5 },
            Training = LargeBatch.Training with
            {
                GhostBatch = 48,
                MixedSize = LargeBatch.Training.MixedSize! with { Probabilities = [0.25, double.NaN, 0.25] },
                Regime = LargeBatch.Training.Regime! with
                {
                    Phases = [new RegimePhase(0), new RegimePhase(double.NaN), new RegimePhase(3, Lr: double.NaN)],
                },
            },
        };

        Assert.Equal(
            [
                "model.classifier: must be one of linear, hadamard; got '5'",
                "training.global_batch: must be a positive multiple of training.ghost_batch",
                "training.mixed_size.probabilities[1]: must be > 0 and <= 1",
                "training.regime.phases[1].epoch: must be >= 0",
                "training.regime.phases[2].lr: must be > 0",
            ],
            JobSpecValidator.Validate(spec).Select(e => e.ToString()));
    }
}
