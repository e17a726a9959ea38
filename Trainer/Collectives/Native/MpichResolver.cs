using System.Runtime.InteropServices;
using Orchestrator.Spec;

namespace Orchestrator.Trainer.Collectives.Native;

/// <summary>
/// Points MPI.NET at MPICH. MPI.NET 1.4.0 is compiled against MS-MPI and imports <c>msmpi.dll</c>;
/// MPICH shares MS-MPI's ABI (32-bit integer handles, same constants, same status layout), so
/// redirecting that one library name is all it takes. OpenMPI (pointer handles) would crash at the
/// first handle, which is why only MPICH's sonames are tried.
/// </summary>
public static class MpichResolver
{
    /// <summary>MPICH's runtime library names, Debian's first (package <c>mpich</c>).</summary>
    private static readonly string[] Candidates = ["libmpich.so.12", "libmpi.so.12"];

    private static readonly Lock Gate = new();
    private static IntPtr handle;

    /// <summary>Loads MPICH and registers the resolver for the MPI.NET assembly; later calls do nothing.</summary>
    /// <exception cref="UserFacingException">MPICH's shared library is not installed.</exception>
    public static void Register()
    {
        lock (Gate)
        {
            if (handle != IntPtr.Zero) return;
            var library = LoadMpich();
            // SetDllImportResolver throws when called twice for one assembly: the handle doubles as the "done" flag.
            NativeLibrary.SetDllImportResolver(typeof(MPI.Environment).Assembly,
                (name, _, _) => IsMsMpi(name) ? library : IntPtr.Zero);
            handle = library;
        }
    }

    /// <summary>The address of an MPICH function MPI.NET does not bind (MPI-3 nonblocking collectives).</summary>
    /// <exception cref="InvalidOperationException">Called before <see cref="Register"/>, or MPICH lacks it.</exception>
    public static IntPtr Export(string function)
    {
        lock (Gate)
        {
            if (handle == IntPtr.Zero) throw new InvalidOperationException("MPICH is not loaded yet: call Register first");
            return NativeLibrary.TryGetExport(handle, function, out var address)
                ? address
                : throw new InvalidOperationException($"the loaded MPI library has no {function} (MPI-3 is needed)");
        }
    }

    private static bool IsMsMpi(string name) =>
        name.Equals("msmpi.dll", StringComparison.OrdinalIgnoreCase) || name.Equals("msmpi", StringComparison.OrdinalIgnoreCase);

    private static IntPtr LoadMpich()
    {
        foreach (var name in Candidates)
            if (NativeLibrary.TryLoad(name, out var library)) return library;
        throw new UserFacingException(
            $"MPI library not found (tried {string.Join(", ", Candidates)}): multi-worker jobs need MPICH; " +
            "install the Debian package mpich (apt-get install mpich) and launch the workers with mpirun.mpich");
    }
}
