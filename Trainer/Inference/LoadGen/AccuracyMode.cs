namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>Accuracy of a run over the whole sample library.</summary>
/// <param name="Correct">Samples whose prediction equals the label.</param>
/// <param name="Total">Samples run: every one of the library exactly once.</param>
public sealed record AccuracyResult(long Correct, long Total)
{
    /// <summary>Correct / total (0..1).</summary>
    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;
}

/// <summary>
/// LoadGen's accuracy mode: every sample of the library exactly once, in queries of the scenario's size, issued back
/// to back (latency is not judged here), predictions checked against the labels.
/// </summary>
public static class AccuracyMode
{
    /// <summary>Runs every index of <paramref name="labels"/> through <paramref name="system"/> in queries of <paramref name="samplesPerQuery"/>.</summary>
    public static AccuracyResult Run(ISystemUnderTest system, IReadOnlyList<int> labels, int samplesPerQuery)
    {
        if (samplesPerQuery < 1) throw new ArgumentOutOfRangeException(nameof(samplesPerQuery), samplesPerQuery, "must be >= 1");
        long correct = 0;
        for (int start = 0; start < labels.Count; start += samplesPerQuery)
        {
            var query = Enumerable.Range(start, Math.Min(samplesPerQuery, labels.Count - start)).ToArray();
            var predictions = system.Run(query);
            if (predictions.Length != query.Length)
                throw new InvalidOperationException($"the system answered {predictions.Length} predictions for a query of {query.Length} samples");
            for (int i = 0; i < query.Length; i++)
                if (predictions[i] == labels[query[i]]) correct++;
        }
        return new(correct, labels.Count);
    }
}
