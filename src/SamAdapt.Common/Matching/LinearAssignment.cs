namespace SamAdapt.Common.Matching;

/// <summary>What <see cref="LinearAssignment.Solve"/> does with NaN entries of a cost matrix.</summary>
public enum NanPolicy
{
    /// <summary>A NaN entry is an error (<see cref="ArgumentException"/>).</summary>
    Throw,
    /// <summary>NaN entries cost <see cref="LinearAssignment.NanReplacement"/>; a matrix of NaN only gives the empty assignment
    /// (what Mask2Former-style matchers do, docs/methods/masksam.md).</summary>
    Replace,
}

/// <summary>
/// The rectangular linear sum assignment problem: for an (n × m) cost matrix, choose min(n, m) entries, at most one per row and
/// per column, of minimum total cost. Solved by shortest augmenting paths with dual potentials (Jonker–Volgenant), O(n²·m) for
/// n ≤ m (the matrix is transposed otherwise). +∞ marks a forbidden pair; a problem whose every full assignment uses one is
/// infeasible (<see cref="InvalidOperationException"/>); −∞ is refused.
/// <para>The result lists the chosen (row, column) pairs ordered by row. When several assignments share the minimum cost, any
/// one of them may be returned.</para>
/// </summary>
public static class LinearAssignment
{
    /// <summary>The cost given to NaN entries under <see cref="NanPolicy.Replace"/>.</summary>
    public const double NanReplacement = 100;

    /// <summary>Solves the assignment for <paramref name="cost"/> (rows × columns).</summary>
    public static (int[] Rows, int[] Cols) Solve(double[,] cost, NanPolicy nan = NanPolicy.Throw)
    {
        int n = cost.GetLength(0), m = cost.GetLength(1);
        if (n == 0 || m == 0) return ([], []);
        var c = new double[n, m];
        int nanCount = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double v = cost[i, j];
                if (double.IsNaN(v))
                {
                    if (nan == NanPolicy.Throw) throw new ArgumentException($"cost matrix entry [{i}, {j}] is NaN", nameof(cost));
                    nanCount++;
                    v = NanReplacement;
                }
                else if (double.IsNegativeInfinity(v)) throw new ArgumentException($"cost matrix entry [{i}, {j}] is -infinity", nameof(cost));
                c[i, j] = v;
            }
        if (nanCount == n * m) return ([], []);

        bool transposed = n > m;
        if (transposed)
        {
            var t = new double[m, n];
            for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) t[j, i] = c[i, j];
            c = t;
            (n, m) = (m, n);
        }
        var col4row = SolveWide(c, n, m);
        var pairs = new (int R, int C)[n];
        for (int i = 0; i < n; i++) pairs[i] = transposed ? (col4row[i], i) : (i, col4row[i]);
        Array.Sort(pairs, (a, b) => a.R.CompareTo(b.R));
        return (pairs.Select(p => p.R).ToArray(), pairs.Select(p => p.C).ToArray());
    }

    /// <summary>Total cost of an assignment.</summary>
    public static double Cost(double[,] cost, int[] rows, int[] cols)
    {
        double s = 0;
        for (int k = 0; k < rows.Length; k++) s += cost[rows[k], cols[k]];
        return s;
    }

    // n ≤ m: every row gets a column. Returns the column of each row.
    private static int[] SolveWide(double[,] c, int n, int m)
    {
        var u = new double[n];
        var v = new double[m];
        var shortest = new double[m];
        var path = new int[m];
        var col4row = Enumerable.Repeat(-1, n).ToArray();
        var row4col = Enumerable.Repeat(-1, m).ToArray();
        var rowSeen = new bool[n];
        var colSeen = new bool[m];
        var remaining = new int[m];

        for (int cur = 0; cur < n; cur++)
        {
            // Dijkstra-like search for the shortest augmenting path from row `cur` in reduced costs.
            Array.Fill(shortest, double.PositiveInfinity);
            Array.Clear(rowSeen);
            Array.Clear(colSeen);
            for (int j = 0; j < m; j++) remaining[j] = m - 1 - j;
            int numRemaining = m, sink = -1, i = cur;
            double minVal = 0;
            while (sink == -1)
            {
                rowSeen[i] = true;
                int index = -1;
                double lowest = double.PositiveInfinity;
                for (int it = 0; it < numRemaining; it++)
                {
                    int j = remaining[it];
                    double r = minVal + c[i, j] - u[i] - v[j];
                    if (r < shortest[j]) { path[j] = i; shortest[j] = r; }
                    if (shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == -1))
                    {
                        lowest = shortest[j];
                        index = it;
                    }
                }
                minVal = lowest;
                if (index < 0 || double.IsPositiveInfinity(minVal))
                    throw new InvalidOperationException("the assignment problem is infeasible: every complete assignment uses a forbidden (+infinity) entry");
                int col = remaining[index];
                if (row4col[col] == -1) sink = col;
                else i = row4col[col];
                colSeen[col] = true;
                remaining[index] = remaining[--numRemaining];
            }

            // Update the dual potentials.
            u[cur] += minVal;
            for (int r = 0; r < n; r++)
                if (rowSeen[r] && r != cur) u[r] += minVal - shortest[col4row[r]];
            for (int j = 0; j < m; j++)
                if (colSeen[j]) v[j] -= minVal - shortest[j];

            // Augment along the path back to `cur`.
            for (int j = sink; ;)
            {
                int r = path[j];
                row4col[j] = r;
                (col4row[r], j) = (j, col4row[r]);
                if (r == cur) break;
            }
        }
        return col4row;
    }
}
