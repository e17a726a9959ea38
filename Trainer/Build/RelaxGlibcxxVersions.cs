// MSBuild inline task (RoslynCodeTaskFactory). TorchSharp 0.107's libLibTorchSharp.so asks for
// GLIBCXX_3.4.32, which Debian 12's libstdc++ lacks; the only symbol under that version is never
// called. Marking the missing version requirements weak (VER_FLG_WEAK in the SHT_GNU_verneed
// section) lets the dynamic loader accept the library. Idempotent, and a no-op where the system
// libstdc++ already provides every version the library asks for.
//
// The task and the ELF logic it drives share this one file because an inline task compiles exactly one
// source file. The test project compiles the same file with RELAX_GLIBCXX_WITHOUT_MSBUILD, which leaves
// out the task (it needs MSBuild's assemblies) and keeps GlibcxxVersionRelaxer, the part the tests check.
// The inline compiler targets the MSBuild task API (netstandard), so the code keeps to what that offers.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
#if !RELAX_GLIBCXX_WITHOUT_MSBUILD
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class RelaxGlibcxxVersions : Task
{
    [Required]
    public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux)) return true;
        var provided = GlibcxxVersionRelaxer.SystemVersions();
        if (provided == null)
        {
            Log.LogMessage(MessageImportance.Low, "libstdc++.so.6 not found; leaving TorchSharp natives unchanged");
            return true;
        }
        foreach (var item in Libraries)
        {
            var path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                var relaxed = GlibcxxVersionRelaxer.Relax(path, provided);
                if (relaxed.Count > 0)
                    Log.LogMessage(MessageImportance.High, $"Marked {string.Join(", ", relaxed)} weak in {path} (system libstdc++ lacks them)");
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
            {
                Log.LogError($"Could not relax GLIBCXX version needs of {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif

/// <summary>One version a library needs from another (an Elf64_Vernaux entry of its SHT_GNU_verneed section).</summary>
public sealed class VersionNeed
{
    public VersionNeed(string file, string version, ushort flags, long flagsOffset)
    {
        File = file;
        Version = version;
        Flags = flags;
        FlagsOffset = flagsOffset;
    }

    /// <summary>The library that must provide the version, e.g. <c>libstdc++.so.6</c>.</summary>
    public string File { get; }

    /// <summary>The version name, e.g. <c>GLIBCXX_3.4.32</c>.</summary>
    public string Version { get; }

    /// <summary>vna_flags; <see cref="GlibcxxVersionRelaxer.VerFlgWeak"/> makes a missing version a warning instead of a load failure.</summary>
    public ushort Flags { get; }

    /// <summary>Where vna_flags lies in the file.</summary>
    public long FlagsOffset { get; }

    public bool IsWeak => (Flags & GlibcxxVersionRelaxer.VerFlgWeak) != 0;
}

/// <summary>Reads a library's version needs and marks the GLIBCXX ones the system libstdc++ lacks as weak.</summary>
public static class GlibcxxVersionRelaxer
{
    public const ushort VerFlgWeak = 0x2;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const string GlibcxxPrefix = "GLIBCXX_";

    /// <summary>The GLIBCXX versions this system's libstdc++.so.6 provides; null when there is none where it is looked for.</summary>
    public static HashSet<string>? SystemVersions()
    {
        string[] dirs = { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib" };
        foreach (var dir in dirs)
        {
            var lib = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(lib)) return VersionsIn(File.ReadAllBytes(lib));
        }
        return null;
    }

    /// <summary>Every <c>GLIBCXX_x.y.z</c> name in a libstdc++ image (its version definitions are among its strings).</summary>
    public static HashSet<string> VersionsIn(byte[] library)
    {
        var text = Encoding.ASCII.GetString(library);
        var found = new HashSet<string>(StringComparer.Ordinal);
        int at = 0;
        while ((at = text.IndexOf(GlibcxxPrefix, at, StringComparison.Ordinal)) >= 0)
        {
            int end = at + GlibcxxPrefix.Length;
            while (end < text.Length && (char.IsDigit(text[end]) || text[end] == '.')) end++;
            found.Add(text.Substring(at, end - at));
            at = end;
        }
        return found;
    }

    /// <summary>Every version need of a 64-bit little-endian ELF image, in section order.</summary>
    /// <exception cref="InvalidDataException">Not such an ELF image.</exception>
    public static List<VersionNeed> ReadNeeds(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF is supported");

        var needs = new List<VersionNeed>();
        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            int count = (int)BitConverter.ToUInt32(elf, (int)sh + 0x2C); // sh_info = number of Verneed entries
            long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);

            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                var file = CString(elf, strtab + BitConverter.ToUInt32(elf, (int)need + 4));
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int flagsAt = (int)aux + 4;
                    var name = CString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    needs.Add(new VersionNeed(file, name, BitConverter.ToUInt16(elf, flagsAt), flagsAt));
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(elf, (int)need + 12);
            }
        }
        return needs;
    }

    /// <summary>
    /// Sets VER_FLG_WEAK on every GLIBCXX need of the library at <paramref name="path"/> that is not in
    /// <paramref name="provided"/> and not weak yet, in place; returns those versions. Nothing else in the file
    /// changes, so a second run (or a run where the system has every version) leaves it byte-identical.
    /// </summary>
    public static List<string> Relax(string path, ICollection<string> provided)
    {
        var relaxed = new List<string>();
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        var elf = new byte[file.Length];
        for (int read = 0; read < elf.Length;)
        {
            int got = file.Read(elf, read, elf.Length - read);
            if (got <= 0) throw new InvalidDataException("truncated file");
            read += got;
        }
        foreach (var need in ReadNeeds(elf))
        {
            if (!need.Version.StartsWith(GlibcxxPrefix, StringComparison.Ordinal) || provided.Contains(need.Version) || need.IsWeak) continue;
            var patched = BitConverter.GetBytes((ushort)(need.Flags | VerFlgWeak));
            file.Position = need.FlagsOffset;
            file.Write(patched, 0, 2);
            relaxed.Add(need.Version);
        }
        file.Flush(true);
        return relaxed;
    }

    private static string CString(byte[] bytes, long at)
    {
        int end = (int)at;
        while (bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, (int)at, end - (int)at);
    }
}
