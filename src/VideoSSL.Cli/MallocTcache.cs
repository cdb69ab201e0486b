using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VideoSSL.Cli;

/// <summary>
/// Raises glibc's per-thread cache of freed small blocks (tcache) from 7 to 256 blocks per size class, by
/// re-executing the process once with GLIBC_TUNABLES before anything else runs.
/// </summary>
/// <remarks>
/// Every op allocates a few small blocks (TensorImpl, StorageImpl, our handle, small data). Python frees them
/// one op at a time as reference counts drop, so each size's cache cycles one block; VideoSSL frees a dispose
/// scope's tensors together, hundreds per size at once, and past the 7th they go to the slower bins. With 256
/// per size, `bench ops` measures add 8x8 at about 0.63 us instead of 0.72 (PyTorch eager: 1.0; its figure does
/// not move with the setting). glibc reads the count only when the dynamic loader starts the process, so it
/// cannot be set from the shim the way the heap thresholds are (native/torch/shim.cpp). VIDEOSSL_MALLOPT=0
/// turns both off; a GLIBC_TUNABLES that already names tcache_count is left as the user set it.
/// </remarks>
internal static class MallocTcache
{
    internal const string Tunable = "glibc.malloc.tcache_count=256";

    public static void ReexecIfNeeded()
    {
        // Only where this CLI is the program: a test host calling Main must not be replaced by a new image.
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("VIDEOSSL_MALLOPT") == "0"
            || System.Reflection.Assembly.GetEntryAssembly() != typeof(MallocTcache).Assembly)
        {
            return;
        }
        var tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES");
        if (tunables is not null && tunables.Contains("tcache_count", StringComparison.Ordinal))
        {
            return;  // already set (by us before the exec, or by the user): exactly one exec, never a loop
        }
        string[] argv;
        try
        {
            argv = File.ReadAllText("/proc/self/cmdline").Split('\0', StringSplitOptions.None);
        }
        catch (IOException)
        {
            return;
        }
        catch (UnauthorizedAccessException)
        {
            return;
        }
        // cmdline ends with a NUL, so the split's last entry is empty; it becomes argv's terminating null.
        if (argv.Length < 2 || argv[^1].Length != 0)
        {
            return;
        }
        var env = new List<string?>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if ((string)entry.Key is not ("GLIBC_TUNABLES" or Before))
            {
                env.Add($"{entry.Key}={entry.Value}");
            }
        }
        env.Add($"GLIBC_TUNABLES={(string.IsNullOrEmpty(tunables) ? Tunable : tunables + ":" + Tunable)}");
        env.Add($"{Before}={tunables}");
        env.Add(null);
        var args = new string?[argv.Length];
        Array.Copy(argv, args, argv.Length - 1);
        // The same process (pid, signals, open standard streams) continues as the new image; on failure, execve
        // returns and the run goes on with glibc's default cache.
        try
        {
            _ = execve("/proc/self/exe", args, env.ToArray());
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (the tunable is glibc's anyway): run on as we are.
        }
    }

    /// <summary>
    /// Gives a reference process (PyTorch in `bench ops`, `bench pretrain --reference`, `bench data`) the
    /// GLIBC_TUNABLES the user started us with, so it runs as PyTorch ships. Inherited, the larger tcache also
    /// keeps Python's heap from being trimmed every step (23,000 minor faults per ViT-S step fall to about 200),
    /// which would hide the allocator difference the comparison is about.
    /// </summary>
    public static ProcessStartInfo AsStarted(ProcessStartInfo start) => AsStarted(start, Environment.GetEnvironmentVariable(Before));

    internal static ProcessStartInfo AsStarted(ProcessStartInfo start, string? before)
    {
        if (before is not null)
        {
            if (before.Length == 0)
            {
                start.Environment.Remove("GLIBC_TUNABLES");
            }
            else
            {
                start.Environment["GLIBC_TUNABLES"] = before;
            }
            start.Environment.Remove(Before);
        }
        // The same BLAS threads on both sides: our shim pins OpenBLAS to one thread (vs_blas_threads_pinned), and a
        // reference left with OpenBLAS's own per-core pool would compare BLAS settings, not the bindings.
        if (!start.Environment.ContainsKey("OPENBLAS_NUM_THREADS") && VideoSSL.Torch.Torch.BlasThreadsPinned)
        {
            start.Environment["OPENBLAS_NUM_THREADS"] = "1";
        }
        return start;
    }

    /// <summary>The tunables each side of a side-by-side benchmark runs with, for its header line.</summary>
    public static string Describe()
    {
        var ours = Environment.GetEnvironmentVariable("GLIBC_TUNABLES");
        var theirs = Environment.GetEnvironmentVariable(Before) is { } before ? before : ours;
        return $"GLIBC_TUNABLES {(string.IsNullOrEmpty(ours) ? "unset" : ours)} here, {(string.IsNullOrEmpty(theirs) ? "unset" : theirs)} for PyTorch{(VideoSSL.Torch.Torch.BlasThreadsPinned ? "; OpenBLAS on 1 thread on both sides" : string.Empty)}";
    }

    // The user's GLIBC_TUNABLES (empty: unset) from before the exec.
    private const string Before = "VIDEOSSL_GLIBC_TUNABLES_BEFORE";

    // glibc's soname: "libc" alone first probes libc.so, which is a linker script where libc6-dev is installed.
    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int execve(string path, string?[] argv, string?[] envp);
}
