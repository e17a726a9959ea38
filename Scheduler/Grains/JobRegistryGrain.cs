using System.Collections.Immutable;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;

namespace Orchestrator.Scheduler.Grains;

/// <summary>The cluster's list of job names (see <see cref="IJobRegistryGrain"/>), persisted in the jobs storage.</summary>
public sealed class JobRegistryGrain(
    [PersistentState("registry", StorageNames.Jobs)] IPersistentState<JobRegistryState> state,
    ActiveStoredStateGrains active) : StoredStateGrain(active), IJobRegistryGrain
{
    /// <inheritdoc />
    public override Task<bool> WriteBackIfLostAsync() => StateWriteBack.WriteBackIfLostAsync(state, "job registry");

    /// <inheritdoc />
    public async Task AddAsync(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        // Written even when the name is known: a job grain that had to write its own state back (Redis lost it) calls
        // this so the registry's record, likely lost too, is written back from memory as well.
        var jobs = state.State.Jobs.Contains(jobId) ? state.State.Jobs : [.. state.State.Jobs, jobId];
        await StateWriteBack.WriteAsync(state, new JobRegistryState { Jobs = jobs }, "job registry");
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
