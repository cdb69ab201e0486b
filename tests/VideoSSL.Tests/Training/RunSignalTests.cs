using System.Diagnostics;
using VideoSSL.Tests.Experiments;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Training;

/// <summary>
/// The built CLI in a child process, on tiny Kinetics data: while it trains, its run folder is locked against this
/// process (a real OS lock, naming the child's PID); SIGINT makes it finish the step, write a checkpoint, print the
/// resume command and exit with 130; the lock goes with the process.
/// </summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class RunSignalTests(TinyRealData data) : IClassFixture<TinyRealData>
{
    [Fact]
    public async Task Sigint_checkpoints_prints_the_resume_command_and_exits_130_and_the_lock_names_the_running_pid()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var cli = Path.Combine(AppContext.BaseDirectory, "videossl.dll");
        Assert.True(File.Exists(cli), $"{cli} is not built");
        var root = Directory.CreateTempSubdirectory("vssl-signal-").FullName;
        var run = Path.Combine(root, "run");
        var config = Path.Combine(root, "tiny.json");
        File.WriteAllText(config, "{\"name\": \"tiny\"}");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] keys = [.. TinyRealData.ModelKeys, .. data.DataKeys("kinetics"), .. TinyRealData.PretrainKeys.Where(k => !k.StartsWith("train.max_steps", StringComparison.Ordinal)
            && !k.StartsWith("train.epochs", StringComparison.Ordinal) && !k.StartsWith("log.checkpoint", StringComparison.Ordinal) && !k.StartsWith("log.reconstruction", StringComparison.Ordinal)),
            "train.epochs=100000", "log.checkpoint_every_steps=100000", "log.reconstruction_every_steps=100000", "train.threads=1"];
        foreach (var arg in (string[])[cli, "pretrain", config, .. keys.SelectMany(k => (string[])["--set", k]), "--run-dir", run])
        {
            start.ArgumentList.Add(arg);
        }
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        try
        {
            var metrics = Path.Combine(run, "metrics.jsonl");
            var deadline = Stopwatch.StartNew();
            while (!(File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 2))
            {
                if (child.HasExited)
                {
                    Assert.Fail($"the child exited early ({child.ExitCode}): {await stdout}{await stderr}");
                }
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), "no metrics after 90 s");
                await Task.Delay(100);
            }
            var config0 = ConfigLoader.Load<PretrainConfig>(config, []);
            var e = Assert.Throws<IOException>(() => RunDirectory.Open(run, "tiny", config0, [], ManifestInfo.Create(0, "test", [], "cpu"), true, log: _ => { }));
            Assert.Contains($"is in use by PID {child.Id}", e.Message, StringComparison.Ordinal);

            // A shell's background job (`cmd &`) starts with SIGINT ignored and its children inherit that, so the child
            // would never see one (the runtime leaves an ignored SIGINT alone); SIGTERM takes the same stop path then.
            var (signal, exitCode) = SigintIgnored() ? ("TERM", 143) : ("INT", 130);
            using (var kill = Process.Start("kill", [$"-{signal}", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                kill.WaitForExit();
            }
            if (!child.WaitForExit(120_000))
            {
                child.Kill();
                child.WaitForExit();
                Assert.Fail($"the child did not stop within 120 s of SIG{signal}; its output:\n{await stdout}\n{await stderr}");
            }
            var output = await stdout;
            Assert.True(child.ExitCode == exitCode, $"exit code {child.ExitCode} after SIG{signal}: {output}{await stderr}");
            Assert.Contains($"resume with: videossl pretrain {config}", output, StringComparison.Ordinal);
            Assert.Contains($"--run-dir {run} --resume", output, StringComparison.Ordinal);
            var lastStep = (long)VideoSSL.Plots.MetricsLog.Read(metrics)[^1].Get("step");
            Assert.Equal(lastStep, Checkpoint.ReadState(Path.Combine(run, "checkpoints", "last.safetensors")).Step);
            // The lock went with the process: this one can take the folder now.
            using (RunLock.Acquire(run))
            {
            }
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill();
                child.WaitForExit();
            }
            Directory.Delete(root, recursive: true);
        }
    }

    // Bit 1 of /proc/self/status's SigIgn mask is SIGINT (signal 2).
    private static bool SigintIgnored()
    {
        var line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) : null;
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0b10) != 0;
    }
}
