using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VideoSSL.Training.Config;
using VideoSSL.Training.Logging;

namespace VideoSSL.Training;

/// <summary>
/// Everything a run leaves behind: config.json (resolved) and overrides.txt, manifest.json (seed, git
/// commit, argv, runtime, libtorch, device), metrics.jsonl, TensorBoard events, checkpoints/ and plots/.
/// </summary>
public sealed class RunDirectory : IDisposable
{
    private RunDirectory(string path, bool resumed)
    {
        Path = path;
        Resumed = resumed;
        Directory.CreateDirectory(CheckpointDir);
        Directory.CreateDirectory(PlotDir);
        Metrics = new MetricsWriter(System.IO.Path.Combine(path, "metrics.jsonl"), append: resumed);
        TensorBoard = new TensorBoardWriter(System.IO.Path.Combine(path, "tensorboard"));
    }

    public string Path { get; }
    public bool Resumed { get; }
    public MetricsWriter Metrics { get; }
    public TensorBoardWriter TensorBoard { get; }
    public string CheckpointDir => System.IO.Path.Combine(Path, "checkpoints");
    public string PlotDir => System.IO.Path.Combine(Path, "plots");
    public string LastCheckpoint => System.IO.Path.Combine(CheckpointDir, "last.safetensors");

    /// <summary>Opens (resume) or creates a run folder; a new one defaults to runs/NAME-yyyyMMdd-HHmmss.</summary>
    public static RunDirectory Open<T>(string? path, string name, T config, IReadOnlyList<string> overrides, ManifestInfo manifest, bool resume)
    {
        path ??= System.IO.Path.Combine("runs", $"{name}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        if (!resume && Directory.Exists(path) && File.Exists(System.IO.Path.Combine(path, "metrics.jsonl")))
        {
            throw new IOException($"run directory {path} already holds a run: pass --resume to continue it, or choose another --run-dir");
        }
        Directory.CreateDirectory(path);
        var run = new RunDirectory(path, resume);
        var suffix = resume ? $".resume-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}" : string.Empty;
        AtomicWrite(System.IO.Path.Combine(path, $"config{suffix}.json"), ConfigLoader.ToJson(config));
        AtomicWrite(System.IO.Path.Combine(path, $"overrides{suffix}.txt"), string.Join('\n', overrides) + "\n");
        AtomicWrite(System.IO.Path.Combine(path, $"manifest{suffix}.json"), JsonSerializer.Serialize(manifest, ConfigLoader.JsonOptions));
        return run;
    }

    public static void AtomicWrite(string path, string text)
    {
        var temp = $"{path}.tmp-{Environment.ProcessId}";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    public void Dispose()
    {
        Metrics.Dispose();
        TensorBoard.Dispose();
    }
}

public sealed record ManifestInfo(
    long Seed,
    string Command,
    string[] Argv,
    string? GitCommit,
    bool? GitDirty,
    string Runtime,
    string Libtorch,
    string Device,
    string Host,
    DateTimeOffset Started)
{
    public static ManifestInfo Create(long seed, string command, string[] argv, string device) => new(
        seed,
        command,
        argv,
        Git("rev-parse HEAD"),
        Git("status --porcelain") is { } status ? status.Length > 0 : null,
        System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        Torch.Torch.Version + (Torch.Torch.IsCudaBuild ? " (CUDA)" : " (CPU)"),
        device,
        Environment.MachineName,
        DateTimeOffset.Now);

    private static string? Git(string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true });
            if (process is null)
            {
                return null;
            }
            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
