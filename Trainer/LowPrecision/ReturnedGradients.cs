using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// TorchSharp hands a custom backward's gradients to libtorch as handles that stay ours; libtorch holds its own reference
/// once the call returns, so they are disposed at the thread's next call rather than left to the finalizer, which would keep
/// activation-sized gradients alive until a garbage collection (as <c>GhostBatchNormCpuFunction</c> does).
/// </summary>
internal static class ReturnedGradients
{
    /// <summary>Disposes and forgets the handles in <paramref name="returned"/>.</summary>
    public static void Release(ref List<Tensor>? returned)
    {
        if (returned is not { Count: > 0 }) return;
        foreach (var t in returned) t.Dispose();
        returned.Clear();
    }
}
