namespace Orchestrator.Spec;

/// <summary>
/// N:M pruning: of every block of <paramref name="M"/> consecutive values, <paramref name="N"/> are kept. The range rule
/// <c>1 &lt;= N &lt; M &lt;= 16</c> is stated here once: the validator reports it per field, and every lower layer that
/// takes N and M directly (pruners, torch codecs, the codec registry) calls <see cref="Check"/>.
/// </summary>
public readonly record struct NmPattern(int N, int M)
{
    /// <summary>Largest block length: positions of up to 16 values fit 4 bits.</summary>
    public const int MaxM = 16;

    /// <summary>Whether <paramref name="n"/> is a kept count on its own (ignoring M).</summary>
    public static bool ValidN(int n) => n >= 1;

    /// <summary>Whether <paramref name="m"/> is a block length on its own (ignoring N).</summary>
    public static bool ValidM(int m) => m is >= 2 and <= MaxM;

    /// <summary>The range rule as messages state it.</summary>
    public static string Rule => $"1 <= N < M <= {MaxM}";

    /// <summary>Whether the pattern is in range: <c>1 &lt;= N &lt; M &lt;= 16</c> (keeping all M values is not pruning).</summary>
    public bool IsValid => ValidN(N) && ValidM(M) && N < M;

    /// <summary>The pattern; throws unless it <see cref="IsValid"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside <c>1 &lt;= N &lt; M &lt;= 16</c>.</exception>
    public static NmPattern Check(int n, int m)
    {
        var pattern = new NmPattern(n, m);
        if (!pattern.IsValid)
            throw new ArgumentOutOfRangeException(nameof(n), $"N:M pruning needs {Rule}; got {pattern}.");
        return pattern;
    }

    /// <summary><c>N:M</c>, e.g. <c>2:4</c>.</summary>
    public override string ToString() => $"{N}:{M}";
}
