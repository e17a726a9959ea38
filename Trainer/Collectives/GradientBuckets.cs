using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Groups a model's gradients into flat buckets of at most <c>bucket_mb</c> (DDP's default is 25 MB):
/// tensors with at least <c>min_compress_elements</c> values go to compressed buckets in parameter order
/// (DDP packs in reverse order; here <see cref="BucketReadiness"/> starts the buckets in backward order instead, and
/// the packing stays as it was, so a given spec trains the same bits as before overlap existed); the small ones
/// (biases, normalization parameters) share uncompressed buckets, where a codec's
/// per-chunk overhead would cost more than it saves.
/// </summary>
public sealed class GradientBuckets : IDisposable
{
    private readonly List<GradientBucket> buckets;

    private GradientBuckets(List<GradientBucket> buckets) => this.buckets = buckets;

    public IReadOnlyList<GradientBucket> Buckets => buckets;

    /// <summary>Total gradient values over all buckets.</summary>
    public long Elements => buckets.Sum(b => (long)b.Elements);

    /// <summary>
    /// Creates the buckets and points every parameter's <c>grad</c> at its slice. Call once, before
    /// the first backward; clear gradients with the optimizer's in-place <c>zero_grad</c> afterwards.
    /// </summary>
    public static GradientBuckets Attach(IEnumerable<(string Name, Parameter Parameter)> parameters, double bucketMb, int minCompressElements)
    {
        var trainable = parameters.Where(p => p.Parameter.requires_grad).ToList();
        if (trainable.Count == 0) return new GradientBuckets([]);
        long capacity = Math.Max(1, (long)(bucketMb * 1024 * 1024 / sizeof(float)));
        var large = trainable.Where(p => p.Parameter.numel() >= minCompressElements).ToList();
        var small = trainable.Where(p => p.Parameter.numel() < minCompressElements).ToList();
        var result = new List<GradientBucket>();
        result.AddRange(Pack(large, capacity, compressed: true));
        result.AddRange(Pack(small, capacity, compressed: false));
        return new GradientBuckets(result);
    }

    /// <summary>True when every gradient value is finite (one reduction per bucket).</summary>
    public bool AllFinite()
    {
        foreach (var bucket in buckets)
        {
            using var finite = isfinite(bucket.Flat).all();
            if (!finite.item<bool>()) return false;
        }
        return true;
    }

    private static IEnumerable<GradientBucket> Pack(List<(string Name, Parameter Parameter)> parameters, long capacity, bool compressed)
    {
        var group = new List<(string Name, Parameter Parameter)>();
        long size = 0;
        foreach (var entry in parameters)
        {
            long count = entry.Parameter.numel();
            if (group.Count > 0 && size + count > capacity)
            {
                yield return Build(group, size, compressed);
                group = [];
                size = 0;
            }
            group.Add(entry);
            size += count;
        }
        if (group.Count > 0) yield return Build(group, size, compressed);
    }

    private static GradientBucket Build(List<(string Name, Parameter Parameter)> group, long size, bool compressed)
    {
        if (size > int.MaxValue / sizeof(float)) throw new InvalidOperationException($"a gradient bucket of {size} values exceeds 2 GB; lower compression.bucket_mb");
        var first = group[0].Parameter;
        var flat = zeros(size, dtype: float32, device: first.device);
        long offset = 0;
        foreach (var (_, parameter) in group)
        {
            long count = parameter.numel();
            parameter.grad = flat.narrow(0, offset, count).view(parameter.shape);
            offset += count;
        }
        return new GradientBucket(flat, compressed, group.Select(g => g.Name).ToList(), group.Select(g => g.Parameter.shape).ToList());
    }

    public void Dispose()
    {
        foreach (var bucket in buckets) bucket.Dispose();
    }
}
