namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>
/// The largest load that still meets a latency bound, for multi-stream (samples per query) and server (queries per
/// second): doubling until a probe fails, then bisection. Assumes more load never helps (monotone).
/// </summary>
public static class CapacitySearch
{
    /// <summary>The largest n in [1, <paramref name="max"/>] with <paramref name="passes"/>(n); 0 when even 1 fails.</summary>
    public static int LargestPassing(int max, Func<int, bool> passes)
    {
        if (max < 1) throw new ArgumentOutOfRangeException(nameof(max), max, "must be >= 1");
        if (!passes(1)) return 0;
        int good = 1, bad = -1;
        while (bad < 0)
        {
            int next = (int)Math.Min((long)good * 2, max);
            if (next == good) return good; // reached max
            if (passes(next)) good = next;
            else bad = next;
        }
        while (bad - good > 1)
        {
            int mid = good + (bad - good) / 2;
            if (passes(mid)) good = mid;
            else bad = mid;
        }
        return good;
    }

    /// <summary>
    /// The highest rate in [<paramref name="min"/>, <paramref name="max"/>] with <paramref name="passes"/>(rate), to within a factor
    /// of 1 + <paramref name="tolerance"/>; starts at <paramref name="start"/> and doubles or halves. 0 when <paramref name="min"/> fails.
    /// </summary>
    public static double HighestPassingRate(double start, double min, double max, double tolerance, Func<double, bool> passes)
    {
        if (!(min > 0 && min <= start && start <= max)) throw new ArgumentOutOfRangeException(nameof(start), start, "need 0 < min <= start <= max");
        if (!(tolerance > 0)) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "must be > 0");
        double good, bad;
        if (passes(start))
        {
            good = start;
            bad = double.NaN;
            while (double.IsNaN(bad))
            {
                if (good >= max) return max;
                double next = Math.Min(good * 2, max);
                if (passes(next)) good = next;
                else bad = next;
            }
        }
        else
        {
            bad = start;
            good = double.NaN;
            while (double.IsNaN(good))
            {
                if (bad <= min) return 0;
                double next = Math.Max(bad / 2, min);
                if (passes(next)) good = next;
                else bad = next;
            }
        }
        while (bad / good > 1 + tolerance)
        {
            double mid = Math.Sqrt(good * bad);
            if (passes(mid)) good = mid;
            else bad = mid;
        }
        return good;
    }
}
