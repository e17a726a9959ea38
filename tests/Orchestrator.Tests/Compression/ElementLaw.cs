namespace Orchestrator.Tests.Compression;

/// <summary>
/// The exact distribution of one decoded element under MVUE pruning and stochastic rounding, computed in
/// double from the input alone (ALGORITHMS.md sections 5 and 7): the element is kept with probability
/// <see cref="Keep"/> as v = x / p; int8 then rounds v / scale to the level <see cref="Floor"/> or one above
/// it with probability <see cref="Up"/> = frac(v / scale). The decoded value is 0, Floor * scale or
/// (Floor + 1) * scale (or v without int8), so its mean is x and its variance and fourth central moment follow.
/// </summary>
internal sealed record ElementLaw(double X, double Keep, double Kept, double Scale, int Floor, double Up)
{
    /// <param name="x">The input element.</param>
    /// <param name="keep">Its MVUE inclusion probability (1 without pruning).</param>
    /// <param name="scale">Its int8 chunk's scale, or 0 without int8.</param>
    public static ElementLaw For(double x, double keep, double scale)
    {
        double kept = keep > 0 ? x / keep : 0;
        if (scale == 0) return new ElementLaw(x, keep, kept, 0, 0, 0);
        double y = kept / scale;
        // A level that is an integer up to fp32 rounding (0, the chunk's max at +-127) is reached exactly,
        // whichever side of it the encoder's fp32 quotient lands on.
        int floor = (int)Math.Floor(y + 1e-4);
        return new ElementLaw(x, keep, kept, scale, floor, Math.Max(0, y - floor));
    }

    /// <summary>The decoded values and their probabilities.</summary>
    public IEnumerable<(double P, double Value)> Outcomes()
    {
        if (Keep < 1) yield return (1 - Keep, 0);
        if (Scale == 0)
        {
            if (Keep > 0) yield return (Keep, Kept);
            yield break;
        }
        yield return (Keep * (1 - Up), Floor * Scale);
        yield return (Keep * Up, (Floor + 1) * Scale);
    }

    /// <summary>E[decoded] (= x for an unbiased codec, up to the rounding of x / p).</summary>
    public double Mean => Outcomes().Sum(o => o.P * o.Value);

    public double Variance => Moment(2);

    public double Fourth => Moment(4);

    /// <summary>The smallest non-zero step between outcomes: the size of one "wrong" draw.</summary>
    public double Step => Scale > 0 ? Scale : Math.Abs(Kept);

    private double Moment(int k)
    {
        double mean = Mean;
        return Outcomes().Sum(o => o.P * Math.Pow(o.Value - mean, k));
    }
}
