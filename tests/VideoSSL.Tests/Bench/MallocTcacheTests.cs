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
}
