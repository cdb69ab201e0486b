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
    private RunDirectory(string path, bool resumed, RunLock runLock, string? resumeCheckpoint)
    {
        Path = path;
        Resumed = resumed;
        Lock = runLock;
        ResumeCheckpoint = resumeCheckpoint;
        Directory.CreateDirectory(CheckpointDir);
        Directory.CreateDirectory(PlotDir);
        Metrics = new MetricsWriter(System.IO.Path.Combine(path, MetricsFile), append: resumed);
        TensorBoard = new TensorBoardWriter(System.IO.Path.Combine(path, "tensorboard"));
    }

    public const string MetricsFile = "metrics.jsonl";

    public string Path { get; }
    public bool Resumed { get; }
    public MetricsWriter Metrics { get; }
    public TensorBoardWriter TensorBoard { get; }
    public string CheckpointDir => System.IO.Path.Combine(Path, "checkpoints");
    public string PlotDir => System.IO.Path.Combine(Path, "plots");
    public string LastCheckpoint => System.IO.Path.Combine(CheckpointDir, "last.safetensors");

    /// <summary>The checkpoint a resumed run continues from; null when it starts at step 0 (also a resume of a run killed before its first checkpoint).</summary>
    public string? ResumeCheckpoint { get; }

    /// <summary>The OS lock held on the folder until <see cref="Dispose"/>.</summary>
    public RunLock Lock { get; }

    /// <summary>
    /// Opens (resume) or creates a run folder; a new one defaults to runs/NAME-yyyyMMdd-HHmmss. The folder is locked for
    /// the life of the returned object; leftovers of a killed run are dealt with here: stale temporary files are removed,
    /// metrics.jsonl is cut back to the step of the checkpoint the run resumes from (a torn last line included), and a
    /// folder whose run died before its first checkpoint starts over, resumed or not.
    /// </summary>
    /// <param name="resumeFrom">With <paramref name="resume"/>: the checkpoint to continue from; null = the folder's last.safetensors.</param>
    public static RunDirectory Open<T>(string? path, string name, T config, IReadOnlyList<string> overrides, ManifestInfo manifest, bool resume,
        string? resumeFrom = null, Action<string>? log = null)
    {
        log ??= Console.WriteLine;
        path ??= System.IO.Path.Combine("runs", $"{name}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        Directory.CreateDirectory(path);
        var runLock = RunLock.Acquire(path);
        try
        {
            RemoveStaleTemporaries(path, log);
            var metrics = System.IO.Path.Combine(path, MetricsFile);
            var checkpoints = System.IO.Path.Combine(path, "checkpoints");
            var last = System.IO.Path.Combine(checkpoints, "last.safetensors");
            var hasCheckpoint = Directory.Exists(checkpoints) && Directory.EnumerateFiles(checkpoints, "*.safetensors").Any();
            string? from = null;
            if (resume)
            {
                from = resumeFrom ?? (File.Exists(last) ? last : null);
                if (from is null)
                {
                    if (File.Exists(metrics))
                    {
                        log($"{path} holds no checkpoint: its run stopped before the first one; starting it again from step 0");
                    }
                    ClearProgress(path);
                }
                else
                {
                    var step = Checkpoint.ReadState(from).Step;
                    var dropped = TruncateMetrics(metrics, step);
                    if (dropped > 0)
                    {
                        log($"{MetricsFile}: dropped {dropped} line(s) written after step {step}, the step {from} holds");
                    }
                }
            }
            else if (File.Exists(metrics))
            {
                if (hasCheckpoint)
                {
                    throw new IOException($"run directory {path} already holds a run: pass --resume to continue it, or choose another --run-dir");
                }
                log($"{path} holds a run that stopped before its first checkpoint: starting over");
                ClearProgress(path);
            }
            var run = new RunDirectory(path, resume && from is not null, runLock, from);
            var suffix = resume ? $".resume-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}" : string.Empty;
            AtomicWrite(System.IO.Path.Combine(path, $"config{suffix}.json"), ConfigLoader.ToResolvedJson(config));
            AtomicWrite(System.IO.Path.Combine(path, $"overrides{suffix}.txt"), string.Join('\n', overrides) + "\n");
            AtomicWrite(System.IO.Path.Combine(path, $"manifest{suffix}.json"), JsonSerializer.Serialize(manifest, ConfigLoader.JsonOptions));
            return run;
        }
        catch
        {
            runLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The run folder a checkpoint belongs to (RUN for RUN/checkpoints/FILE), or null when it lies elsewhere: a run
    /// resumed from a loose file needs --run-dir rather than writing into whatever folder is two levels up.
    /// </summary>
    public static string? FolderOf(string checkpoint)
    {
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(checkpoint));
        if (folder is null || System.IO.Path.GetFileName(folder) != "checkpoints")
        {
            return null;
        }
        var run = System.IO.Path.GetDirectoryName(folder);
        return run is not null && (File.Exists(System.IO.Path.Combine(run, MetricsFile)) || File.Exists(System.IO.Path.Combine(run, "config.json"))) ? run : null;
    }

    /// <summary>
    /// Keeps the lines of metrics.jsonl up to <paramref name="step"/>: everything from the first line past it, or the
    /// first line that is not whole JSON (a write torn by a kill), is dropped. Returns the number of lines dropped.
    /// </summary>
    public static int TruncateMetrics(string path, long step)
    {
        if (!File.Exists(path))
        {
            return 0;
        }
        var text = File.ReadAllText(path);
        var lines = text.Split('\n');
        // The last element is what follows the final newline: empty for a whole file, a torn line otherwise.
        var whole = lines.Length - 1;
        var kept = 0;
        for (; kept < whole; kept++)
        {
            if (!LineAtOrBefore(lines[kept], step))
            {
                break;
            }
        }
        var dropped = whole - kept + (lines[^1].Length > 0 ? 1 : 0);
        if (dropped > 0)
        {
            AtomicWrite(path, string.Concat(lines.Take(kept).Select(l => l + "\n")));
        }
        return dropped;
    }

    private static bool LineAtOrBefore(string line, long step)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && (!doc.RootElement.TryGetProperty("step", out var s) || (s.ValueKind == JsonValueKind.Number && s.GetInt64() <= step));
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // A run that never reached a checkpoint left nothing to continue: its curves would fold back over the new ones.
    private static void ClearProgress(string path)
    {
        File.Delete(System.IO.Path.Combine(path, MetricsFile));
        foreach (var folder in (string[])["tensorboard", "plots"])
        {
            var full = System.IO.Path.Combine(path, folder);
            if (Directory.Exists(full))
            {
                Directory.Delete(full, recursive: true);
            }
        }
    }

    // Temporary files of atomic writes (checkpoints, configs, plots) that a killed process never renamed. Under the
    // folder lock none of them can belong to a live writer.
    private static void RemoveStaleTemporaries(string path, Action<string> log)
    {
        var stale = new List<string>();
        foreach (var folder in (string[])[path, System.IO.Path.Combine(path, "checkpoints"), System.IO.Path.Combine(path, "plots")])
        {
            if (Directory.Exists(folder))
            {
                stale.AddRange(Directory.EnumerateFiles(folder).Where(f => System.IO.Path.GetFileName(f).Contains(".tmp", StringComparison.Ordinal)));
            }
        }
        foreach (var file in stale)
        {
            File.Delete(file);
        }
        if (stale.Count > 0)
        {
            log($"removed {stale.Count} temporary file(s) a killed run left in {path}");
        }
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
        Lock.Dispose();
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
