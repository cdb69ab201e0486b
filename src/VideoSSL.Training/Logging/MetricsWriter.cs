using System.Text.Json;

namespace VideoSSL.Training.Logging;

/// <summary>
/// Appends one JSON object per line to metrics.jsonl, keys in the order given, flushed per line so a killed run
/// loses at most the line being written. Non-finite floats are written as null (JSON has no NaN;
/// VideoSSL.Plots.MetricsLog reads null back as NaN, as pandas does). Thread-safe.
/// </summary>
public sealed class MetricsWriter : IDisposable
{
    private static readonly JsonWriterOptions s_options = new() { Indented = false, SkipValidation = false };

    private readonly FileStream _stream;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <param name="path">The metrics.jsonl file; its folder is created if missing.</param>
    /// <param name="append">Continue an existing file (a resumed run) rather than start a new one.</param>
    public MetricsWriter(string path, bool append = true)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        FilePath = path;
        _stream = new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read);
    }

    public string FilePath { get; }

    /// <summary>Writes one line, e.g. <c>Write(("step", 10), ("epoch", 0), ("train/loss", 0.61))</c>.</summary>
    public void Write(params ReadOnlySpan<(string Key, object? Value)> fields)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, s_options))
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            json.WriteStartObject();
            foreach (var (key, value) in fields)
            {
                if (!seen.Add(key))
                {
                    throw new ArgumentException($"metrics key '{key}' appears twice in one line", nameof(fields));
                }
                json.WritePropertyName(key);
                WriteValue(json, key, value);
            }
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // One write per line, then flush, so a reader (or a crash) sees whole lines.
            _stream.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            _stream.Flush();
        }
    }

    /// <summary>Writes one line from key/value pairs, in their enumeration order.</summary>
    public void Write(IEnumerable<KeyValuePair<string, object?>> fields) =>
        Write([.. fields.Select(kv => (kv.Key, kv.Value))]);

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _stream.Dispose();
        }
    }

    private static void WriteValue(Utf8JsonWriter json, string key, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case double d when !double.IsFinite(d):
                json.WriteNullValue();
                break;
            case float f when !float.IsFinite(f):
                json.WriteNullValue();
                break;
            case double d:
                json.WriteNumberValue(d);
                break;
            case float f:
                // The float overload prints the shortest float that round-trips: 0.61f as 0.61, not 0.6100000143051147.
                json.WriteNumberValue(f);
                break;
            case int i:
                json.WriteNumberValue(i);
                break;
            case long l:
                json.WriteNumberValue(l);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            default:
                throw new ArgumentException($"metrics key '{key}' has a value of type {value.GetType().Name}; use double, float, int, long, bool or string", nameof(value));
        }
    }
}
