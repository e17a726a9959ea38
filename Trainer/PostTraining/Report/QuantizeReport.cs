using System.Text.Json.Nodes;

namespace Orchestrator.Trainer.PostTraining.Report;

/// <summary>
/// What <c>orchestrator quantize</c> did and measured (<c>report.json</c>): per layer its bits and output MSE before
/// (plain rounding) and after AdaQuant, sizes, and the test accuracy after each stage, computed by the training Evaluator.
/// </summary>
public sealed record QuantizeReport(
    string RunDirectory,
    string Checkpoint,
    long Step,
    string Model,
    string Bits,
    double? Budget,
    string Calibration,
    int CalibrationSamples,
    int HeldOutSamples,
    long Seed,
    int AdaQuantIterations,
    string? BitAllocation,
    long? BudgetWeightBits,
    IReadOnlyList<LayerReport> Layers,
    SizeReport Size,
    IReadOnlyList<StageReport> Stages,
    double Fp32TestAccuracy,
    double TestAccuracy,
    double TestLoss,
    string Simulation,
    JsonObject? CalibrationReport);

/// <summary>One quantized layer.</summary>
/// <param name="MseRounding">Output MSE vs full precision with plain rounding (held-out calibration samples).</param>
/// <param name="MseAdaquant">The same for AdaQuant's optimum.</param>
/// <param name="Chosen"><c>adaquant</c>, or <c>rounding</c> when AdaQuant's optimum was no better.</param>
/// <param name="LossIncrease">Mixed only: the measured loss increase (KL divergence of the model's outputs from full
/// precision, with only this layer quantized) per width, the integer program's costs.</param>
public sealed record LayerReport(string Layer, string Kind, long Weights, int WeightBits, int ActivationBits,
    float ActivationMin, float ActivationMax, double MseRounding, double MseAdaquant, string Chosen,
    IReadOnlyDictionary<string, double>? LossIncrease);

/// <summary>Sizes in bytes. Weights: the quantized layers' weights at their widths vs fp32 (the budget's measure). Model:
/// those plus, in fp32, every other parameter and buffer and each layer's ranges (two per output channel, two for its input).</summary>
public sealed record SizeReport(long WeightBytes, long Fp32WeightBytes, double WeightFraction, long ModelBytes, long Fp32ModelBytes, double ModelFraction);

/// <summary>The model after a stage: test accuracy and loss by the training Evaluator, and whether the stage was kept
/// (a stage that raised the calibration loss on the held-out samples is reverted).</summary>
public sealed record StageReport(string Stage, double TestAccuracy, double TestLoss, bool Kept, string? Note = null);
