using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VideoSSL.Plots;

/// <summary>
/// What a run folder holds for plots and reports, read from its files only (metrics.jsonl, config.json,
/// manifest.json, class_index.json, test/), so any run can be redrawn at any time, even mid-run.
/// </summary>
public sealed class RunData
{
    private RunData(string directory, IReadOnlyList<MetricsRecord> records, JsonObject? config, JsonObject? manifest, IReadOnlyList<string> classNames)
    {
        Directory = directory;
        Config = config;
        Manifest = manifest;
        ClassNames = classNames;
        // Per-epoch summary lines carry validation results (or, for ridge, are the only lines); the rest are per-step lines.
        EpochLines = [.. records.Where(r => r.Values.Keys.Any(k => k.StartsWith("val/", StringComparison.Ordinal)))];
        StepLines = [.. records.Except(EpochLines)];
    }

    public string Directory { get; }

    /// <summary>Legend name: the folder's name.</summary>
    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(Directory)));

    public IReadOnlyList<MetricsRecord> StepLines { get; }
    public IReadOnlyList<MetricsRecord> EpochLines { get; }
    public JsonObject? Config { get; }
    public JsonObject? Manifest { get; }
    public IReadOnlyList<string> ClassNames { get; }

    public string PlotDir => Path.Combine(Directory, "plots");

    /// <summary>Classes of the classifier (config model.num_classes, else class_index.json), 0 when unknown.</summary>
    public int ClassCount
    {
        get
        {
            var configured = Config?["model"]?["num_classes"] is JsonValue v && v.TryGetValue<int>(out var n) ? n : 0;
            return configured > 0 ? configured : ClassNames.Count;
        }
    }

    /// <summary>
    /// What train/loss is, for titles: the pretraining objective from the config (method, norm_pix_loss), or
    /// cross-entropy for probes and fine-tuning.
    /// </summary>
    public string LossName
    {
        get
        {
            var method = Config?["method"]?.GetValue<string>();
            var normalised = Config?["model"]?["norm_pix_loss"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
            return method switch
            {
                "videomae" or "videomae_v2" => normalised ? "MSE on normalised pixels (per patch)" : "MSE on raw pixels",
                "vjepa" or "vjepa2" => "L1 on latent targets",
                "svt" => "DINO cross-entropy",
                "supervised" => "cross-entropy on the data's labels",
                _ when Config?["probe"] is not null => "cross-entropy (probe head)",
                _ when Config?["train"] is not null && method is null => "cross-entropy",
                _ => "train/loss",
            };
        }
    }

    /// <summary>Reads a run folder; metrics.jsonl must exist, the other files are optional.</summary>
    public static RunData Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"run folder '{directory}' does not exist");
        }
        var records = MetricsLog.Read(Path.Combine(directory, "metrics.jsonl"));
        var classes = Path.Combine(directory, "class_index.json");
        return new RunData(directory, records, ReadObject(Path.Combine(directory, "config.json")), ReadObject(Path.Combine(directory, "manifest.json")),
            File.Exists(classes) ? ReadClassNames(classes) : []);
    }

    /// <summary>The values of a per-step key with their steps (lines without the key are left out).</summary>
    public (double[] Steps, double[] Values) StepSeries(string key) => Series(StepLines, "step", key);

    /// <summary>The values of a per-epoch key with their epochs.</summary>
    public (double[] Epochs, double[] Values) EpochSeries(string key) => Series(EpochLines, "epoch", key);

    /// <summary>Wall-clock seconds the run has logged so far (the largest "time"), NaN when none.</summary>
    public double Seconds => StepLines.Concat(EpochLines).Select(r => r.Get("time")).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();

    private static (double[] Xs, double[] Ys) Series(IReadOnlyList<MetricsRecord> lines, string xKey, string key)
    {
        var rows = lines.Select((r, i) => (X: r.Has(xKey) ? r.Get(xKey) : i, Line: r)).Where(p => p.Line.Has(key)).ToList();
        return ([.. rows.Select(p => p.X)], [.. rows.Select(p => p.Line.Get(key))]);
    }

    private static JsonObject? ReadObject(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new InvalidDataException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    // class_index.json maps class name → id (VideoDataset.SaveClassIndex); names are listed by id.
    private static List<string> ReadClassNames(string path)
    {
        var node = ReadObject(path)!;
        var names = new SortedDictionary<int, string>();
        foreach (var (name, value) in node)
        {
            if (value is JsonValue v && v.TryGetValue<int>(out var id))
            {
                names[id] = name;
            }
        }
        return [.. names.Values];
    }

    internal static string Format(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
