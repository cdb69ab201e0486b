using System.Text.Json;

namespace VideoSSL.Plots;

/// <summary>One line of metrics.jsonl: its numeric values (null and "NaN"/"Infinity" strings read as non-finite).</summary>
public sealed class MetricsRecord
{
    internal MetricsRecord(int lineNumber, Dictionary<string, double> values)
    {
        LineNumber = lineNumber;
        Values = values;
    }

    /// <summary>1-based line in the file, for messages.</summary>
    public int LineNumber { get; }

    public IReadOnlyDictionary<string, double> Values { get; }

    public bool Has(string key) => Values.ContainsKey(key);

    /// <summary>The value, or NaN when the key is absent.</summary>
    public double Get(string key) => Values.TryGetValue(key, out var v) ? v : double.NaN;
}

/// <summary>Reads metrics.jsonl as MetricsWriter writes it: one JSON object per line.</summary>
public static class MetricsLog
{
    /// <summary>
    /// Reads every line. A last line that does not parse is skipped: it is what a run killed mid-write leaves.
    /// A bad line anywhere else is an error naming the file and line.
    /// </summary>
    public static IReadOnlyList<MetricsRecord> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"metrics file '{path}' does not exist", path);
        }
        // FileShare.ReadWrite: plots are regenerated while the training process still appends.
        string[] lines;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream))
        {
            lines = reader.ReadToEnd().Split('\n');
        }
        var last = Array.FindLastIndex(lines, l => l.Trim().Length > 0);
        var records = new List<MetricsRecord>();
        for (var i = 0; i <= last; i++)
        {
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }
            try
            {
                records.Add(Parse(lines[i], i + 1));
            }
            catch (JsonException) when (i == last)
            {
                // Truncated final line: skip it.
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{i + 1}: not a JSON object ({e.Message})", e);
            }
        }
        return records;
    }

    private static MetricsRecord Parse(string line, int lineNumber)
    {
        using var document = JsonDocument.Parse(line);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"expected an object, found {document.RootElement.ValueKind}");
        }
        var values = new Dictionary<string, double>();
        foreach (var property in document.RootElement.EnumerateObject())
        {
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.Number:
                    values[property.Name] = property.Value.GetDouble();
                    break;
                case JsonValueKind.Null:
                    values[property.Name] = double.NaN;
                    break;
                case JsonValueKind.String when TryParseNonFinite(property.Value.GetString(), out var v):
                    values[property.Name] = v;
                    break;
                default:
                    break; // strings, flags and nested objects are not plotted
            }
        }
        return new MetricsRecord(lineNumber, values);
    }

    private static bool TryParseNonFinite(string? text, out double value)
    {
        switch (text)
        {
            case "NaN" or "nan":
                value = double.NaN;
                return true;
            case "Infinity" or "+Infinity" or "inf":
                value = double.PositiveInfinity;
                return true;
            case "-Infinity" or "-inf":
                value = double.NegativeInfinity;
                return true;
            default:
                value = 0;
                return false;
        }
    }
}
