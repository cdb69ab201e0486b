using System.CommandLine;
using System.Runtime.InteropServices;
using VideoSSL.Torch;

namespace VideoSSL.Cli;

internal static class EnvCommand
{
    public static Command Create()
    {
        var command = new Command("env", "Print the libtorch version, build flavour, devices, threads and BLAS");
        command.SetAction(_ =>
        {
            Console.WriteLine($"videossl      {typeof(EnvCommand).Assembly.GetName().Version}");
            Console.WriteLine($".NET          {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})");
            Console.WriteLine($"libtorch      {Torch.Torch.Version}");
            Console.WriteLine($"flavour       {(Torch.Torch.IsCudaBuild ? "CUDA" : "CPU")}");
            var cuda = Torch.Torch.CudaDeviceCount;
            Console.WriteLine($"devices       cpu{(cuda > 0 ? ", " + string.Join(", ", Enumerable.Range(0, cuda).Select(i => $"cuda:{i}")) : string.Empty)}");
            Console.WriteLine($"threads       {Torch.Torch.NumThreads} (of {Environment.ProcessorCount} cores)");
            var tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES");
            Console.WriteLine($"malloc        heap thresholds {(Profiling.AllocatorConfigured ? "fixed by the shim" : "glibc's defaults (VIDEOSSL_MALLOPT=0)")}, GLIBC_TUNABLES {(string.IsNullOrEmpty(tunables) ? "unset" : tunables)}");
            Console.WriteLine($"attention     {(Torch.Torch.HasNativeAttention ? "aten::scaled_dot_product_attention" : "matmul + softmax fallback (libtorch < 2.0)")}");
            var config = Torch.Torch.BuildConfig;
            var blas = System.Text.RegularExpressions.Regex.Match(config, @"BLAS_INFO=(\w+)") is { Success: true } m ? m.Groups[1].Value : null;
            var blasLibrary = ResolveBlas();
            Console.WriteLine($"BLAS          {blas ?? "unknown"}{(blasLibrary is null ? string.Empty : $" -> {blasLibrary}")}{(Torch.Torch.BlasThreadsPinned ? ", OpenBLAS pinned to 1 thread" : string.Empty)}");
            Console.WriteLine($"CPU bf16      {CpuBf16()}");
            Console.WriteLine();
            Console.WriteLine(config.TrimEnd());
            return 0;
        });
        return command;
    }

    // train.cpu_bf16 pays only where oneDNN has bf16 instructions: 1.5-1.7x the fp32 V-JEPA quick-start step with
    // AVX512-BF16 (experiments/README.md, ninth round); without them oneDNN emulates bf16 (not measured here).
    private static string CpuBf16()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo))
        {
            return "unknown (no /proc/cpuinfo)";
        }
        var flags = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        var found = flags.Where(f => f is "avx512_bf16" or "amx_bf16").ToList();
        return found.Count > 0 ? $"{string.Join(", ", found)}: train.cpu_bf16 speeds up pretraining" : "no avx512_bf16 or amx_bf16: leave train.cpu_bf16 off (bf16 would be emulated, likely slower than fp32)";
    }

    // Debian's libtorch links the libblas.so.3 alternative; which library that is decides matmul speed.
    private static string? ResolveBlas()
    {
        foreach (var path in new[] { "/etc/alternatives/libblas.so.3-x86_64-linux-gnu", "/etc/alternatives/libblas.so.3-aarch64-linux-gnu" })
        {
            if (File.Exists(path))
            {
                return new FileInfo(path).ResolveLinkTarget(true)?.FullName ?? path;
            }
        }
        return null;
    }
}
