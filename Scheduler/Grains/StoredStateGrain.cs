using Orchestrator.Contracts.Grains;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// Base of the grains whose state is stored: while active, the grain is listed in this silo's
/// <see cref="ActiveStoredStateGrains"/>, so the silo can ask it to write its state back after the storage lost it.
/// </summary>
public abstract class StoredStateGrain(ActiveStoredStateGrains active) : Grain, IStoredStateGrain
{
    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        active.Add(this.GetGrainId(), this.AsReference<IStoredStateGrain>());
        return base.OnActivateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        active.Remove(this.GetGrainId());
        return base.OnDeactivateAsync(reason, cancellationToken);
    }

    /// <inheritdoc />
    public abstract Task<bool> WriteBackIfLostAsync();
}
