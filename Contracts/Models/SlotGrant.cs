namespace Orchestrator.Contracts.Models;

/// <summary>A job's gang of worker slots, granted or waiting in the admission queue.</summary>
/// <param name="JobId">The job's name.</param>
/// <param name="Workers">Slots the job needs, all at once.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.SlotGrant.v1")]
public sealed record SlotGrant(string JobId, int Workers);
