using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// What the training loop knows of other workers: their count, its own rank, and one call per step
/// that turns local gradients into the averaged gradients every worker applies. The loop never
/// talks to MPI; a single process uses <see cref="SingleProcessSynchronizer"/>.
/// </summary>
public interface IGradientSynchronizer : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }

    /// <summary>Makes every worker start from rank 0's parameters and buffers.</summary>
    void BroadcastInitialState(nn.Module model);

    /// <summary>
    /// Averages the gradients of <paramref name="parameters"/> across workers, in place.
    /// Returns false when the step must be skipped on every worker (a non-finite gradient somewhere).
    /// </summary>
    bool Synchronize(IReadOnlyList<TorchSharp.Modules.Parameter> parameters);
}
