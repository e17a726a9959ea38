using System.Collections.Immutable;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;

namespace Orchestrator.Scheduler.Grains;

/// <summary>The cluster's list of job names (see <see cref="IJobRegistryGrain"/>), persisted in the jobs storage.</summary>
public sealed class JobRegistryGrain(
    [PersistentState("registry", StorageNames.Jobs)] IPersistentState<JobRegistryState> state) : Grain, IJobRegistryGrain
{
    /// <inheritdoc />
    public async Task AddAsync(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        if (state.State.Jobs.Contains(jobId)) return;
        state.State.Jobs.Add(jobId);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            await state.ReadStateAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public Task<ImmutableArray<string>> ListAsync() => Task.FromResult(state.State.Jobs.ToImmutableArray());
}

/// <summary>The persisted state of a <see cref="JobRegistryGrain"/>.</summary>
[GenerateSerializer, Alias("orchestrator.JobRegistryState.v1")]
public sealed class JobRegistryState
{
    /// <summary>Job names, oldest first.</summary>
    [Id(0)] public List<string> Jobs { get; set; } = [];
}
