using System.Text.Json;

namespace VideoSSL.Data.Datasets;

/// <summary>
/// The videos of one split that exist on disk, with the class-name → id map that gives their labels.
/// Copies of Kinetics always lack a few percent of their videos, so missing files are reported, kept in
/// <see cref="Missing"/>, and left out, rather than thrown.
/// </summary>
public sealed class VideoDataset
{
    private static readonly JsonSerializerOptions s_jsonOptions = new() { WriteIndented = true };

    public VideoDataset(IReadOnlyList<VideoSample> samples, IReadOnlyDictionary<string, int> classIndex, IReadOnlyList<VideoSample>? missing = null)
    {
        Samples = samples;
        ClassIndex = classIndex;
        Missing = missing ?? [];
    }

    public IReadOnlyList<VideoSample> Samples { get; }

    /// <summary>Class name → class id. Save it with a run so evaluation uses the ids training used.</summary>
    public IReadOnlyDictionary<string, int> ClassIndex { get; }

    /// <summary>Samples named by the annotations whose file was not found.</summary>
    public IReadOnlyList<VideoSample> Missing { get; }

    public int Count => Samples.Count;

    /// <summary>The annotation file the samples come from (for messages).</summary>
    public string Source { get; init; } = "dataset";

    public int ClassCount => ClassIndex.Count;

    public VideoSample this[int index] => Samples[index];

    /// <summary>Class names ordered by id.</summary>
    public IReadOnlyList<string> ClassNames => [.. ClassIndex.OrderBy(kv => kv.Value).Select(kv => kv.Key)];

    /// <summary>Keeps the samples whose file exists and reports the rest through <paramref name="log"/>.</summary>
    public static VideoDataset FromAnnotations(
        IReadOnlyList<VideoSample> annotated, IReadOnlyDictionary<string, int> classIndex, string source, Action<string>? log = null)
    {
        var present = new List<VideoSample>(annotated.Count);
        var missing = new List<VideoSample>();
        foreach (VideoSample sample in annotated)
        {
            (File.Exists(sample.Path) ? present : missing).Add(sample);
        }
        if (missing.Count > 0)
        {
            log?.Invoke(MissingReport(source, annotated.Count, missing));
        }
        return new VideoDataset(present, classIndex, missing) { Source = source };
    }

    /// <summary>
    /// Missing files count toward the share of videos allowed to fail (<paramref name="key"/>, e.g. data.max_failed_share):
    /// throws when nothing is on disk or more than that share is missing, else returns the share of the present videos
    /// that may still fail to decode.
    /// </summary>
    public double FailureBudget(double maxFailedShare, string key = "data.max_failed_share")
    {
        int total = Count + Missing.Count;
        string first = string.Join(", ", Missing.Take(3).Select(s => s.Path)) + (Missing.Count > 3 ? ", ..." : "");
        if (Count == 0)
        {
            throw new InvalidDataException(total == 0
                ? $"{Source}: no videos annotated"
                : $"{Source}: none of the {total} annotated videos is on disk (e.g. {first})");
        }
        double allowed = maxFailedShare * total;
        if (Missing.Count > allowed)
        {
            throw new InvalidDataException(
                $"{Source}: {Missing.Count} of {total} annotated videos are not on disk ({100.0 * Missing.Count / total:F1}%), more than {key} = {maxFailedShare} allows: {first}");
        }
        return Math.Clamp((allowed - Missing.Count) / Count, 0, 1);
    }

    /// <summary>Throws unless every sample has a class (a test split without labels cannot train or be scored).</summary>
    public void RequireLabels()
    {
        var unlabeled = Samples.Where(s => s.Label < 0).ToList();
        if (unlabeled.Count > 0)
        {
            throw new InvalidDataException(
                $"{Source}: {unlabeled.Count} of {Count} videos have no label (first: {unlabeled[0].Name}); a test split without labels cannot train or be scored");
        }
    }

    internal static string MissingReport(string source, int total, IReadOnlyList<VideoSample> missing)
    {
        string first = string.Join(", ", missing.Take(5).Select(s => s.Path));
        string more = missing.Count > 5 ? $", ... ({missing.Count - 5} more)" : "";
        return $"{source}: {missing.Count} of {total} videos not found ({100.0 * missing.Count / total:F1}%): {first}{more}";
    }

    /// <summary>Writes the class index as a JSON object (name → id), atomically.</summary>
    public void SaveClassIndex(string path) => SaveClassIndex(ClassIndex, path);

    public static void SaveClassIndex(IReadOnlyDictionary<string, int> classIndex, string path)
    {
        var ordered = new SortedDictionary<int, string>();
        foreach ((string name, int id) in classIndex)
        {
            ordered.Add(id, name);
        }
        // Written id-ordered so the file reads like a class list.
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            foreach ((int id, string name) in ordered)
            {
                writer.WriteNumber(name, id);
            }
            writer.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(path, stream.ToArray());
    }

    public static Dictionary<string, int> LoadClassIndex(string path)
    {
        Dictionary<string, int>? index;
        try
        {
            index = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(path), s_jsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{(e.LineNumber ?? 0) + 1}: not a class index (JSON object of name → id): {e.Message}", e);
        }
        if (index is null)
        {
            throw new InvalidDataException($"{path}: class index is null");
        }
        var seen = new HashSet<int>();
        foreach ((string name, int id) in index)
        {
            if (id < 0 || !seen.Add(id))
            {
                throw new InvalidDataException($"{path}: class '{name}' has a negative or repeated id {id}");
            }
        }
        return index;
    }
}
