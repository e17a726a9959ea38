namespace Orchestrator.Trainer.Sparsity;

/// <summary>
/// The fast transposable N:M mask of one M x M block (ALGORITHMS.md section 8): visit entries by descending |w| (ties: lower
/// row-major index first) and keep (i, j) while row i and column j each hold fewer than N. That greedy pass is a maximal
/// b-matching and so keeps at least half the optimal magnitude.
/// <para>
/// The pass can end short: e.g. for 2:4 a heavy (3, 3) plus a 2-regular pattern on rows and columns 0..2 fills rows 0..2 and
/// columns 0..2, and row 3 / column 3 are left with one each. A mask with fewer than N in a row is not valid, so a repair
/// step follows: augmenting paths from a short row to a short column through alternating unkept / kept entries (breadth
/// first, preferring to add heavy entries and to drop light ones), each adding one entry to a short row and a short column
/// and leaving every other count as it was. A path exists while a row is short (max-flow: an N-regular mask exists).
/// Repair may drop kept weight, so the half-of-optimum bound is proven for the greedy pass only; the tests check it on the
/// repaired masks.
/// </para>
/// </summary>
internal static class GreedyBlockMask
{
    /// <summary>Writes into <paramref name="mask"/> (M*M, row-major) a valid mask. Arguments are checked by the caller.</summary>
    public static void Compute(ReadOnlySpan<float> block, int n, int m, Span<bool> mask)
    {
        int cells = m * m;
        var magnitude = new float[cells];
        for (int k = 0; k < cells; k++) magnitude[k] = Math.Abs(block[k]);
        var order = new int[cells];
        for (int k = 0; k < cells; k++) order[k] = k;
        Array.Sort(order, (a, b) => magnitude[a] != magnitude[b] ? magnitude[b].CompareTo(magnitude[a]) : a.CompareTo(b));

        mask.Clear();
        var rowCount = new int[m];
        var colCount = new int[m];
        foreach (int k in order)
        {
            int i = k / m, j = k % m;
            if (rowCount[i] < n && colCount[j] < n)
            {
                mask[k] = true;
                rowCount[i]++;
                colCount[j]++;
            }
        }
        Repair(order, n, m, mask, rowCount, colCount);
    }

    private static void Repair(int[] order, int n, int m, Span<bool> mask, int[] rowCount, int[] colCount)
    {
        var colParent = new int[m]; // row from which a column was reached (by adding that entry)
        var rowParent = new int[m]; // column from which a row was reached (by dropping that entry)
        var queue = new int[m];
        for (int start = 0; start < m; start++)
        {
            while (rowCount[start] < n)
            {
                Array.Fill(colParent, -1);
                Array.Fill(rowParent, -1);
                int head = 0, tail = 0, found = -1;
                queue[tail++] = start;
                rowParent[start] = m; // marks the start as visited
                while (head < tail && found < 0)
                {
                    int i = queue[head++];
                    // Columns reachable by adding an unkept (i, j), heaviest first (order is by descending magnitude).
                    foreach (int k in order)
                    {
                        if (k / m != i || mask[k]) continue;
                        int j = k % m;
                        if (colParent[j] >= 0) continue;
                        colParent[j] = i;
                        if (colCount[j] < n) { found = j; break; }
                        // Column j is full: continue by dropping one of its kept entries, lightest first.
                        for (int idx = order.Length - 1; idx >= 0; idx--)
                        {
                            int kk = order[idx];
                            if (kk % m != j || !mask[kk]) continue;
                            int r = kk / m;
                            if (rowParent[r] >= 0) continue;
                            rowParent[r] = j;
                            queue[tail++] = r;
                        }
                    }
                }
                if (found < 0)
                    throw new InvalidOperationException($"Transposable {n}:{m} greedy repair found no augmenting path from row {start}; an N-regular mask always exists, so this is a bug.");
                // Flip along the path: add (i, j), drop (i, parent column of i), ... back to the start row.
                int col = found;
                while (true)
                {
                    int row = colParent[col];
                    mask[row * m + col] = true;
                    if (row == start) break;
                    int prev = rowParent[row];
                    mask[row * m + prev] = false;
                    col = prev;
                }
                rowCount[start]++;
                colCount[found]++;
            }
        }
    }
}
