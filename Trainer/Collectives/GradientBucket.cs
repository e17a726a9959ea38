using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// A flat fp32 buffer holding the gradients of several parameters back to back. Each parameter's
/// <c>grad</c> is a view into it, so backward writes straight into the buffer and the allreduce
/// works on one contiguous span (no gather/scatter copies per step).
/// </summary>
public sealed class GradientBucket : IDisposable
{
    internal GradientBucket(Tensor flat, bool compressed, IReadOnlyList<string> names, IReadOnlyList<long[]> shapes)
    {
        Flat = flat;
        Compressed = compressed;
        ParameterNames = names;
        ParameterShapes = shapes;
    }

    /// <summary>The flat gradient buffer (1-d float32 on the training device).</summary>
    public Tensor Flat { get; }

    /// <summary>Number of gradient values.</summary>
    public int Elements => (int)Flat.shape[0];

    /// <summary>False for the bucket of small tensors (biases, norm parameters) that travel as fp32.</summary>
    public bool Compressed { get; }

    /// <summary>Names of the parameters whose gradients live here, in buffer order.</summary>
    public IReadOnlyList<string> ParameterNames { get; }

    /// <summary>The shapes of those parameters (and so of their gradients), in buffer order.</summary>
    public IReadOnlyList<long[]> ParameterShapes { get; }

    /// <summary>The buffer as a span of floats (CPU tensors only).</summary>
    public Span<float> Span => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Flat.bytes);

    public void Dispose() => Flat.Dispose();
}
