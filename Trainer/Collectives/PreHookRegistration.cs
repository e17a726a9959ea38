using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>Removes a module's forward pre-hook on dispose (TorchSharp's remover is not disposable).</summary>
internal sealed class PreHookRegistration(nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover remover) : IDisposable
{
    public void Dispose() => remover.remove();
}
