using System.Text;
using System.Text.Json;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;

namespace VideoSSL.Data.Synthetic;

/// <summary>What to write: which classes, how many clips per class and split, clip format, seed.</summary>
public sealed record SyntheticDatasetOptions
{
    public SyntheticClipOptions Clip { get; init; } = new();

    public int TrainPerClass { get; init; } = 8;

    public int ValPerClass { get; init; } = 2;

    public int Seed { get; init; }

    /// <summary>Class ids from <see cref="SyntheticVideo.Classes"/>; null writes all of them.</summary>
    public IReadOnlyList<int>? ClassIds { get; init; }

    public string Ffmpeg { get; init; } = "ffmpeg";
}

/// <summary>
/// Writes synthetic clips as datasets in the two real layouts, so the real readers and decoders are what
/// read them back: Kinetics (official CSVs, H.264 mp4 in one folder per class) and Something-Something v2
/// (labels/train/validation JSON, VP9 webm named by id).
/// </summary>
public static class SyntheticDatasetWriter
{
    public const string Ssv2LabelsFile = "something-something-v2-labels.json";
    public const string Ssv2TrainFile = "something-something-v2-train.json";
    public const string Ssv2ValidationFile = "something-something-v2-validation.json";

    private const string YoutubeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>Bumped whenever <see cref="SyntheticVideo"/> draws different pixels for the same seed.</summary>
    public const int GeneratorVersion = 2;

    public const string StampFile = "synthetic.json";

    /// <summary>
    /// The Kinetics-layout set in <paramref name="outDir"/>, written unless a complete one with the same options and
    /// generator version is already there. A set left by an older generator or other options is rewritten rather than
    /// reused: its clips would silently differ from what the config describes.
    /// </summary>
    /// <returns>True when the set was (re)written.</returns>
    public static bool EnsureKinetics(string outDir, SyntheticDatasetOptions options, Action<string>? log = null)
    {
        string stampPath = Path.Combine(outDir, StampFile);
        string stamp = Stamp(options);
        bool complete = File.Exists(Path.Combine(outDir, "train.csv")) && File.Exists(Path.Combine(outDir, "val.csv"));
        bool stamped = File.Exists(stampPath);
        if (complete && stamped && File.ReadAllText(stampPath) == stamp)
        {
            return false;
        }
        if (stamped || complete)
        {
            // Sets written before the stamp existed have none; only a set whose classes are all synthetic ones is taken
            // for ours, so a data.root pointed at real data by mistake is never deleted.
            if (!stamped && !KineticsCsv.Read(Path.Combine(outDir, "train.csv"), Path.Combine(outDir, "train")).ClassNames
                    .All(name => SyntheticVideo.Classes.Any(c => c.Name == name)))
            {
                throw new IOException($"{outDir} holds a dataset VideoSSL did not write (no {StampFile}, classes that are not synthetic): point data.root at another folder for the synthetic set");
            }
            log?.Invoke($"the synthetic dataset in {outDir} is incomplete or was written by another generator version or other options ({stampPath}): writing it again");
            foreach (string split in new[] { "train", "val" })
            {
                File.Delete(Path.Combine(outDir, split + ".csv"));
                if (Directory.Exists(Path.Combine(outDir, split)))
                {
                    Directory.Delete(Path.Combine(outDir, split), recursive: true);
                }
            }
        }
        else if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
        {
            // An SSv2 folder, or Kinetics videos without both CSVs: writing there would mix synthetic clips into them.
            throw new IOException($"{outDir} is not empty and has no {StampFile}: the synthetic set is written only into an empty folder or one VideoSSL wrote; point data.root at another folder");
        }
        log?.Invoke($"writing the synthetic motion dataset to {outDir} ({ClassIds(options).Count} classes, {options.TrainPerClass}+{options.ValPerClass} clips per class, {options.Clip.Width}x{options.Clip.Height}, {options.Clip.Frames} frames)");
        // Marks the folder as ours before anything is written, so a run killed half-way is written again, not refused.
        Directory.CreateDirectory(outDir);
        AtomicFile.WriteAllText(stampPath, "{\"incomplete\": true}");
        WriteKinetics(outDir, options, log);
        AtomicFile.WriteAllText(stampPath, stamp);
        return true;
    }

