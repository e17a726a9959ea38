using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// A labelled image set held in memory as tensors: images [N, C, H, W] float32 (already normalized
/// per channel), labels [N] int64. Small enough for every dataset this trainer targets; the sampler
/// gathers batches with <c>index_select</c>.
/// </summary>
public sealed class TensorDataset : IDisposable
{
    public TensorDataset(Tensor images, Tensor labels, int classes)
    {
        if (images.dim() != 4) throw new ArgumentException($"images must be [N,C,H,W], got {images.dim()} dims", nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException("labels must be [N] with N matching images", nameof(labels));
        Images = images;
        Labels = labels;
        Classes = classes;
    }

    public Tensor Images { get; }
    public Tensor Labels { get; }
    public int Classes { get; }
    public int Count => (int)Images.shape[0];
    public int Channels => (int)Images.shape[1];
    public int Height => (int)Images.shape[2];
    public int Width => (int)Images.shape[3];

    /// <summary>The first <paramref name="count"/> samples (a view, no copy); 0 or >= Count returns this set.</summary>
    public TensorDataset Take(int count) =>
        count <= 0 || count >= Count ? this : new TensorDataset(Images.narrow(0, 0, count), Labels.narrow(0, 0, count), Classes);

    /// <summary>The set on <paramref name="device"/>: this instance when it is already there, else a copy.</summary>
    public TensorDataset To(Device device) =>
        Images.device.type == device.type && Images.device.index == device.index ? this : new(Images.to(device), Labels.to(device), Classes);

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>The train and test splits of one dataset.</summary>
public sealed record DatasetSplits(TensorDataset Train, TensorDataset Test);
