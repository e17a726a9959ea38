namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>What LoadGen measures: runs the samples of one or more queries and returns when all are done.</summary>
public interface ISystemUnderTest
{
    /// <summary>Predicted class of each sample of <paramref name="samples"/> (indices into the sample library), in order.</summary>
    int[] Run(IReadOnlyList<int> samples);
}
