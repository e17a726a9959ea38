using TorchSharp;
using TorchSharp.Modules;

namespace Orchestrator.Trainer.Devices;

/// <summary>The hyperparameters that choose a convolution kernel (not the batch or the image size).</summary>
public sealed record ConvolutionShape(long InChannels, long OutChannels, long[] Kernel, long[] Stride, long[] Padding, long[] Dilation, long Groups)
{
    /// <summary>The shapes of a model's 2-d convolutions, each once.</summary>
    public static IReadOnlyList<ConvolutionShape> Of(torch.nn.Module model) =>
        model.modules().OfType<Convolution>()
            .Where(c => !c.transposed && c.kernel_size.Length == 2)
            .Select(From)
            .DistinctBy(s => s.ToString())
            .ToList();

    /// <summary>The shape of one convolution module (explicit, "valid" or "same" padding).</summary>
    public static ConvolutionShape From(Convolution c)
    {
        var padding = c.padding_type switch
        {
            TorchSharp.Padding.Valid => new long[c.kernel_size.Length],
            TorchSharp.Padding.Same => c.kernel_size.Select((k, i) => c.dilation[i] * (k - 1) / 2).ToArray(),
            _ => c.padding ?? new long[c.kernel_size.Length],
        };
        return new ConvolutionShape(c.in_channels, c.out_channels, c.kernel_size, c.stride, padding, c.dilation, c.groups);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{InChannels}->{OutChannels} {string.Join('x', Kernel)}" +
        (Stride.Any(s => s != 1) ? $" stride {string.Join('x', Stride)}" : "") +
        (Padding.Any(p => p != 0) ? $" pad {string.Join('x', Padding)}" : "") +
        (Dilation.Any(d => d != 1) ? $" dilation {string.Join('x', Dilation)}" : "") +
        (Groups != 1 ? $" groups {Groups}" : "");
}
