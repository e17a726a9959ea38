// MSBuild inline task (RoslynCodeTaskFactory). TorchSharp 0.107's libLibTorchSharp.so asks for
// GLIBCXX_3.4.32, which Debian 12's libstdc++ lacks; the only symbol under that version is never
// called. Marking the missing version requirements weak (VER_FLG_WEAK in the SHT_GNU_verneed
// section) lets the dynamic loader accept the library. Idempotent, and a no-op where the system
// libstdc++ already provides every version the library asks for.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class RelaxGlibcxxVersions : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    [Required]
    public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux)) return true;
        var provided = SystemGlibcxxVersions();
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
                var relaxed = Relax(path, provided);
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

    private static HashSet<string>? SystemGlibcxxVersions()
    {
        string[] dirs = { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib" };
        foreach (var dir in dirs)
        {
            var lib = Path.Combine(dir, "libstdc++.so.6");
            if (!File.Exists(lib)) continue;
            var text = Encoding.ASCII.GetString(File.ReadAllBytes(lib));
            var found = new HashSet<string>();
            int at = 0;
            while ((at = text.IndexOf("GLIBCXX_", at, StringComparison.Ordinal)) >= 0)
            {
                int end = at + 8;
                while (end < text.Length && (char.IsDigit(text[end]) || text[end] == '.')) end++;
                found.Add(text.Substring(at, end - at));
                at = end;
            }
            return found;
        }
        return null;
    }

    private static List<string> Relax(string path, HashSet<string> provided)
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
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF is supported");

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
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int flagsAt = (int)aux + 4;
                    var name = CString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                    if (name.StartsWith("GLIBCXX_", StringComparison.Ordinal) && !provided.Contains(name) && (flags & VerFlgWeak) == 0)
                    {
                        var patched = BitConverter.GetBytes((ushort)(flags | VerFlgWeak));
                        file.Position = flagsAt;
                        file.Write(patched, 0, 2);
                        relaxed.Add(name);
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(elf, (int)need + 12);
            }
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
