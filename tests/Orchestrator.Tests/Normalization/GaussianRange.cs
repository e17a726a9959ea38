namespace Orchestrator.Tests.Normalization;

/// <summary>
/// Order statistics of n independent standard normal values, by numerical integration: the expected range
/// E[R_n] = integral of 1 - Phi(x)^n - (1 - Phi(x))^n dx, and the variance of the maximum M_n (density
/// n phi(x) Phi(x)^(n-1)). The variance of the range is bounded by 2 Var(M_n): max and min are both increasing
/// functions of the independent values, so Cov(max, min) >= 0 (Harris' inequality), and Var(min) = Var(max)
/// by symmetry. These give range batch norm's expected bias and spread on Gaussian inputs.
/// </summary>
internal sealed class GaussianRange
{
    private const double Limit = 12;    // phi(12) ~ 1e-32: nothing beyond matters
    private const double Step = 1e-4;   // cumulative trapezoid error ~ Step^2 / 12 ~ 1e-9

    private static readonly Lazy<GaussianRange> Grid = new(() => new GaussianRange());

    private readonly double[] x;
    private readonly double[] density;
    private readonly double[] logLower; // log Phi(x), from the lower tail (or log1p of the upper one where that is small)
    private readonly double[] logUpper; // log (1 - Phi(x))

    private GaussianRange()
    {
        int points = (int)Math.Round(2 * Limit / Step) + 1;
        x = new double[points];
        density = new double[points];
        for (int i = 0; i < points; i++)
        {
            x[i] = -Limit + i * Step;
            density[i] = Math.Exp(-x[i] * x[i] / 2) / Math.Sqrt(2 * Math.PI);
        }
        var lower = new double[points];
        var upper = new double[points];
        for (int i = 1; i < points; i++) lower[i] = lower[i - 1] + Step * (density[i - 1] + density[i]) / 2;
        for (int i = points - 2; i >= 0; i--) upper[i] = upper[i + 1] + Step * (density[i] + density[i + 1]) / 2;
        logLower = new double[points];
        logUpper = new double[points];
        for (int i = 0; i < points; i++)
        {
            // Each tail from its own side, so neither is the difference of two numbers near 1.
            logLower[i] = upper[i] < 0.5 ? Math.Log(1 - upper[i]) : Math.Log(lower[i]);
            logUpper[i] = lower[i] < 0.5 ? Math.Log(1 - lower[i]) : Math.Log(upper[i]);
        }
    }

    /// <summary>E[R_n], the expected range of <paramref name="n"/> standard normal values.</summary>
    public static double ExpectedRange(long n) => Grid.Value.Integrate(i => 1 - Math.Exp(n * Grid.Value.logLower[i]) - Math.Exp(n * Grid.Value.logUpper[i]));

    /// <summary>E[M_n^k], the k-th moment of the maximum of <paramref name="n"/> standard normal values.</summary>
    public static double MaximumMoment(long n, int k) =>
        Grid.Value.Integrate(i => Math.Pow(Grid.Value.x[i], k) * n * Grid.Value.density[i] * Math.Exp((n - 1) * Grid.Value.logLower[i]));

    /// <summary>Var(M_n).</summary>
    public static double MaximumVariance(long n)
    {
        double mean = MaximumMoment(n, 1);
        return MaximumMoment(n, 2) - mean * mean;
    }

    /// <summary>An upper bound on Var(R_n): 2 Var(M_n).</summary>
    public static double RangeVarianceBound(long n) => 2 * MaximumVariance(n);

    private double Integrate(Func<int, double> f)
    {
        double sum = (f(0) + f(x.Length - 1)) / 2;
        for (int i = 1; i < x.Length - 1; i++) sum += f(i);
        return sum * Step;
    }
}
