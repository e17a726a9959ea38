using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

/// <summary>Staged residuals (overlap): a step's new residuals become current only when the step is applied.</summary>
public sealed class StagedErrorFeedbackTests
{
    [Fact]
    public void New_residuals_wait_for_commit_and_a_discarded_step_keeps_the_old_ones()
    {
        var memory = new ErrorFeedback([2, 3], stage: true);
        var values = new float[] { 1, 2 };
        memory.Compensate(0, values)[0] = 5; // the allreduce writes the new error beside the current residual
        Assert.Equal([0f, 0f], memory.Residual(0).ToArray());
        memory.Commit();
        Assert.Equal(5f, memory.Residual(0)[0]);

        memory.Compensate(0, values).Fill(7); // a step every worker skips
        memory.Discard();
        memory.Commit();
        Assert.Equal(5f, memory.Residual(0)[0]);
        Assert.Equal([6f, 2f], values); // compensation added the current residual both times: 1 + 5
    }

    [Fact]
    public void A_bucket_not_compensated_this_step_keeps_its_residual_through_a_commit()
    {
        var memory = new ErrorFeedback([2, 2], stage: true);
        memory.Compensate(0, new float[2]).Fill(1);
        memory.Compensate(1, new float[2]).Fill(2);
        memory.Commit();
        memory.Compensate(0, new float[2]).Fill(3); // bucket 1 travels fp32 this step (warm-up): no new residual
        memory.Commit();
        Assert.Equal([3f, 3f], memory.Residual(0).ToArray());
        Assert.Equal([2f, 2f], memory.Residual(1).ToArray());
    }

    [Fact]
    public void Clear_forgets_current_and_staged_residuals()
    {
        var memory = new ErrorFeedback([2], stage: true);
        memory.Compensate(0, new float[2]).Fill(1);
        memory.Commit();
        memory.Compensate(0, new float[2]).Fill(4);
        memory.Clear();
        memory.Commit();
        Assert.Equal([0f, 0f], memory.Residual(0).ToArray());
    }
}
