using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Batch augmentation ("Augment your batch", ALGORITHMS.md section 3): every sample appears M times
/// in the same step, sample-major (s0 s0 .. s1 s1 ..), targets repeated; the augmenter then draws
/// each row's crop, flip and cutout independently, so the M copies differ.
/// </summary>
public static class BatchAugmentation
{
    /// <summary>The batch with every row repeated <paramref name="copies"/> times; M = 1 returns the inputs themselves.</summary>
    public static (Tensor Images, Tensor Labels) Expand(Tensor images, Tensor labels, int copies)
    {
        if (copies < 1) throw new ArgumentOutOfRangeException(nameof(copies), copies, "at least one copy");
        if (copies == 1) return (images, labels);
        return (images.repeat_interleave(copies, dim: 0), labels.repeat_interleave(copies, dim: 0));
    }
}
