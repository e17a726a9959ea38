namespace Orchestrator.Trainer.Models;

/// <summary>The shape of what a model consumes and predicts, taken from the dataset.</summary>
public sealed record ModelInput(int Channels, int Height, int Width, int Classes);
