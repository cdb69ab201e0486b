using System.Globalization;
using System.Text.Json;

namespace VideoSSL.Data.Datasets;

/// <summary>
/// Reads Something-Something v2: the labels file (template → class id string) and a split file (array of
/// <c>{"id", "label", "template", "placeholders"}</c>). The class of an entry is its template with the square
/// brackets removed ("Holding [something] next to [something]" → "Holding something next to something").
/// Test files carry only ids; their samples get label -1. Videos are <c>{id}.webm</c> under the root.
/// </summary>
public static class Ssv2Json
{
    public const string VideoExtension = ".webm";

    public static VideoDataset Read(string labelsPath, string splitPath, string videoRoot, Action<string>? log = null)
    {
        Dictionary<string, int> classIndex = ReadLabels(labelsPath);
        var annotated = new List<VideoSample>();
        (int Line, string Id)? firstWith = null, firstWithout = null;
        foreach ((int line, JsonElement entry) in ReadArray(splitPath))
        {
            if (entry.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{splitPath}:{line}: expected an object with \"id\"");
            }
            string id = entry.TryGetProperty("id", out JsonElement idElement) ? ScalarText(idElement) ?? "" : "";
            if (id.Length == 0)
            {
                throw new InvalidDataException($"{splitPath}:{line}: entry has no \"id\"");
            }
            int label = -1;
            string? className = null;
            if (entry.TryGetProperty("template", out JsonElement template))
            {
                if (template.ValueKind != JsonValueKind.String)
                {
                    throw new InvalidDataException($"{splitPath}:{line}: \"template\" of id {id} is not a string");
                }
                className = TemplateToClass(template.GetString()!);
                if (!classIndex.TryGetValue(className, out label))
                {
                    throw new InvalidDataException($"{splitPath}:{line}: template '{template.GetString()}' of id {id} is not in {labelsPath}");
                }
            }
            if (className is null)
            {
                firstWithout ??= (line, id);
            }
            else
            {
                firstWith ??= (line, id);
            }
            // A test split has no templates at all; one entry without among labelled ones would become class -1.
            if (firstWith is { } labelled && firstWithout is { } bare)
            {
                throw new InvalidDataException(
                    $"{splitPath}:{bare.Line}: entry id {bare.Id} has no \"template\" while entry id {labelled.Id} (line {labelled.Line}) has one; every entry of a training or validation split needs its template");
            }
            annotated.Add(new VideoSample(Path.Combine(videoRoot, id + VideoExtension), label, id, className));
        }
        return VideoDataset.FromAnnotations(annotated, classIndex, splitPath, log);
    }

    /// <summary>"Pushing [something] from left to right" → "Pushing something from left to right".</summary>
    public static string TemplateToClass(string template) => template.Replace("[", "", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal);

    public static Dictionary<string, int> ReadLabels(string labelsPath)
    {
        byte[] bytes = ReadBytes(labelsPath);
        var index = new Dictionary<string, int>();
        var ids = new Dictionary<int, string>();
        var lines = new LineCounter(bytes);
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new InvalidDataException($"{labelsPath}:1: expected a JSON object mapping template → class id");
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int line = lines.LineAt(reader.TokenStartIndex);
                string name = TemplateToClass(reader.GetString()!);
                reader.Read();
                string? text = reader.TokenType switch
                {
                    JsonTokenType.String => reader.GetString(),
                    JsonTokenType.Number => reader.GetInt64().ToString(CultureInfo.InvariantCulture),
                    _ => null,
                };
                if (text is null || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                {
                    throw new InvalidDataException($"{labelsPath}:{line}: class id of '{name}' is not a non-negative integer");
                }
                if (ids.TryGetValue(id, out string? other))
                {
                    throw new InvalidDataException($"{labelsPath}:{line}: class id {id} used by both '{other}' and '{name}'");
                }
                if (!index.TryAdd(name, id))
                {
                    throw new InvalidDataException($"{labelsPath}:{line}: template '{name}' appears twice");
                }
                ids[id] = name;
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{labelsPath}:{(e.LineNumber ?? 0) + 1}: invalid JSON: {e.Message}", e);
        }
        return index;
    }

    /// <summary>The elements of a top-level JSON array, each with the 1-based line it starts on.</summary>
    private static List<(int Line, JsonElement Element)> ReadArray(string path)
    {
        byte[] bytes = ReadBytes(path);
        var lines = new LineCounter(bytes);
        var result = new List<(int, JsonElement)>();
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (LooksLikeCsv(bytes))
            {
                throw new InvalidDataException($"{path}: looks like a CSV (Kinetics annotations?), not an SSv2 split JSON (an array of {{\"id\", \"template\", ...}}); for a Kinetics CSV use data.format kinetics");
            }
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                throw new InvalidDataException($"{path}:1: expected a JSON array of entries");
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int line = lines.LineAt(reader.TokenStartIndex);
                using JsonDocument doc = JsonDocument.ParseValue(ref reader);
                result.Add((line, doc.RootElement.Clone()));
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{(e.LineNumber ?? 0) + 1}: invalid JSON: {e.Message}", e);
        }
        return result;
    }

    // Text whose first line has commas and no JSON bracket: what a Kinetics CSV or a list file looks like.
    private static bool LooksLikeCsv(byte[] bytes)
    {
        int end = Array.IndexOf(bytes, (byte)'\n');
        var first = System.Text.Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end).Trim();
        return first.Length > 0 && first[0] is not ('[' or '{') && first.Contains(',', StringComparison.Ordinal);
    }

    private static string? ScalarText(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.GetRawText(),
        _ => null,
    };

    private static byte[] ReadBytes(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"annotation file not found: {path}", path);
        }
        byte[] bytes = File.ReadAllBytes(path);
        // Utf8JsonReader rejects a byte order mark.
        return bytes.AsSpan().StartsWith("\uFEFF"u8) ? bytes[3..] : bytes;
    }

    /// <summary>Maps byte offsets to line numbers for readers scanning forward.</summary>
    private sealed class LineCounter(byte[] bytes)
    {
        private long _offset;
        private int _line = 1;

        public int LineAt(long offset)
        {
            for (; _offset < offset && _offset < bytes.Length; _offset++)
            {
                if (bytes[_offset] == (byte)'\n')
                {
                    _line++;
                }
            }
            return _line;
        }
    }
}
