using System.Globalization;

namespace Orchestrator.Spec;

/// <summary>
/// The images a dataset holds, as the trainer's loaders produce them (Trainer/Data: IDX 1x28x28, CIFAR-10 binary
/// 3x32x32, the synthetic set 1x12x12 with 2048/512 samples; 10 classes each). Spec cannot read the files, so the
/// shapes are restated here for estimates; the loaders stay the authority on what is actually read.
/// </summary>
public readonly record struct DatasetShape(int Channels, int Side, int Classes, int TrainSamples, int TestSamples)
{
    /// <summary>The shape of <paramref name="dataset"/>.</summary>
    public static DatasetShape Of(DatasetKind dataset) => dataset switch
    {
        DatasetKind.FashionMnist or DatasetKind.MnistIdx => new(1, 28, 10, 60_000, 10_000),
        DatasetKind.Cifar10 => new(3, 32, 10, 50_000, 10_000),
        DatasetKind.Synthetic => new(1, 12, 10, 2048, 512),
    };
}

/// <summary>
/// About how much memory one worker of a job needs, in bytes, from the spec alone: the model (fp32 weights, their
/// gradients, normalization and classifier buffers), the optimizer and allreduce state, the activations autograd keeps
/// for the backward pass of one step, and the dataset held in memory as fp32. A pure function of the spec; parameter
/// counts follow Trainer/Models (SmallCnn, Mlp, ResNet with ResidualBlock, the linear and Hadamard classifiers) exactly,
/// the activation figure is an estimate (it leaves out the transient gradients of backward and library workspaces).
/// </summary>
/// <param name="Parameters">Trainable parameters (what the optimizer updates and the allreduce averages).</param>
/// <param name="Buffers">Non-trained tensors' elements: batch-norm running statistics, fixed Hadamard rows.</param>
/// <param name="ModelBytes">Weights, their gradients and the buffers.</param>
/// <param name="OptimizerBytes">Momentum buffers, error-feedback residuals and the flat gradient buckets of the allreduce.</param>
/// <param name="ActivationBytes">Activations kept for backward at the step that keeps the most.</param>
/// <param name="RowsPerWorker">Rows of one forward pass of that step on one worker (its share of the batch, or
/// <c>training.micro_batch</c> when smaller, times the augmented copies).</param>
/// <param name="ImageSide">Image side of that step (the dataset's, or a mixed size).</param>
/// <param name="DatasetBytes">Training and test images (fp32) and labels.</param>
public sealed record MemoryEstimate(
    long Parameters,
    long Buffers,
    long ModelBytes,
    long OptimizerBytes,
    long ActivationBytes,
    long RowsPerWorker,
    int ImageSide,
    long DatasetBytes)
{
    private const double FloatBytes = 4;

    /// <summary>One worker's total.</summary>
    public long TotalBytes => Saturate((double)ModelBytes + OptimizerBytes + ActivationBytes + DatasetBytes);

    /// <summary>
    /// Whether <paramref name="spec"/> holds what an estimate needs: known choices and the sizes it multiplies within
    /// their bounds. Otherwise those fields have errors of their own and an estimate would only add noise.
    /// </summary>
    public static bool Applies(JobSpec spec)
    {
        var model = spec.Model;
        var training = spec.Training;
        var mixed = training.MixedSizeOrOff;
        return Enum.IsDefined(model.Kind) && Enum.IsDefined(model.Norm) && Enum.IsDefined(model.Classifier)
            && Enum.IsDefined(spec.Data.Dataset) && Enum.IsDefined(mixed.Mode)
            && model.Width is >= 1 and <= SpecVocabulary.MaxWidth
            && training.GlobalBatch is >= 1 and <= SpecVocabulary.MaxGlobalBatch
            && training.BatchAugmentation is >= 1 and <= SpecVocabulary.MaxBatchAugmentation
            && spec.Workers is >= 1 and <= SpecVocabulary.MaxWorkers
            && spec.Data.TrainSubset >= 0 && spec.Data.TestSubset >= 0
            && (!mixed.Enabled || (model.Kind.HasGlobalPooling()
                && mixed.Sizes.All(s => s is >= SpecVocabulary.MinImageSize and <= SpecVocabulary.MaxImageSize)));
    }

    /// <summary>The estimate for one worker of <paramref name="spec"/>; see <see cref="Applies"/> for what it needs.</summary>
    public static MemoryEstimate Of(JobSpec spec)
    {
        var shape = DatasetShape.Of(spec.Data.Dataset);
        var model = spec.Model;
        var (parameters, buffers) = CountParameters(model, shape);

        var training = spec.Training;
        var momentum = training.Optimizer.Momentum > 0 || (training.Regime?.Phases.Any(p => p.Momentum > 0) ?? false);
        var compression = spec.CompressionOrDefault;
        var stateCopies = (momentum ? 1 : 0)
            // With overlap the residuals are staged beside the current ones until the step is applied: two copies.
            + (compression.ErrorFeedback && compression.Codec.Compresses() ? (compression.Overlap && spec.Workers > 1 ? 2 : 1) : 0)
            + (spec.Workers > 1 ? 1 : 0);

        var (rows, side, activationFloats) = LargestStep(spec, shape);

        double train = spec.Data.TrainSubset > 0 ? Math.Min(spec.Data.TrainSubset, shape.TrainSamples) : shape.TrainSamples;
        double test = spec.Data.TestSubset > 0 ? Math.Min(spec.Data.TestSubset, shape.TestSamples) : shape.TestSamples;
        var dataset = (train + test) * ((double)shape.Channels * shape.Side * shape.Side * FloatBytes + sizeof(long));

        return new MemoryEstimate(
            Parameters: Saturate(parameters),
            Buffers: Saturate(buffers),
            ModelBytes: Saturate((2 * parameters + buffers) * FloatBytes),
            OptimizerBytes: Saturate(stateCopies * parameters * FloatBytes),
            ActivationBytes: Saturate(activationFloats * FloatBytes),
            RowsPerWorker: Saturate(rows),
            ImageSide: side,
            DatasetBytes: Saturate(dataset));
    }

    /// <summary>
    /// Trainable parameters and buffer elements of <paramref name="model"/> on images of <paramref name="shape"/>, as
    /// Trainer/Models builds it: convolutions and linear layers carry a bias only without normalization; batch and
    /// ghost batch norm have a weight and a bias (and two running statistics) per channel.
    /// </summary>
    public static (double Parameters, double Buffers) CountParameters(ModelSpec model, DatasetShape shape)
    {
        var norm = model.Norm != NormKind.None;
        double parameters = 0, buffers = 0;
        void Conv(double inputs, double outputs, int kernel) => parameters += inputs * outputs * kernel * kernel + (norm ? 0 : outputs);
        void Linear(double inputs, double outputs, bool bias) => parameters += inputs * outputs + (bias ? outputs : 0);
        void Norm(double channels)
        {
            if (!norm)
                return;
            parameters += 2 * channels;
            buffers += 2 * channels;
        }
        void Classifier(double inputs)
        {
            if (model.Classifier == ClassifierKind.Hadamard)
            {
                parameters += 1 + shape.Classes; // scale and bias; the rows are a buffer
                buffers += inputs * shape.Classes;
            }
            else
            {
                Linear(inputs, shape.Classes, bias: true);
            }
        }

        double w = model.Width;
        switch (model.Kind)
        {
            case ModelKind.Mlp:
                var hidden = 8 * w;
                Linear((double)shape.Channels * shape.Side * shape.Side, hidden, bias: !norm);
                Norm(hidden);
                Linear(hidden, hidden, bias: !norm);
                Norm(hidden);
                Classifier(hidden);
                break;
            case ModelKind.Cnn:
                Conv(shape.Channels, w, 3);
                Norm(w);
                Conv(w, 2 * w, 3);
                Norm(2 * w);
                var quarter = shape.Side / 4;
                Linear(2 * w * quarter * quarter, 128, bias: true);
                Classifier(128);
                break;
            case ModelKind.ResNet20 or ModelKind.ResNet44:
                Conv(shape.Channels, w, 3);
                Norm(w);
                var channels = w;
                for (var stage = 0; stage < 3; stage++)
                {
                    var outputs = w * (1 << stage);
                    for (var block = 0; block < BlocksPerStage(model.Kind); block++)
                    {
                        Conv(channels, outputs, 3);
                        Norm(outputs);
                        Conv(outputs, outputs, 3);
                        Norm(outputs);
                        if ((stage > 0 && block == 0) || channels != outputs)
                        {
                            Conv(channels, outputs, 1);
                            Norm(outputs);
                        }
                        channels = outputs;
                    }
                }
                Classifier(channels);
                break;
        }
        return (parameters, buffers);
    }

    /// <summary>
    /// Floats one row (image) keeps for backward at side <paramref name="side"/>: the input, and per layer the outputs
    /// autograd saves (convolution, normalization, ReLU, pooling; in a residual block also the sum).
    /// </summary>
    public static double ActivationFloatsPerRow(ModelSpec model, int channels, int side, int classes)
    {
        var norm = model.Norm != NormKind.None;
        double perLayer = norm ? 3 : 2; // conv or linear output, normalized output, ReLU output
        double w = model.Width;
        double Area(int s) => (double)s * s;
        var floats = channels * Area(side) + classes;
        switch (model.Kind)
        {
            case ModelKind.Mlp:
                floats += 2 * perLayer * 8 * w;
                break;
            case ModelKind.Cnn:
                floats += perLayer * w * Area(side) + w * Area(side / 2)
                    + perLayer * 2 * w * Area(side / 2) + 2 * w * Area(side / 4) + 2 * 128;
                break;
            case ModelKind.ResNet20 or ModelKind.ResNet44:
                floats += perLayer * w * Area(side);
                var stageSide = side;
                var perBlock = norm ? 7 : 5; // conv1, norm1, relu, conv2, norm2, sum, relu
                var perProjection = norm ? 2 : 1;
                for (var stage = 0; stage < 3; stage++)
                {
                    if (stage > 0)
                        stageSide = (stageSide - 1) / 2 + 1; // 3x3, stride 2, padding 1
                    var outputs = w * (1 << stage);
                    floats += BlocksPerStage(model.Kind) * perBlock * outputs * Area(stageSide);
                    if (stage > 0)
                        floats += perProjection * outputs * Area(stageSide);
                }
                floats += 4 * w;
                break;
        }
        return floats;
    }

    /// <summary>
    /// The step that keeps the most activations: the dataset's size, or with mixed sizes the size whose rows (B+: the
    /// batch scaled by (base/size)^2; D+: the copies scaled so) times its per-row activations are largest.
    /// </summary>
    private static (double Rows, int Side, double Floats) LargestStep(JobSpec spec, DatasetShape shape)
    {
        var training = spec.Training;
        double workers = spec.Workers;
        double copies = training.BatchAugmentation;
        (double, int, double) At(double globalBatch, double rowCopies, int side)
        {
            var perWorker = Math.Ceiling(globalBatch / workers);
            var rows = (training.MicroBatch > 0 ? Math.Min(perWorker, training.MicroBatch) : perWorker) * rowCopies; // one forward's rows
            return (rows, side, rows * ActivationFloatsPerRow(spec.Model, shape.Channels, side, shape.Classes));
        }

        var largest = At(training.GlobalBatch, copies, shape.Side);
        var mixed = training.MixedSizeOrOff;
        if (!mixed.Enabled)
            return largest;
        foreach (var size in mixed.Sizes)
        {
            var scale = (double)shape.Side * shape.Side / ((double)size * size);
            var step = mixed.Mode == MixedSizeMode.BPlus
                ? At(Math.Max(1, Math.Round(scale * training.GlobalBatch)), copies, size)
                : At(training.GlobalBatch, Math.Max(1, Math.Round(scale * copies)), size);
            if (step.Item3 > largest.Item3)
                largest = step;
        }
        return largest;
    }

    private static int BlocksPerStage(ModelKind kind) => kind == ModelKind.ResNet44 ? 7 : 3;

    private static long Saturate(double value) => value >= long.MaxValue ? long.MaxValue : (long)Math.Ceiling(value);

    /// <summary><paramref name="bytes"/> as people read it: <c>512 MiB</c>, <c>3.2 GiB</c>.</summary>
    public static string Format(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB";
}
