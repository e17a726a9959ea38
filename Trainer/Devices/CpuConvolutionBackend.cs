using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Devices;

/// <summary>
/// Which kernels libtorch runs float32 CPU convolutions with: oneDNN (mkldnn, the default and fastest) or
/// ATen's native im2col + GEMM path. TorchSharp exposes no switch for this, so the switch is
/// <c>at::Context::setUserEnabledMkldnn</c>, reached through libtorch's exported C++ symbols (Itanium ABI:
/// Linux and macOS); where they cannot be found the backend stays as it is and <see cref="TryUseNative"/> says so.
/// The setting is process-wide and read on every convolution call, forward and backward.
/// </summary>
public static class CpuConvolutionBackend
{
    private const string Library = "libtorch_cpu";
    private const string GlobalContext = "_ZN2at13globalContextEv";
    private const string SetEnabled = "_ZN2at7Context20setUserEnabledMkldnnEb";
    private const string GetEnabled = "_ZNK2at7Context17userEnabledMkldnnEv";
    private const string SetNnpack = "_ZN2at7Context20setUserEnabledNNPACKEb";

    private static readonly Lazy<Exports?> exports = new(Resolve);

    /// <summary>Whether float32 CPU convolutions may use oneDNN (false also when the switch is unreachable and
    /// <see cref="TryUseNative"/> could not have changed it).</summary>
    public static bool UsesOneDnn => exports.Value is { } e && e.Get(e.Context()) != 0;

    /// <summary>Routes every later CPU convolution of this process to ATen's native kernels.</summary>
    /// <returns>False when libtorch's switch could not be found (the backend is unchanged).</returns>
    public static bool TryUseNative()
    {
        if (exports.Value is not { } e) return false;
        e.Set(e.Context(), 0);
        return e.Get(e.Context()) == 0;
    }

    /// <summary>
    /// Keeps the native path from trying NNPACK, which prints a warning on every convolution on CPUs it does not
    /// support (this project's VMs); the trainer never relies on it (oneDNN or ATen's GEMM kernels do the work).
    /// </summary>
    public static void SkipNnpack()
    {
        if (exports.Value is { } e) e.SetNnpackEnabled(e.Context(), 0);
    }

    private sealed unsafe class Exports(IntPtr context, IntPtr set, IntPtr get, IntPtr setNnpack)
    {
        public void SetNnpackEnabled(IntPtr ctx, byte enabled)
        {
            if (setNnpack != IntPtr.Zero) ((delegate* unmanaged<IntPtr, byte, void>)setNnpack)(ctx, enabled);
        }

        public IntPtr Context() => ((delegate* unmanaged<IntPtr>)context)();
        public void Set(IntPtr ctx, byte enabled) => ((delegate* unmanaged<IntPtr, byte, void>)set)(ctx, enabled);
        public byte Get(IntPtr ctx) => ((delegate* unmanaged<IntPtr, byte>)get)(ctx);
    }

    private static Exports? Resolve()
    {
        // Touching torch first makes TorchSharp load libtorch from its own native folder, so the name below
        // resolves to the very library TorchSharp uses.
        _ = get_num_threads();
        if (!NativeLibrary.TryLoad(Library, typeof(TorchSharp.torch).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out var handle)
            && !NativeLibrary.TryLoad(Library + ".so", typeof(TorchSharp.torch).Assembly, null, out handle))
            return null;
        return NativeLibrary.TryGetExport(handle, GlobalContext, out var context)
            && NativeLibrary.TryGetExport(handle, SetEnabled, out var set)
            && NativeLibrary.TryGetExport(handle, GetEnabled, out var get)
                ? new Exports(context, set, get, NativeLibrary.TryGetExport(handle, SetNnpack, out var nnpack) ? nnpack : IntPtr.Zero)
                : null;
    }
}
