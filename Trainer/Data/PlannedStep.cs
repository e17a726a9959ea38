namespace Orchestrator.Trainer.Data;

/// <summary>
/// One optimizer step of an epoch: the global batch is <paramref name="Count"/> samples of the epoch's
/// permutation from <paramref name="Offset"/>, shown at <paramref name="Size"/> pixels, each sample in
/// <paramref name="Duplicates"/> independently augmented copies.
/// </summary>
public sealed record PlannedStep(long Offset, int Count, int Size, int Duplicates);
