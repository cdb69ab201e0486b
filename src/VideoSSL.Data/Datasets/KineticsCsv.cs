using System.Globalization;

namespace VideoSSL.Data.Datasets;

/// <summary>
/// Reads the official Kinetics-400/600/700 annotation CSVs (<c>label,youtube_id,time_start,time_end,split</c>,
/// Kinetics-700 adds <c>is_cc</c>; test CSVs have no <c>label</c>). Videos are named
/// <c>{youtube_id}_{time_start:06}_{time_end:06}.mp4</c> and lie either flat under the root or in one folder
/// per class, named as the label or with spaces replaced by '_'; each sample takes the first that exists.
/// </summary>
public static class KineticsCsv
{
    public const string VideoExtension = ".mp4";

    /// <param name="classIndex">
    /// The training split's class index when reading a validation or test split; null builds one from the
    /// labels of this file (sorted names → 0..K-1, the order every Kinetics codebase uses).
    /// </param>
    public static VideoDataset Read(string csvPath, string videoRoot, IReadOnlyDictionary<string, int>? classIndex = null, Action<string>? log = null)
    {
        if (File.Exists(csvPath) && LooksLikeJson(csvPath))
        {
            throw new InvalidDataException($"{csvPath}: looks like JSON (an SSv2 split or labels file?), not a Kinetics CSV (label,youtube_id,time_start,time_end,split); for SSv2 use data.format ssv2");
        }
        List<CsvRecord> records = CsvReader.ReadFile(csvPath);
        if (records.Count == 0)
        {
            throw new InvalidDataException($"{csvPath}:1: empty file, expected a header 'label,youtube_id,time_start,time_end,split'");
        }
        IReadOnlyList<string> header = records[0].Fields;
        int labelCol = Column(header, "label");
        int idCol = Column(header, "youtube_id");
        int startCol = Column(header, "time_start");
        int endCol = Column(header, "time_end");
        if (idCol < 0 || startCol < 0 || endCol < 0)
        {
            throw new InvalidDataException(
                $"{csvPath}:{records[0].Line}: header '{string.Join(",", header)}' lacks youtube_id, time_start or time_end");
        }

        var rows = new List<(int Line, string? Label, string Id)>(records.Count - 1);
        for (int r = 1; r < records.Count; r++)
        {
            CsvRecord record = records[r];
            if (record.Fields.Count != header.Count)
            {
                throw new InvalidDataException(
                    $"{csvPath}:{record.Line}: {record.Fields.Count} fields, the header has {header.Count}");
            }
            string youtubeId = record.Fields[idCol].Trim();
            if (youtubeId.Length == 0)
            {
                throw new InvalidDataException($"{csvPath}:{record.Line}: empty youtube_id");
            }
            int start = ParseTime(record.Fields[startCol], csvPath, record.Line, "time_start");
            int end = ParseTime(record.Fields[endCol], csvPath, record.Line, "time_end");
            string? label = labelCol >= 0 ? record.Fields[labelCol].Trim() : null;
            if (label is { Length: 0 })
            {
                throw new InvalidDataException($"{csvPath}:{record.Line}: empty label");
            }
            rows.Add((record.Line, label, $"{youtubeId}_{start:D6}_{end:D6}"));
        }

        IReadOnlyDictionary<string, int> index = classIndex ?? BuildClassIndex(rows.Select(r => r.Label));
        var annotated = new List<VideoSample>(rows.Count);
        foreach ((int line, string? label, string id) in rows)
        {
            int labelId = -1;
            if (label is not null && !index.TryGetValue(label, out labelId))
            {
                throw new InvalidDataException($"{csvPath}:{line}: label '{label}' is not in the class index ({index.Count} classes)");
            }
            annotated.Add(new VideoSample(FindVideo(videoRoot, label, id), labelId, id, label));
        }
        return VideoDataset.FromAnnotations(annotated, index, csvPath, log);
    }

    /// <summary>Sorted distinct names → 0..K-1 (ordinal order, so it does not depend on the culture).</summary>
    public static Dictionary<string, int> BuildClassIndex(IEnumerable<string?> labels)
    {
        var names = labels.OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();
        var index = new Dictionary<string, int>(names.Count);
        for (int i = 0; i < names.Count; i++)
        {
            index[names[i]] = i;
        }
        return index;
    }

    /// <summary>The file name the official download scripts give a clip.</summary>
    public static string FileName(string youtubeId, int timeStart, int timeEnd) => $"{youtubeId}_{timeStart:D6}_{timeEnd:D6}{VideoExtension}";

    private static string FindVideo(string root, string? label, string id)
    {
        string file = id + VideoExtension;
        string flat = Path.Combine(root, file);
        if (label is null || File.Exists(flat))
        {
            return flat;
        }
        string byClass = Path.Combine(root, label, file);
        if (File.Exists(byClass))
        {
            return byClass;
        }
        string underscored = Path.Combine(root, label.Replace(' ', '_'), file);
        if (File.Exists(underscored))
        {
            return underscored;
        }
        // Not found anywhere: report the per-class path, the layout most copies use.
        return byClass;
    }

    private static bool LooksLikeJson(string path)
    {
        using var reader = new StreamReader(path);
        int c;
        while ((c = reader.Read()) >= 0 && char.IsWhiteSpace((char)c))
        {
        }
        return c is '[' or '{';
    }

    private static int Column(IReadOnlyList<string> header, string name)
    {
        for (int i = 0; i < header.Count; i++)
        {
            if (string.Equals(header[i].Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }

    private static int ParseTime(string text, string file, int line, string column)
    {
        // Some re-exported CSVs write times as floats ("10.0"); the file name uses the integer part.
        if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            && value >= 0 && value < 1e6 && value == Math.Floor(value))
        {
            return (int)value;
        }
        throw new InvalidDataException($"{file}:{line}: {column} '{text}' is not a whole number of seconds");
    }
}
