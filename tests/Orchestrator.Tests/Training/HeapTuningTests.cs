using System.Runtime.InteropServices;
using Orchestrator.Trainer.Devices;

namespace Orchestrator.Tests.Training;

/// <summary>
/// <see cref="HeapTuning"/> must take a tensor-sized block out of mmap and into glibc's heap. Whether a block was
/// mapped is read from glibc's chunk header (the IS_MMAPPED bit, 0x2, of the size word before the block), so the
/// check concerns that block alone, whatever other tests allocate meanwhile.
/// </summary>
public sealed class HeapTuningTests
{
    private const int MmapThresholdParameter = -3; // M_MMAP_THRESHOLD
    private const int MmapMaxParameter = -4; // M_MMAP_MAX
    private const int DefaultMmapMax = 65536;
    private const int LargeBlockBytes = 40 << 20; // above the largest threshold, below a non-main arena's 64 MiB heap
    private const int DefaultThreshold = 128 * 1024;
    private const int BlockBytes = 8 << 20; // an 8 MiB activation: mapped under glibc's default threshold

    [Fact]
    public void Tensor_sized_blocks_come_from_the_heap_once_applied()
    {
        try
        {
            Assert.Equal(1, mallopt(MmapThresholdParameter, DefaultThreshold));
            Assert.Equal(1, mallopt(MmapMaxParameter, DefaultMmapMax));
            Assert.True(IsMapped(BlockBytes), "control: at the default threshold an 8 MiB block is mapped");
            Assert.True(IsMapped(LargeBlockBytes), "control: a 40 MiB block is mapped");

            Assert.True(HeapTuning.Apply());
            Assert.False(IsMapped(BlockBytes), "an 8 MiB block comes from the heap");
            Assert.False(IsMapped(HeapTuning.MmapThresholdBytes / 2), "so does a block of half the threshold");
            Assert.False(IsMapped(LargeBlockBytes), "and one above the largest threshold (mmap is off)");
        }
        finally
        {
            HeapTuning.Apply(); // leave the test host as every product process runs
        }
    }

    [Fact]
    public void The_environment_for_peers_states_the_same_values()
    {
        Assert.Equal(HeapTuning.MmapThresholdBytes.ToString(), HeapTuning.Environment["MALLOC_MMAP_THRESHOLD_"]);
        Assert.Equal(HeapTuning.TrimThresholdBytes.ToString(), HeapTuning.Environment["MALLOC_TRIM_THRESHOLD_"]);
        Assert.Equal(HeapTuning.TopPadBytes.ToString(), HeapTuning.Environment["MALLOC_TOP_PAD_"]);
        Assert.Equal("0", HeapTuning.Environment["MALLOC_MMAP_MAX_"]);
    }

    private static bool IsMapped(int bytes)
    {
        var block = Marshal.AllocHGlobal(bytes); // malloc on Linux
        try
        {
            return (Marshal.ReadInt64(block, -8) & 0x2) != 0;
        }
        finally
        {
            Marshal.FreeHGlobal(block);
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
