namespace Orchestrator.Trainer.PostTraining.Quantization;

/// <summary>
/// How one layer of a quantized model runs: its weights hold <paramref name="WeightBits"/>-bit values per output channel
/// (stored dequantized), and its input is quantized to <paramref name="ActivationBits"/> bits over
/// [<paramref name="ActivationMin"/>, <paramref name="ActivationMax"/>] (the calibrated, AdaQuant-tuned range).
/// </summary>
public sealed record LayerQuantization(string Layer, int WeightBits, int ActivationBits, float ActivationMin, float ActivationMax);