    private static string Stamp(SyntheticDatasetOptions o) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["generator_version"] = GeneratorVersion,
        ["width"] = o.Clip.Width,
        ["height"] = o.Clip.Height,
        ["frames"] = o.Clip.Frames,
        ["fps"] = o.Clip.Fps,
        ["train_per_class"] = o.TrainPerClass,
        ["val_per_class"] = o.ValPerClass,
        ["seed"] = o.Seed,
        ["classes"] = ClassIds(o),
    });

    /// <summary>
    /// <c>{outDir}/train.csv</c>, <c>{outDir}/val.csv</c> and <c>{outDir}/{train|val}/{class name}/{youtube_id}_{start:06}_{end:06}.mp4</c>.
    /// Read back with <c>KineticsCsv.Read(outDir/train.csv, outDir/train)</c>.
    /// </summary>
    public static void WriteKinetics(string outDir, SyntheticDatasetOptions options, Action<string>? log = null)
    {
        IReadOnlyList<SyntheticClass> classes = [.. ClassIds(options).Select(id => SyntheticVideo.Classes[id])];
        WriteKineticsSplits(outDir, classes, [("train", options.TrainPerClass, 0), ("val", options.ValPerClass, 1)],
            (classId, seed) => SyntheticVideo.RenderFrames(classId, seed, options.Clip), options.Seed, options.Clip.Fps, options.Ffmpeg, log);
    }

    /// <summary>
    /// Kinetics layout for any generator: per split <c>{outDir}/{split}.csv</c> and
    /// <c>{outDir}/{split}/{class name}/{youtube_id}_{start:06}_{end:06}.mp4</c>; clip k of class c in split s is
    /// rendered from seed Derive(seed, s, c, k).
    /// </summary>
    internal static void WriteKineticsSplits(string outDir, IReadOnlyList<SyntheticClass> classes, IReadOnlyList<(string Split, int PerClass, int SplitId)> splits,
        Func<int, int, Clip> render, int seed, int fps, string ffmpeg, Action<string>? log)
    {
        foreach ((string split, int perClass, int splitId) in splits)
        {
            var csv = new StringBuilder("label,youtube_id,time_start,time_end,split\n");
            foreach (SyntheticClass cls in classes)
            {
                string folder = Path.Combine(outDir, split, cls.Name);
                Directory.CreateDirectory(folder);
                for (int k = 0; k < perClass; k++)
                {
                    int clipSeed = Seeds.Derive(seed, splitId, cls.Id, k);
                    var naming = new Random(clipSeed ^ 0x3C6EF372);
                    string youtubeId = string.Create(11, naming, (span, r) =>
                    {
                        for (int i = 0; i < span.Length; i++)
                        {
                            span[i] = YoutubeAlphabet[r.Next(YoutubeAlphabet.Length)];
                        }
                    });
                    int start = naming.Next(0, 300);
                    int end = start + 10;
                    Clip clip = render(cls.Id, clipSeed);
                    FfmpegEncoder.Encode(clip, fps, Path.Combine(folder, KineticsCsv.FileName(youtubeId, start, end)), VideoCodec.H264Mp4, ffmpeg);
                    csv.Append(CsvField(cls.Name)).Append(',').Append(youtubeId).Append(',')
                        .Append(start).Append(',').Append(end).Append(',').Append(split).Append('\n');
                }
            }
            AtomicFile.WriteAllText(Path.Combine(outDir, split + ".csv"), csv.ToString());
            log?.Invoke($"wrote {split}: {classes.Count} classes x {perClass} clips to {outDir}");
        }
    }

    /// <summary>
    /// <c>{outDir}/something-something-v2-{labels,train,validation}.json</c> and <c>{outDir}/videos/{id}.webm</c>.
    /// Read back with <c>Ssv2Json.Read(labels, train, outDir/videos)</c>.
    /// </summary>
    public static void WriteSsv2(string outDir, SyntheticDatasetOptions options, Action<string>? log = null)
    {
        IReadOnlyList<SyntheticClass> classes = [.. ClassIds(options).Select(id => SyntheticVideo.Classes[id])];
        WriteSsv2Splits(outDir, classes, [(Ssv2TrainFile, options.TrainPerClass, 0), (Ssv2ValidationFile, options.ValPerClass, 1)],
            (classId, seed) => SyntheticVideo.RenderFrames(classId, seed, options.Clip), options.Seed, options.Clip.Fps, options.Ffmpeg, log);
    }

    /// <summary>SSv2 layout for any generator: the labels file, one split JSON per entry of <paramref name="splits"/> (with templates), webm videos numbered across splits.</summary>
    internal static void WriteSsv2Splits(string outDir, IReadOnlyList<SyntheticClass> classes, IReadOnlyList<(string File, int PerClass, int SplitId)> splits,
        Func<int, int, Clip> render, int seed, int fps, string ffmpeg, Action<string>? log)
    {
        string videos = Path.Combine(outDir, "videos");
        Directory.CreateDirectory(videos);

        var labels = new Dictionary<string, string>();
        for (int i = 0; i < classes.Count; i++)
        {
            labels[Ssv2Json.TemplateToClass(classes[i].Template)] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        WriteJson(Path.Combine(outDir, Ssv2LabelsFile), labels);

        int nextId = 1;
        foreach ((string file, int perClass, int splitId) in splits)
        {
            var entries = new List<Dictionary<string, object>>();
            foreach (SyntheticClass cls in classes)
            {
                string thing = cls.Template[(cls.Template.IndexOf('[', StringComparison.Ordinal) + 1)..cls.Template.IndexOf(']', StringComparison.Ordinal)];
                for (int k = 0; k < perClass; k++)
                {
                    string id = (nextId++).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    int clipSeed = Seeds.Derive(seed, splitId, cls.Id, k);
                    Clip clip = render(cls.Id, clipSeed);
                    FfmpegEncoder.Encode(clip, fps, Path.Combine(videos, id + Ssv2Json.VideoExtension), VideoCodec.Vp9Webm, ffmpeg);
                    entries.Add(new Dictionary<string, object>
                    {
                        ["id"] = id,
                        ["label"] = cls.Template.Replace("[", "", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal).ToLowerInvariant(),
                        ["template"] = cls.Template,
                        ["placeholders"] = new[] { thing },
                    });
                }
            }
            WriteJson(Path.Combine(outDir, file), entries);
            log?.Invoke($"wrote {file}: {classes.Count} classes x {perClass} clips to {videos}");
        }
    }

    private static IReadOnlyList<int> ClassIds(SyntheticDatasetOptions options)
    {
        IReadOnlyList<int> ids = options.ClassIds ?? [.. Enumerable.Range(0, SyntheticVideo.Classes.Count)];
        foreach (int id in ids)
        {
            if (id < 0 || id >= SyntheticVideo.Classes.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(options), id, $"synthetic classes are 0..{SyntheticVideo.Classes.Count - 1}");
            }
        }
        if (ids.Distinct().Count() != ids.Count)
        {
            throw new ArgumentException("class ids repeat", nameof(options));
        }
        return ids;
    }

    private static string CsvField(string value) =>
        value.Contains(',', StringComparison.Ordinal) || value.Contains('"', StringComparison.Ordinal)
            ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : value;

    private static void WriteJson<T>(string path, T value) =>
        AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(value, new JsonSerializerOptions { WriteIndented = true }));
}
