namespace Orchestrator.Trainer.Checkpointing;

/// <summary>
/// Where training stands between two steps: optimizer steps taken, the current epoch, and the
/// global sample offset into that epoch's permutation (the next sample to train on). Together with
/// the seed this fixes every future batch and augmentation, for any worker count.
/// </summary>
/// <param name="Skipped">Steps skipped so far (non-finite gradients): updates = Step - Skipped.</param>
public sealed record TrainingPosition(long Step, int Epoch, long Offset, long Skipped = 0)
{
    public static readonly TrainingPosition Start = new(0, 0, 0);
}
