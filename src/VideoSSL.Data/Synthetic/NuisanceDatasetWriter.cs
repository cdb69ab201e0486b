using System.Text.Json;
using System.Text.Json.Serialization;

namespace VideoSSL.Data.Synthetic;

/// <summary>The labeled nuisance-rich splits written as files: how many clips, their geometry, seed and statistics.</summary>
public sealed record NuisanceDatasetOptions
{
    /// <summary>The first this many classes of <see cref="NuisanceVideo.Classes"/>.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>
    /// 100: with 30 clips per class the attentive probes of a pretrained V-JEPA encoder and its random twin tied (39.0 vs
    /// 38.5); with 100 both rise by about 20 points and the pretrained one leads by 6.5–8.5 (experiments/README.md, third
    /// and fourth rounds).
    /// </summary>
    public int TrainPerClass { get; init; } = 100;

    /// <summary>The split probe hyperparameters are chosen on.</summary>
    public int DevPerClass { get; init; } = 10;

    /// <summary>The split results are reported on.</summary>
    public int TestPerClass { get; init; } = 20;

    public int Size { get; init; } = 64;

    public int Frames { get; init; } = 16;

    public int Fps { get; init; } = 8;

    public int Seed { get; init; } = 4321;

    public NuisanceStats Stats { get; init; } = NuisanceStats.Default;

    /// <summary>Also write the Something-Something v2 layout (webm + JSON) next to the Kinetics one.</summary>
    public bool Ssv2 { get; init; }

    public string Ffmpeg { get; init; } = "ffmpeg";

    /// <summary>
    /// The benchmark's transfer set: the same motions drawn with other nuisance statistics and another seed than the
    /// pool and the labeled set, 20 / 5 / 10 clips per class (what `videossl data nuisance --transfer` writes by default).
    /// </summary>
    public static NuisanceDatasetOptions Transfer { get; } = new() { Stats = NuisanceStats.Transfer, Seed = 8765, TrainPerClass = 20, DevPerClass = 5, TestPerClass = 10 };
}

/// <summary>
/// Writes the labeled nuisance-rich set in the real layouts, so probes read it through the real decoder and loaders:
/// <c>{root}/kinetics/{train,dev,test}.csv</c> with mp4 videos, and with <see cref="NuisanceDatasetOptions.Ssv2"/>
/// <c>{root}/ssv2/something-something-v2-{labels,train,validation,test}.json</c> (validation = dev; the test file keeps
/// its templates, so it is labeled) with webm videos.
/// </summary>
public static class NuisanceDatasetWriter
{
    /// <summary>Bumped whenever <see cref="NuisanceVideo"/> draws different pixels for the same seed.</summary>
    public const int GeneratorVersion = 3;

    public const string StampFile = "nuisance.json";

    public const string Ssv2TestFile = "something-something-v2-test.json";

    private static readonly JsonSerializerOptions s_json = new() { Converters = { new JsonStringEnumConverter() } };

    public static string KineticsDir(string root) => Path.Combine(root, "kinetics");

    public static string Ssv2Dir(string root) => Path.Combine(root, "ssv2");

    /// <summary>Writes the set into <paramref name="root"/> unless the same one (options, generator version) is there.</summary>
    /// <returns>True when it was (re)written.</returns>
    public static bool Ensure(string root, NuisanceDatasetOptions options, Action<string>? log = null)
    {
        if (options.Classes < 1 || options.Classes > NuisanceVideo.Classes.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Classes, $"nuisance classes are 1..{NuisanceVideo.Classes.Count}");
        }
        options.Stats.Validate();
        string stampPath = Path.Combine(root, StampFile);
        string stamp = JsonSerializer.Serialize(new { generator_version = GeneratorVersion, options = options with { Ffmpeg = "" } }, s_json);
        if (File.Exists(stampPath) && File.ReadAllText(stampPath) == stamp)
        {
            return false;
        }
        foreach (string dir in new[] { KineticsDir(root), Ssv2Dir(root) })
        {
            if (Directory.Exists(dir))
            {
                // Only a set this writer stamped is replaced, so a root pointed at real data by mistake is never deleted.
                if (!File.Exists(stampPath))
                {
                    throw new IOException($"{dir} exists but {stampPath} does not: point the nuisance set at another folder");
                }
                Directory.Delete(dir, recursive: true);
            }
        }
        if (File.Exists(stampPath))
        {
            log?.Invoke($"the nuisance-rich set in {root} is incomplete or was written with other options or another generator version: writing it again");
        }
        // Marks the folders as ours before anything is written, so a run killed half-way is rewritten, not refused.
        Directory.CreateDirectory(root);
        AtomicFile.WriteAllText(stampPath, "{\"incomplete\": true}");
        IReadOnlyList<SyntheticClass> classes = [.. NuisanceVideo.Classes.Take(options.Classes)];
        Clip Render(int classId, int seed) => NuisanceVideo.Render(classId, seed, options.Stats, options.Size, options.Frames);
        log?.Invoke($"writing the nuisance-rich motion set to {root} ({classes.Count} classes, {options.TrainPerClass}/{options.DevPerClass}/{options.TestPerClass} train/dev/test clips per class, {options.Size} px, {options.Frames} frames)");
        SyntheticDatasetWriter.WriteKineticsSplits(KineticsDir(root), classes,
            [("train", options.TrainPerClass, 0), ("dev", options.DevPerClass, 1), ("test", options.TestPerClass, 2)], Render, options.Seed, options.Fps, options.Ffmpeg, log);
        if (options.Ssv2)
        {
            SyntheticDatasetWriter.WriteSsv2Splits(Ssv2Dir(root), classes,
                [(SyntheticDatasetWriter.Ssv2TrainFile, options.TrainPerClass, 0), (SyntheticDatasetWriter.Ssv2ValidationFile, options.DevPerClass, 1), (Ssv2TestFile, options.TestPerClass, 2)],
                Render, options.Seed, options.Fps, options.Ffmpeg, log);
        }
        // The real stamp last: a run killed while writing leaves the incomplete one, so the next run writes the set again.
        AtomicFile.WriteAllText(stampPath, stamp);
        return true;
    }
}
