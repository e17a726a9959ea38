using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.LargeBatch;

public sealed class BatchAugmentationTests
{
    [Fact]
    public void A_batch_of_B_becomes_B_times_M_rows_sample_major_with_targets_repeated()
    {
        using var x = arange(3 * 1 * 2 * 2, dtype: float32).reshape(3, 1, 2, 2);
        using var y = tensor(new long[] { 7, 8, 9 });
        var (images, labels) = BatchAugmentation.Expand(x, y, 4);
        Assert.Equal(new long[] { 12, 1, 2, 2 }, images.shape);
        Assert.Equal(new long[] { 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9 }, labels.data<long>().ToArray());
        for (int row = 0; row < 12; row++)
            Assert.True(images[row].equal(x[row / 4]).all().item<bool>(), $"row {row} is not a copy of sample {row / 4}");
    }

    [Fact]
    public void The_M_copies_of_a_sample_are_augmented_independently()
    {
        using var x = rand(new long[] { 2, 1, 12, 12 }, generator: new Generator(3));
        using var y = tensor(new long[] { 0, 1 });
        var (images, _) = BatchAugmentation.Expand(x, y, 4);
        using var augmented = new BatchAugmenter(new AugmentSpec(2, true, 0)).Apply(images, new Generator(5));
        for (int sample = 0; sample < 2; sample++)
        {
            var copies = Enumerable.Range(0, 4).Select(c => augmented[sample * 4 + c]).ToList();
            int distinct = 0;
            for (int a = 0; a < 4; a++)
                for (int b = a + 1; b < 4; b++)
                    if (!copies[a].equal(copies[b]).all().item<bool>()) distinct++;
            Assert.True(distinct >= 5, $"sample {sample}: only {distinct} of 6 copy pairs differ");
        }
    }

    [Fact]
    public void M_equal_one_is_bit_identical_to_no_augmentation()
    {
        using var x = rand(5, 1, 4, 4);
        using var y = tensor(new long[] { 1, 2, 3, 4, 5 });
        var (images, labels) = BatchAugmentation.Expand(x, y, 1);
        Assert.Same(x, images);
        Assert.Same(y, labels);
    }
}
