using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Random crop (after zero padding), horizontal flip and cutout applied to a whole [N, C, H, W] batch at once
/// on the batch's device: per-sample randomness becomes index tensors and masks instead of a loop over samples,
/// so augmentation stays cheap next to the model's forward pass. All randomness is drawn on the CPU from the
/// caller's generator (then moved to the device), so a seed reproduces the same augmentation on any device.
/// </summary>
public sealed class BatchAugmenter
{
    /// <summary>Validates <paramref name="spec"/>; a spec with every option off makes <see cref="Apply"/> the identity.</summary>
    public BatchAugmenter(AugmentSpec spec)
    {
        if (spec.CropPadding < 0) throw new ArgumentOutOfRangeException(nameof(spec), spec.CropPadding, "crop padding must be >= 0");
        if (spec.Cutout < 0) throw new ArgumentOutOfRangeException(nameof(spec), spec.Cutout, "cutout size must be >= 0");
        Spec = spec;
    }

    /// <summary>The options this augmenter applies.</summary>
    public AugmentSpec Spec { get; }

    /// <summary>True when <see cref="Apply"/> returns its input unchanged.</summary>
    public bool IsIdentity => Spec.CropPadding == 0 && !Spec.Flip && Spec.Cutout == 0;

    /// <summary>
    /// Augments <paramref name="images"/> ([N, C, H, W], floating point): crop, then flip, then cutout, each
    /// with independent randomness per sample. Returns a new tensor, or <paramref name="images"/> itself
    /// when <see cref="IsIdentity"/>.
    /// </summary>
    public Tensor Apply(Tensor images, Generator generator)
    {
        if (images.dim() != 4) throw new ArgumentException($"images must be [N,C,H,W], got {images.dim()} dims", nameof(images));
        if (IsIdentity) return images;

        using var scope = NewDisposeScope();
        var x = images;
        if (Spec.CropPadding > 0) x = RandomCrop(x, Spec.CropPadding, generator);
        if (Spec.Flip) x = RandomFlip(x, generator);
        if (Spec.Cutout > 0) x = Cutout(x, Spec.Cutout, generator);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Pads by <paramref name="padding"/> zeros on every side, then takes an H x W window at a per-sample offset
    /// in [0, 2 * padding] on each axis: two gathers, rows then columns, with indices offset + arange.
    /// </summary>
    private static Tensor RandomCrop(Tensor x, int padding, Generator generator)
    {
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var offsets = randint(0, 2 * padding + 1, [2, n], dtype: ScalarType.Int64, generator: generator).to(x.device);
        var padded = nn.functional.pad(x, [padding, padding, padding, padding]);
        var rows = (offsets[0].view(n, 1) + arange(h, dtype: ScalarType.Int64, device: x.device).view(1, h)).view(n, 1, h, 1);
        var cols = (offsets[1].view(n, 1) + arange(w, dtype: ScalarType.Int64, device: x.device).view(1, w)).view(n, 1, 1, w);
        var windowRows = padded.gather(2, rows.expand(n, c, h, w + 2 * padding));
        return windowRows.gather(3, cols.expand(n, c, h, w));
    }

    /// <summary>Mirrors each sample left-right with probability 1/2.</summary>
    private static Tensor RandomFlip(Tensor x, Generator generator)
    {
        long n = x.shape[0];
        var flip = randint(0, 2, [n], dtype: ScalarType.Int64, generator: generator).to(x.device).eq(1).view(n, 1, 1, 1);
        return where(flip, x.flip(3), x);
    }

    /// <summary>
    /// Zeroes a <paramref name="size"/> x <paramref name="size"/> square centred at a uniformly random pixel of each
    /// sample, clipped at the borders (so squares near an edge are smaller, as in DeVries and Taylor 2017).
    /// </summary>
    private static Tensor Cutout(Tensor x, int size, Generator generator)
    {
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        var cy = randint(0, h, [n], dtype: ScalarType.Int64, generator: generator).to(x.device);
        var cx = randint(0, w, [n], dtype: ScalarType.Int64, generator: generator).to(x.device);
        var top = (cy - size / 2).view(n, 1);
        var left = (cx - size / 2).view(n, 1);
        var ys = arange(h, dtype: ScalarType.Int64, device: x.device).view(1, h);
        var xs = arange(w, dtype: ScalarType.Int64, device: x.device).view(1, w);
        var inRows = ys.ge(top).logical_and(ys.lt(top + size)).view(n, 1, h, 1);
        var inCols = xs.ge(left).logical_and(xs.lt(left + size)).view(n, 1, 1, w);
        return x.masked_fill(inRows.logical_and(inCols), 0);
    }
}
