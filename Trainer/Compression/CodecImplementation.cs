namespace Orchestrator.Trainer.Compression;

/// <summary>Which implementation of the wire format encodes a bucket (<see cref="WireFormat"/>; both produce it byte for byte in layout).</summary>
public enum CodecImplementation
{
    /// <summary>Fused single-pass vectorized C# kernels over host memory: the fast CPU path.</summary>
    Fused,

    /// <summary>Torch ops wherever the bucket's tensor lives: the GPU path and the reference.</summary>
    TorchOps,
}
