using CsCheck;
using Orchestrator.Spec;
using Orchestrator.Trainer.PostTraining;

namespace Orchestrator.Tests.PostTraining;

/// <summary>The mixed-precision bit allocation (issue 16 item 1) is the integer program's optimum: equal to brute force
/// over every plan of small instances, never over the budget, and refusing budgets no plan fits.</summary>
public sealed class BitAllocatorTests
{
    private static (double Loss, long Bits)? BruteForce(IReadOnlyList<LayerBitOptions> layers, long budget)
    {
        (double Loss, long Bits)? best = null;
        void Walk(int l, long bits, double loss)
        {
            if (bits > budget) return;
            if (l == layers.Count)
            {
                if (best is null || loss < best.Value.Loss || (loss == best.Value.Loss && bits < best.Value.Bits)) best = (loss, bits);
                return;
            }
            foreach (var (b, c) in layers[l].Options) Walk(l + 1, bits + layers[l].Weights * b, loss + c);
        }
        Walk(0, 0, 0);
        return best;
    }

    private static Gen<LayerBitOptions[]> Instances =>
        Gen.Select(Gen.Int[1, 9], Gen.Int[2, 3], Gen.Int).Select((count, widths, seed) =>
        {
            var random = new Random(seed);
            int[] choices = widths == 2 ? [4, 8] : [2, 4, 8];
            return Enumerable.Range(0, count).Select(l => new LayerBitOptions($"layer{l}", random.Next(1, 5000),
                // Fewer bits cost more, as measured losses do, but not always by much: many near-ties.
                choices.Select(b => (b, Math.Round(random.NextDouble() * (9 - b), 2))).ToList())).ToArray();
        });

    [Fact]
    public void The_plan_is_the_brute_force_optimum_and_fits_the_budget()
    {
        Gen.Select(Instances, Gen.Double[0, 1]).Sample((layers, position) =>
        {
            long smallest = layers.Sum(l => l.Weights * l.Options.Min(o => o.Bits));
            long largest = layers.Sum(l => l.Weights * l.Options.Max(o => o.Bits));
            long budget = smallest + (long)(position * (largest - smallest));
            var plan = BitAllocator.Solve(layers, budget);
            var expected = BruteForce(layers, budget)!.Value;

            Assert.True(plan.WeightBits <= budget, $"{plan.WeightBits} bits > budget {budget}");
            Assert.Equal(plan.WeightBits, layers.Select((l, i) => l.Weights * plan.Bits[i]).Sum());
            Assert.Equal(plan.LossIncrease, layers.Select((l, i) => l.Options.Single(o => o.Bits == plan.Bits[i]).LossIncrease).Sum(), 9);
            Assert.Equal(expected.Loss, plan.LossIncrease, 9);
        }, iter: 400);
    }

    [Fact]
    public void A_budget_that_fits_everything_takes_the_cheapest_widths_and_the_tightest_takes_the_lowest()
    {
        LayerBitOptions[] layers =
        [
            new("conv1", 100, [(4, 3.0), (8, 0.5)]),
            new("conv2", 1000, [(4, 1.0), (8, 0.1)]),
            new("fc", 10, [(4, 0.2), (8, 0.0)]),
        ];
        Assert.Equal([8, 8, 8], BitAllocator.Solve(layers, 8 * 1110).Bits);
        Assert.Equal([4, 4, 4], BitAllocator.Solve(layers, 4 * 1110).Bits);
        // 400 bits above the minimum: conv1 to 8 bits (-2.5) beats fc (-0.2); conv2 would need 4000.
        var plan = BitAllocator.Solve(layers, 4 * 1110 + 400);
        Assert.Equal([8, 4, 4], plan.Bits);
        Assert.Equal(4 * 1110 + 400, plan.WeightBits);
    }

    [Fact]
    public void The_budget_fraction_is_of_the_fp32_size_and_bad_input_is_refused_clearly()
    {
        LayerBitOptions[] layers = [new("a", 1000, [(4, 1.0), (8, 0.0)])];
        Assert.Equal(4160, BitAllocator.BudgetBits(layers, 0.13));

        var tooSmall = Assert.Throws<UserFacingException>(() => BitAllocator.Solve(layers, 3999));
        Assert.Contains("below the smallest plan (4,000 bits", tooSmall.Message);
        Assert.Contains("(0, 1]", Assert.Throws<UserFacingException>(() => BitAllocator.BudgetBits(layers, 0)).Message);
        Assert.Contains("(0, 1]", Assert.Throws<UserFacingException>(() => BitAllocator.BudgetBits(layers, 1.5)).Message);
        Assert.Contains("listed twice", Assert.Throws<ArgumentException>(() => BitAllocator.Solve([new("b", 5, [(4, 1), (4, 2)])], 100)).Message);
        Assert.Contains("loss increase NaN", Assert.Throws<ArgumentException>(() => BitAllocator.Solve([new("c", 5, [(4, double.NaN)])], 100)).Message);
        Assert.Throws<ArgumentException>(() => BitAllocator.Solve([], 100));
    }
}
