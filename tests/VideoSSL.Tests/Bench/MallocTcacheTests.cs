using System.Diagnostics;

namespace VideoSSL.Tests.Bench;

// The CLI re-executes itself once with a larger glibc tcache (src/VideoSSL.Cli/MallocTcache.cs). `videossl env`
// prints the GLIBC_TUNABLES the running image was started with, so each case shows what the exec did.
public class MallocTcacheTests
{
    private static async Task<string> EnvLine(Dictionary<string, string?> environment)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "videossl.dll");
        Assert.True(File.Exists(cli), $"{cli} is not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(cli);
        start.ArgumentList.Add("env");
        start.Environment.Remove("GLIBC_TUNABLES");
        start.Environment.Remove("VIDEOSSL_MALLOPT");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(child.ExitCode == 0, $"videossl env exited {child.ExitCode}: {await stdout}{await stderr}");
        return (await stdout).Split('\n').Single(l => l.StartsWith("malloc", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_cli_starts_with_a_256_block_tcache_and_keeps_other_tunables()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        Assert.EndsWith("GLIBC_TUNABLES glibc.malloc.tcache_count=256", await EnvLine([]), StringComparison.Ordinal);
        Assert.EndsWith("GLIBC_TUNABLES glibc.malloc.mxfast=64:glibc.malloc.tcache_count=256",
            await EnvLine(new() { ["GLIBC_TUNABLES"] = "glibc.malloc.mxfast=64" }), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_tcache_count_or_videossl_mallopt_0_is_left_alone()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        Assert.EndsWith("GLIBC_TUNABLES glibc.malloc.tcache_count=7",
            await EnvLine(new() { ["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=7" }), StringComparison.Ordinal);
        var off = await EnvLine(new() { ["VIDEOSSL_MALLOPT"] = "0" });
        Assert.Contains("glibc's defaults (VIDEOSSL_MALLOPT=0)", off, StringComparison.Ordinal);
        Assert.EndsWith("GLIBC_TUNABLES unset", off, StringComparison.Ordinal);
    }

    // The reference side of `bench ops` / `bench pretrain --reference` / `bench data` runs with the tunables the
    // user gave us, not the ones we added: unset stays unset, a user's value comes back without our addition.
    [Fact]
    public void Reference_processes_get_the_users_tunables_back()
    {
        static ProcessStartInfo Start()
        {
            var start = new ProcessStartInfo("python3");
            start.Environment["GLIBC_TUNABLES"] = "glibc.malloc.mxfast=64:" + VideoSSL.Cli.MallocTcache.Tunable;
            start.Environment["VIDEOSSL_GLIBC_TUNABLES_BEFORE"] = "x";
            return start;
        }
        var unset = VideoSSL.Cli.MallocTcache.AsStarted(Start(), before: string.Empty);
        Assert.False(unset.Environment.ContainsKey("GLIBC_TUNABLES"));
        Assert.False(unset.Environment.ContainsKey("VIDEOSSL_GLIBC_TUNABLES_BEFORE"));
        Assert.Equal("glibc.malloc.mxfast=64", VideoSSL.Cli.MallocTcache.AsStarted(Start(), before: "glibc.malloc.mxfast=64").Environment["GLIBC_TUNABLES"]);
        // Not started through the exec (VIDEOSSL_MALLOPT=0, or a user tcache_count): the environment passes as is.
        Assert.Equal("glibc.malloc.mxfast=64:" + VideoSSL.Cli.MallocTcache.Tunable, VideoSSL.Cli.MallocTcache.AsStarted(Start(), before: null).Environment["GLIBC_TUNABLES"]);
    }

    // Where our shim pinned OpenBLAS to one thread, the PyTorch reference gets the same setting, unless the user chose one.
    [Fact]
    public void Reference_processes_get_the_same_OpenBLAS_threads_as_ours()
    {
        var start = new ProcessStartInfo("python3");
        start.Environment.Remove("OPENBLAS_NUM_THREADS");
        var started = VideoSSL.Cli.MallocTcache.AsStarted(start, before: null);
        if (VideoSSL.Torch.Torch.BlasThreadsPinned)
        {
            Assert.Equal("1", started.Environment["OPENBLAS_NUM_THREADS"]);
        }
        else
        {
            Assert.False(started.Environment.ContainsKey("OPENBLAS_NUM_THREADS"));
        }
        var chosen = new ProcessStartInfo("python3");
        chosen.Environment["OPENBLAS_NUM_THREADS"] = "4";
        Assert.Equal("4", VideoSSL.Cli.MallocTcache.AsStarted(chosen, before: null).Environment["OPENBLAS_NUM_THREADS"]);
    }
}
