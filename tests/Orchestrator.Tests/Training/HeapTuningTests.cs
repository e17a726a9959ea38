using System.Diagnostics;
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
    private const int LargeBlockBytes = 40 << 20; // above the largest threshold, below a non-main arena's 64 MiB heap
    private const int BlockBytes = 8 << 20; // an 8 MiB activation: mapped under glibc's default threshold

    [Fact]
    public void Tensor_sized_blocks_come_from_the_heap_once_applied()
    {
        // In this long-lived test host earlier tests may have grown the heap, so a control at glibc's defaults belongs
        // in a fresh process (the test below); here: once applied, no tensor-sized block is mapped, whatever came before.
        try
        {
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
    public void A_fresh_process_with_the_peers_environment_keeps_tensor_sized_blocks_off_mmap()
    {
        var defaults = HeapTuning.Environment.Keys.ToDictionary(k => k, _ => (string?)null);
        Assert.Equal((true, true), MappedInFreshProcess(defaults)); // control: glibc's defaults map both
        Assert.Equal((false, false), MappedInFreshProcess(HeapTuning.Environment));
    }

    /// <summary>Whether an 8 MiB and a 40 MiB block are mapped in a new Python process (ctypes malloc) with <paramref name="environment"/>.</summary>
    private static (bool Small, bool Large) MappedInFreshProcess(IReadOnlyDictionary<string, string?> environment)
    {
        const string Script = """
            import ctypes
            libc = ctypes.CDLL("libc.so.6")
            libc.malloc.restype = ctypes.c_void_p
            libc.free.argtypes = [ctypes.c_void_p]
            def mapped(n):
                p = libc.malloc(n)
                flag = ctypes.c_size_t.from_address(p - 8).value & 2
                libc.free(p)
                return int(flag != 0)
            print(mapped(8 << 20), mapped(40 << 20))
            """;
        var flags = RunPython(Script, environment).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return (flags[0] == "1", flags[1] == "1");
    }

    [Fact]
    public void The_heap_keeps_more_than_two_gibibytes_freed_at_its_top()
    {
        // Control: the old threshold (2 GiB - 1, mallopt's largest positive value) gave a freed 2.5 GB top back to the
        // kernel, and a large batch's next step faulted it in again. The block is never touched: it costs no memory.
        var old = HeapTuning.Environment.ToDictionary(e => e.Key, e => e.Value);
        old["MALLOC_TRIM_THRESHOLD_"] = int.MaxValue.ToString();
        Assert.True(TrimsInFreshProcess(old));
        Assert.False(TrimsInFreshProcess(HeapTuning.Environment));
    }

    /// <summary>Whether freeing a 2.5 GB heap block (mmap off, as in every environment here) shrinks the heap of a new
    /// Python process (ctypes malloc) with <paramref name="environment"/>.</summary>
    private static bool TrimsInFreshProcess(IReadOnlyDictionary<string, string?> environment)
    {
        const string Script = """
            import ctypes
            libc = ctypes.CDLL("libc.so.6")
            libc.malloc.restype = ctypes.c_void_p
            libc.malloc.argtypes = [ctypes.c_size_t]
            libc.free.argtypes = [ctypes.c_void_p]
            libc.sbrk.restype = ctypes.c_void_p
            libc.sbrk.argtypes = [ctypes.c_long]
            p = libc.malloc(5 << 29)
            assert ctypes.c_size_t.from_address(p - 8).value & 2 == 0, "the block was mapped, not in the heap"
            before = libc.sbrk(0)
            libc.free(p)
            print(int(libc.sbrk(0) < before))
            """;
        return RunPython(Script, environment).Trim() == "1";
    }

    [Fact]
    public void The_environment_for_peers_states_the_same_values()
    {
        Assert.Equal(HeapTuning.MmapThresholdBytes.ToString(), HeapTuning.Environment["MALLOC_MMAP_THRESHOLD_"]);
        Assert.Equal(ulong.MaxValue.ToString(), HeapTuning.Environment["MALLOC_TRIM_THRESHOLD_"]); // "never", as mallopt's -1
        Assert.Equal(HeapTuning.TopPadBytes.ToString(), HeapTuning.Environment["MALLOC_TOP_PAD_"]);
        Assert.Equal("0", HeapTuning.Environment["MALLOC_MMAP_MAX_"]);
    }

    /// <summary>The standard output of <paramref name="script"/> run by a new python3 with <paramref name="environment"/>.</summary>
    private static string RunPython(string script, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "python3 did not end");
        Assert.True(process.ExitCode == 0, error);
        return output;
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
}
