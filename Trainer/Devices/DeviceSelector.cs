using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Devices;

/// <summary>Resolves the spec's <c>device</c> to a torch device: auto takes CUDA when it is usable.</summary>
public static class DeviceSelector
{
    /// <param name="localRank">Index of this worker among the workers on its machine; picks the GPU.</param>
    public static Device Select(DeviceKind kind, int localRank = 0) => Select(kind, localRank, cuda.is_available(), cuda.is_available() ? cuda.device_count() : 0);

    /// <summary>The decision itself, apart from the probe, so it can be tested on machines without a GPU.</summary>
    public static Device Select(DeviceKind kind, int localRank, bool cudaAvailable, int cudaDevices) => kind switch
    {
        DeviceKind.Cpu => CPU,
        DeviceKind.Cuda when !cudaAvailable => throw new UserFacingException("device: cuda requested but no CUDA device is usable (build with -p:TorchBackend=cuda and run on a GPU machine, or set device: auto)"),
        DeviceKind.Cuda or DeviceKind.Auto when cudaAvailable => new Device(DeviceType.CUDA, localRank % Math.Max(1, cudaDevices)),
        _ => CPU,
    };
}
