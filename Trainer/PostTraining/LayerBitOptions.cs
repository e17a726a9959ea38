namespace Orchestrator.Trainer.PostTraining;

/// <summary>One layer's choices for the mixed-precision allocation: its weight count and, per bit width it may take,
/// the loss increase measured with the layer quantized to that width (ALGORITHMS.md section 9).</summary>
/// <param name="Layer">The layer's name (reports).</param>
/// <param name="Weights">Number of weights the width applies to.</param>
/// <param name="Options">(bit width, measured loss increase) pairs, at least one, widths distinct.</param>
public sealed record LayerBitOptions(string Layer, long Weights, IReadOnlyList<(int Bits, double LossIncrease)> Options);

/// <summary>The allocation chosen: one width per layer, in the layers' order.</summary>
/// <param name="Bits">Each layer's bit width.</param>
/// <param name="WeightBits">Total weight bits: the sum of weights x width.</param>
/// <param name="LossIncrease">The sum of the chosen options' loss increases (the objective).</param>
public sealed record BitPlan(IReadOnlyList<int> Bits, long WeightBits, double LossIncrease);
