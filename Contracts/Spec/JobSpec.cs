namespace Orchestrator.Contracts.Spec;

/// <summary>A training job as the user wrote it in YAML, after defaults, overrides and validation.</summary>
/// <param name="Name">DNS-1123 label; becomes process, file and Kubernetes names.</param>
/// <param name="Device">Where the workers compute.</param>
public sealed record JobSpec(
    string Name,
    DeviceKind Device,
    ModelSpec Model,
    DataSpec Data,
    TrainingSpec Training,
    CheckpointSpec Checkpoint);

/// <summary>Compute device choice: <c>auto</c> takes CUDA when present, else CPU.</summary>
public enum DeviceKind { Auto, Cpu, Cuda }

/// <param name="Kind">Registry key: mlp | cnn | resnet20 | resnet44.</param>
/// <param name="Width">Channel (or hidden unit) count of the first stage; later stages scale from it.</param>
/// <param name="Norm">Normalization layer factory key: batch | none.</param>
public sealed record ModelSpec(string Kind, int Width, string Norm);

/// <param name="Dataset">Registry key: fashion-mnist | mnist-idx | cifar10 | synthetic.</param>
/// <param name="Root">Directory holding the dataset files.</param>
/// <param name="TrainSubset">Use only the first N training samples (0 = all).</param>
/// <param name="TestSubset">Evaluate on only the first N test samples (0 = all).</param>
public sealed record DataSpec(string Dataset, string Root, int TrainSubset, int TestSubset, AugmentSpec Augment);

/// <param name="CropPadding">Zero padding (pixels) before a random crop back to the input size; 0 = off.</param>
/// <param name="Flip">Random horizontal flip with probability 1/2.</param>
/// <param name="Cutout">Side of a square zeroed at a random position; 0 = off.</param>
public sealed record AugmentSpec(int CropPadding, bool Flip, int Cutout);

/// <param name="GlobalBatch">Samples per optimizer step summed over all workers.</param>
/// <param name="Threads">Torch intra-op threads per worker; 0 = all cores.</param>
public sealed record TrainingSpec(int Epochs, int GlobalBatch, OptimizerSpec Optimizer, long Seed, int Threads);

/// <param name="Kind">sgd.</param>
/// <param name="WeightDecay">L2 penalty applied to weights only (never to biases or normalization parameters).</param>
public sealed record OptimizerSpec(string Kind, double Lr, double Momentum, bool Nesterov, double WeightDecay);

/// <param name="EverySteps">Write a checkpoint every N optimizer steps (and at the end); 0 = only at the end.</param>
/// <param name="Keep">Newest checkpoints kept on disk.</param>
public sealed record CheckpointSpec(int EverySteps, int Keep);
