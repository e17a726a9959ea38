using System.Runtime.InteropServices;

namespace Orchestrator.Trainer.Devices;

/// <summary>
/// Fixes glibc malloc's thresholds for large tensors, once, at the start of every process the product starts.
/// </summary>
/// <remarks>
/// glibc serves blocks above its mmap threshold (128 KiB at start) with mmap and returns them with munmap. It raises the
/// threshold only as such blocks are freed, one size at a time, so for the first hundreds of steps every activation
/// of a large batch is a fresh mapping, zeroed page by page by the kernel: epoch 1 ran about 3x slower than later
/// epochs, in system time. Fixed thresholds keep the blocks in the heap from the first step (measured here: 149 ms
/// a step at first, 42 ms with them). Debian's jemalloc was slower still (317 ms), so the fix stays in glibc.
/// The same values go to the PyTorch peers of the benchmarks through <see cref="Environment"/>, so the comparison
/// stays fair.
/// </remarks>
public static partial class HeapTuning
{
    // glibc's mallopt parameters (malloc.h).
    private const int TrimThreshold = -1;
    private const int TopPad = -2;
    private const int MmapThreshold = -3;
    private const int MmapMax = -4;

    /// <summary>Blocks up to this size come from the heap: 32 MiB, glibc's largest allowed value on 64-bit.</summary>
    public const int MmapThresholdBytes = 32 << 20;

    /// <summary>
    /// Free memory at the top of the heap is never returned to the kernel (mallopt's -1, "disables trimming
    /// completely"): a step's activations are freed and made again every step. A threshold of 2 GiB - 1 (the largest
    /// positive value mallopt takes) was not enough: at resnet20 batch 4096 (whole) the end of a backward can leave more
    /// than that free at the top; glibc then gave 2.5 GB back and the next steps faulted it in again (150,000-540,000
    /// page faults and 5.9-6.3 s instead of 4.4-4.5 s a step, in some runs and not others).
    /// </summary>
    public const int TrimThresholdNever = -1;

    /// <summary>Extra room asked of the kernel whenever the heap grows (256 MiB), so a growing batch grows it rarely.</summary>
    public const int TopPadBytes = 256 << 20;

    /// <summary>
    /// Blocks mapped with mmap at most at once: 0, none. The threshold cannot exceed 32 MiB, and a large batch's
    /// activations are bigger (the example CNN at batch 1024: 102 MB for the first convolution's output), so without
    /// this they were still mapped, page-faulted and unmapped every step (bench gbn, cnn batch 1024: 1.94 s a step,
    /// 0.28 s with it). glibc still maps a block that no heap of a non-main thread's arena can hold (over 64 MiB).
    /// </summary>
    public const int MmapMaxBlocks = 0;

    /// <summary>The same settings as environment variables, read by glibc when a process starts (the PyTorch peers).</summary>
    public static IReadOnlyDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>
    {
        ["MALLOC_MMAP_THRESHOLD_"] = MmapThresholdBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // The variable is read as a size: the largest one is "never", as mallopt's -1.
        ["MALLOC_TRIM_THRESHOLD_"] = ulong.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MALLOC_TOP_PAD_"] = TopPadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MALLOC_MMAP_MAX_"] = MmapMaxBlocks.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Applies the thresholds to this process's glibc heap. Returns false where there is no glibc (then nothing
    /// changes); a variable the user set in the environment wins, so the settings can still be tried otherwise.
    /// </summary>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            bool all = true;
            all &= Set(MmapThreshold, "MALLOC_MMAP_THRESHOLD_", MmapThresholdBytes);
            all &= Set(TrimThreshold, "MALLOC_TRIM_THRESHOLD_", TrimThresholdNever);
            all &= Set(TopPad, "MALLOC_TOP_PAD_", TopPadBytes);
            all &= Set(MmapMax, "MALLOC_MMAP_MAX_", MmapMaxBlocks);
            return all;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl and others: no mallopt, nothing to tune
        }
    }

    private static bool Set(int parameter, string variable, int value) =>
        System.Environment.GetEnvironmentVariable(variable) is not null || mallopt(parameter, value) == 1;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int parameter, int value);
}
