namespace Orchestrator.Trainer.Sparsity;

/// <summary>
/// Mask diversity (ALGORITHMS.md section 8): how many valid masks an M x M block has. Plain N:M: C(M, N)^M; transposable:
/// K(M, N), e.g. K(4, 2) = 90, counted here by enumeration, which also gives the tests every valid mask for brute force.
/// </summary>
public static class MaskDiversity
{
    /// <summary>Largest M enumerated: K(8, 4) is about 1.2e11, far beyond a test's budget; K(6, 3) = 297,200 is not.</summary>
    public const int MaxEnumeratedM = 6;

    /// <summary>Number of M x M 0/1 matrices with exactly N ones in every row and every column.</summary>
    /// <exception cref="ArgumentException">N:M out of range or M above <see cref="MaxEnumeratedM"/>.</exception>
    public static long CountTransposable(int n, int m)
    {
        long count = 0;
        Enumerate(n, m, _ => count++);
        return count;
    }

    /// <summary>Every valid transposable N:M mask of an M x M block (row-major), in a fixed order.</summary>
    /// <exception cref="ArgumentException">N:M out of range or M above <see cref="MaxEnumeratedM"/>.</exception>
    public static List<bool[]> AllTransposable(int n, int m)
    {
        var all = new List<bool[]>();
        Enumerate(n, m, mask => all.Add((bool[])mask.Clone()));
        return all;
    }

    /// <summary>Plain N:M diversity of one M x M block: each of its M rows chooses N of M independently, C(M, N)^M.</summary>
    public static double CountPlain(int n, int m)
    {
        MaskArguments.CheckPattern(n, m);
        return Math.Pow(RowChoices(n, m).Count, m);
    }

    private static void Enumerate(int n, int m, Action<bool[]> visit)
    {
        MaskArguments.CheckPattern(n, m);
        if (m > MaxEnumeratedM)
            throw new ArgumentException($"Enumerating transposable masks is limited to M <= {MaxEnumeratedM}; got {n}:{m}.");
        var rows = RowChoices(n, m);
        var colCount = new int[m];
        var mask = new bool[m * m];
        void Row(int i)
        {
            if (i == m) { visit(mask); return; }
            foreach (int bits in rows)
            {
                bool fits = true;
                for (int j = 0; j < m && fits; j++) if ((bits >> j & 1) != 0 && colCount[j] == n) fits = false;
                if (!fits) continue; // a column already holds N: prune the subtree
                for (int j = 0; j < m; j++)
                {
                    bool keep = (bits >> j & 1) != 0;
                    mask[i * m + j] = keep;
                    if (keep) colCount[j]++;
                }
                Row(i + 1);
                for (int j = 0; j < m; j++) if ((bits >> j & 1) != 0) colCount[j]--;
            }
        }
        // Rows hold N each and no column exceeds N, so M*N ones leave every column at exactly N.
        Row(0);
    }

    /// <summary>The C(M, N) N-of-M row patterns as bit sets, ascending.</summary>
    private static List<int> RowChoices(int n, int m)
    {
        var choices = new List<int>();
        for (int bits = 0; bits < 1 << m; bits++)
            if (System.Numerics.BitOperations.PopCount((uint)bits) == n) choices.Add(bits);
        return choices;
    }
}
