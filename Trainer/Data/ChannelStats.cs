using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Per-channel mean and standard deviation of a dataset's pixels on the [0, 1] scale; turns raw
/// uint8 pixels into the normalized float32 tensors that <see cref="TensorDataset"/> holds.
/// Fixed published constants rather than statistics of whatever subset is loaded, so that a model
/// sees the same input scale however much of the training split a job uses.
/// </summary>
public sealed record ChannelStats(float[] Mean, float[] Std)
{
    /// <summary>Fashion-MNIST training split statistics.</summary>
    public static ChannelStats FashionMnist { get; } = new([0.2860f], [0.3530f]);

    /// <summary>MNIST training split statistics.</summary>
    public static ChannelStats Mnist { get; } = new([0.1307f], [0.3081f]);

    /// <summary>CIFAR-10 training split statistics (R, G, B).</summary>
    public static ChannelStats Cifar10 { get; } = new([0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]);

    /// <summary>The statistics the loader of <paramref name="dataset"/> normalizes with; null for the generated
    /// <c>synthetic</c> dataset, whose values are not pixels.</summary>
    public static ChannelStats? Of(DatasetKind dataset) => dataset switch
    {
        DatasetKind.FashionMnist => FashionMnist,
        DatasetKind.MnistIdx => Mnist,
        DatasetKind.Cifar10 => Cifar10,
        DatasetKind.Synthetic => null,
    };

    /// <summary>
    /// Converts <paramref name="pixels"/> (uint8, row-major, <paramref name="shape"/> = [N, C, H, W])
    /// to float32 <c>(x / 255 - mean[c]) / std[c]</c>.
    /// </summary>
    public Tensor Normalize(byte[] pixels, long[] shape)
    {
        if (shape.Length != 4 || shape[1] != Mean.Length || Std.Length != Mean.Length)
            throw new ArgumentException($"shape must be [N,{Mean.Length},H,W]", nameof(shape));
        using var scope = NewDisposeScope();
        var bytes = ByteTensor(pixels, shape); // freed by the scope
        var mean = tensor(Mean).view(1, Mean.Length, 1, 1);
        var std = tensor(Std).view(1, Std.Length, 1, 1);
        var images = bytes.to(ScalarType.Float32).div_(255f).sub_(mean).div_(std);
        return images.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A uint8 tensor holding <paramref name="data"/>, filled through the tensor's native byte span
    /// because element-wise access would cost a native call per pixel.
    /// </summary>
    internal static Tensor ByteTensor(byte[] data, long[] shape)
    {
        var t = empty(shape, ScalarType.Byte);
        if (t.NumberOfElements != data.LongLength)
        {
            t.Dispose();
            throw new ArgumentException($"{data.LongLength} bytes do not fill shape [{string.Join(',', shape)}]", nameof(data));
        }
        data.AsSpan().CopyTo(t.bytes);
        return t;
    }

    /// <summary>Class labels stored one byte each, as the int64 tensor loss functions expect.</summary>
    internal static Tensor Labels(byte[] labels)
    {
        using var bytes = ByteTensor(labels, [labels.LongLength]);
        return bytes.to(ScalarType.Int64);
    }
}
