namespace Orchestrator.Trainer.Checkpointing;

/// <summary>
/// Where training stands between two steps: optimizer steps taken, the current epoch, and the
/// global sample offset into that epoch's permutation (the next sample to train on). Together with
/// the seed this fixes every future batch and augmentation, for any worker count.
/// </summary>
public sealed record TrainingPosition(long Step, int Epoch, long Offset)
{
    public static readonly TrainingPosition Start = new(0, 0, 0);
}
