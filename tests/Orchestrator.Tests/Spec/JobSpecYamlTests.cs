using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

public class JobSpecYamlTests
{
    public static TheoryData<JobSpec> Specs => new()
    {
        Full,
        Parse("name: demo"),
        Full with { Data = Full.Data with { Dataset = DatasetKind.Synthetic, Root = "" } },
        Full with { Data = Full.Data with { Root = "C:\\data \"quoted\" # not a comment: yes\n" } },
        Full with { Data = Full.Data with { Root = "true" } },
        Full with { Data = Full.Data with { Root = "123" } },
        Full with { Name = "123-abc" },
        Full with { Training = Full.Training with { Seed = long.MinValue, Optimizer = Full.Training.Optimizer with { Lr = 1.0 / 3, WeightDecay = 0 } } },
        Full with { Training = Full.Training with { Optimizer = Full.Training.Optimizer with { Lr = 1e-300, Momentum = 0 , Nesterov = false } } },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void ToYaml_round_trips_through_Parse(JobSpec spec)
    {
        Assert.Equal(spec, Parse(JobSpecYaml.ToYaml(spec)));
    }

    [Fact]
    public void ToYaml_writes_every_field_readably()
    {
        Assert.Equal("""
            name: fmnist-cnn
            device: cuda
            workers: 1
            model:
              kind: resnet20
              width: 16
              norm: none
              classifier: linear
            data:
              dataset: cifar10
              root: /data/cifar
              train_subset: 1000
              test_subset: 500
              augment:
                crop_padding: 4
                flip: true
                cutout: 8
            training:
              epochs: 7
              global_batch: 128
              optimizer:
                kind: sgd
                lr: 0.1
                momentum: 0.8
                nesterov: true
                weight_decay: 0.0001
              seed: 42
              threads: 3
              ghost_batch: 0
              batch_augmentation: 1
              micro_batch: 0
            checkpoint:
              every_steps: 50
              keep: 2

            """.ReplaceLineEndings("\n"), JobSpecYaml.ToYaml(Full));
    }
}
