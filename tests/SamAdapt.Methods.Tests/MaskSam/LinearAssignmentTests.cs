using SamAdapt.Common.Matching;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>The assignment solver against exhaustive search on small matrices (random, integer ties, rectangular, ±∞, NaN).</summary>
public class LinearAssignmentTests
{
    /// <summary>Minimum cost over every assignment of min(n, m) pairs (exhaustive; +∞ entries allowed), or +∞ when none is finite.</summary>
    private static double BruteForce(double[,] c)
    {
        int n = c.GetLength(0), m = c.GetLength(1);
        bool t = n > m;
        int rows = t ? m : n, cols = t ? n : m;
        double At(int i, int j) => t ? c[j, i] : c[i, j];
        double best = double.PositiveInfinity;
        var used = new bool[cols];
        void Rec(int i, double acc)
        {
            if (i == rows) { best = Math.Min(best, acc); return; }
            for (int j = 0; j < cols; j++)
            {
                if (used[j]) continue;
                used[j] = true;
                Rec(i + 1, acc + At(i, j));
                used[j] = false;
            }
        }
        Rec(0, 0);
        return best;
    }

    private static void AssertValid(double[,] c, int[] rows, int[] cols)
    {
        int n = c.GetLength(0), m = c.GetLength(1);
        Assert.Equal(Math.Min(n, m), rows.Length);
        Assert.Equal(rows.Length, cols.Length);
        Assert.Equal(rows.Length, rows.Distinct().Count());
        Assert.Equal(cols.Length, cols.Distinct().Count());
        Assert.True(rows.SequenceEqual(rows.Order()), "rows must be ascending");
        Assert.All(rows, r => Assert.InRange(r, 0, n - 1));
        Assert.All(cols, j => Assert.InRange(j, 0, m - 1));
    }

    public static IEnumerable<object[]> Shapes() =>
        from n in new[] { 1, 2, 3, 4, 5, 6 } from m in new[] { 1, 2, 3, 5, 6 } select new object[] { n, m };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RandomMatricesReachTheBruteForceOptimum(int n, int m)
    {
        var rng = new Random(1000 * n + m);
        for (int trial = 0; trial < 20; trial++)
        {
            var c = new double[n, m];
            for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) c[i, j] = rng.NextDouble() * 10 - 5;
            var (rows, cols) = LinearAssignment.Solve(c);
            AssertValid(c, rows, cols);
            Assert.Equal(BruteForce(c), LinearAssignment.Cost(c, rows, cols), 9);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DegenerateMatricesWithTiesReachTheOptimum(int n, int m)
    {
        var rng = new Random(7 + 31 * n + m);
        for (int trial = 0; trial < 20; trial++)
        {
            var c = new double[n, m];
            int kind = trial % 4;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++)
                    c[i, j] = kind switch
                    {
                        0 => 0,                      // all equal
                        1 => rng.Next(0, 2),         // 0/1 with many ties
                        2 => i,                      // constant rows
                        _ => rng.Next(-2, 3) * 1e6,  // large integers
                    };
            var (rows, cols) = LinearAssignment.Solve(c);
            AssertValid(c, rows, cols);
            Assert.Equal(BruteForce(c), LinearAssignment.Cost(c, rows, cols), 6);
        }
    }

    [Fact]
    public void ForbiddenEntriesAreAvoidedAndInfeasibilityIsReported()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 50; trial++)
        {
            int n = rng.Next(1, 6), m = rng.Next(1, 6);
            var c = new double[n, m];
            for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) c[i, j] = rng.NextDouble() < 0.3 ? double.PositiveInfinity : rng.NextDouble();
            double best = BruteForce(c);
            if (double.IsPositiveInfinity(best))
                Assert.Throws<InvalidOperationException>(() => LinearAssignment.Solve(c));
            else
            {
                var (rows, cols) = LinearAssignment.Solve(c);
                AssertValid(c, rows, cols);
                Assert.Equal(best, LinearAssignment.Cost(c, rows, cols), 9);
            }
        }
        Assert.Throws<ArgumentException>(() => LinearAssignment.Solve(new[,] { { 0.0, double.NegativeInfinity } }));
    }

    [Fact]
    public void NanEntriesAreRefusedOrReplaced()
    {
        var c = new[,] { { double.NaN, 1.0, 5.0 }, { 2.0, double.NaN, 0.5 } };
        var e = Assert.Throws<ArgumentException>(() => LinearAssignment.Solve(c));
        Assert.Contains("[0, 0]", e.Message);

        var (rows, cols) = LinearAssignment.Solve(c, NanPolicy.Replace);
        var replaced = new[,] { { LinearAssignment.NanReplacement, 1.0, 5.0 }, { 2.0, LinearAssignment.NanReplacement, 0.5 } };
        Assert.Equal(BruteForce(replaced), LinearAssignment.Cost(replaced, rows, cols), 9);
        Assert.Equal(new[] { 0, 1 }, rows);
        Assert.Equal(new[] { 1, 2 }, cols);

        var allNan = new[,] { { double.NaN, double.NaN }, { double.NaN, double.NaN } };
        var (r2, c2) = LinearAssignment.Solve(allNan, NanPolicy.Replace);
        Assert.Empty(r2);
        Assert.Empty(c2);
    }

    [Fact]
    public void EmptyAndKnownCases()
    {
        Assert.Empty(LinearAssignment.Solve(new double[0, 3]).Rows);
        Assert.Empty(LinearAssignment.Solve(new double[4, 0]).Cols);
        // a tall matrix (more predictions than targets, as in matching): rows are the chosen predictions
        var c = new[,] { { 4.0, 1.0 }, { 2.0, 0.0 }, { 3.0, 2.0 }, { 0.5, 3.0 } };
        var (rows, cols) = LinearAssignment.Solve(c);
        Assert.Equal(new[] { 1, 3 }, rows);
        Assert.Equal(new[] { 1, 0 }, cols);
    }
}
