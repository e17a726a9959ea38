using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Calls a TorchSharp custom autograd function so that only its output outlives the call. TorchSharp 0.107 keeps, per
/// output, an <c>empty_like</c> tensor (its "output cache") that the calling thread's dispose scope owns and that the
/// function's node disposes again when libtorch frees the node. On a GPU libtorch runs backward, and may free the graph,
/// on its own device thread, so the two disposals could run at once: a double free (a segfault and "double free detected"
/// in a 2-rank CUDA run with overlap on an H200). Inside its own scope the cache is disposed at once, on the calling
/// thread, before any backward exists; the node's later dispose is then a no-op. The cache is read only to materialize an
/// undefined gradient, so functions called this way set <c>set_materialize_grads(false)</c> and accept an undefined one.
/// </summary>
internal static class CustomFunctionApply
{
    /// <summary>Runs <paramref name="apply"/> in a scope of its own and hands its output to the caller's scope.</summary>
    public static Tensor Scoped(Func<Tensor> apply)
    {
        using var scope = NewDisposeScope();
        return apply().MoveToOuterDisposeScope();
    }
}
