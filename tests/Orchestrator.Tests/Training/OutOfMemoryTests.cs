using Orchestrator.Spec;
using Orchestrator.Trainer.Training;
using TorchSharp;

namespace Orchestrator.Tests.Training;

/// <summary>An allocation that fails at run time is reported as out of memory with the fields that size memory, not a stack trace.</summary>
public sealed class OutOfMemoryTests
{
    [Fact]
    public void Libtorchs_real_allocation_failure_becomes_a_user_error_naming_the_size_and_the_fields()
    {
        // 2^50 floats (4 PiB): malloc refuses at once, nothing is touched.
        var failure = Record.Exception(() => torch.empty(1L << 50));
        Assert.NotNull(failure);

        var spec = TestSpecs.Synthetic();
        var explained = OutOfMemory.Explain(failure, spec);

        Assert.NotNull(explained);
        Assert.Contains("out of memory while training (an allocation of 4194304 GiB failed)", explained.Message);
        Assert.Contains($"training.global_batch ({spec.Training.GlobalBatch})", explained.Message);
        Assert.Contains("model.width (4)", explained.Message);
        Assert.Same(failure, explained.InnerException);
    }

    [Fact]
    public void Other_failures_are_left_alone()
    {
        Assert.Null(OutOfMemory.Explain(new InvalidOperationException("parameters diverged across workers at step 6"), TestSpecs.Synthetic()));
        Assert.NotNull(OutOfMemory.Explain(new AggregateException(new OutOfMemoryException()), TestSpecs.Synthetic()));
    }
}
