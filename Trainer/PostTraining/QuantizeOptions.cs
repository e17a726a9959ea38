using Orchestrator.Trainer.PostTraining.AdaQuant;

namespace Orchestrator.Trainer.PostTraining;

/// <summary>Settings of one post-training quantization (the <c>orchestrator quantize</c> options).</summary>
/// <param name="Bits">Weight widths: all 8, all 4, or mixed under <paramref name="Budget"/>.</param>
/// <param name="Budget">Mixed only: the weights' total bits as a fraction of their fp32 bits, in (0, 1].</param>
/// <param name="Samples">Calibration inputs (at least 1); a fifth of them (when there are at least 5) are held out to
/// judge each step against the one before.</param>
/// <param name="Seed">Seeds the calibration inputs and AdaQuant's batches.</param>
/// <param name="AdaQuant">AdaQuant's optimiser.</param>
/// <param name="ActivationBits">Bits of every quantized layer's input.</param>
/// <param name="BiasTuningIterations">Adam steps of bias tuning (0 = skip it).</param>
public sealed record QuantizeOptions(WeightBitsMode Bits, double Budget, int Samples, long Seed, AdaQuantSettings AdaQuant,
    int ActivationBits = 8, int BiasTuningIterations = 200);
