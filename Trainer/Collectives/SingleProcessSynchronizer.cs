using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>One worker: its gradients already are the average; nothing to send.</summary>
public sealed class SingleProcessSynchronizer : IGradientSynchronizer
{
    public int Rank => 0;
    public int WorldSize => 1;
    public void BroadcastInitialState(nn.Module model) { }
    public bool Synchronize(IReadOnlyList<TorchSharp.Modules.Parameter> parameters) => true;
    public void Dispose() { }
}
