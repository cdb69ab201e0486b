using System.Globalization;

namespace VideoSSL.Training.Logging;

/// <summary>
/// Writes a TensorBoard event file (events.out.tfevents.&lt;unix-seconds&gt;.&lt;host&gt;.&lt;pid&gt;) with scalars and
/// PNG images, without TensorFlow. Records are appended as they come; call <see cref="Flush"/> to make them
/// visible to a running TensorBoard. Thread-safe.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly Func<double> _clock;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <param name="logDir">Folder for the event file; created if missing.</param>
    /// <param name="clock">Unix time in seconds for wall_time; the system clock when null (tests pass a fixed one).</param>
    public TensorBoardWriter(string logDir, Func<double>? clock = null)
    {
        _clock = clock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
        Directory.CreateDirectory(logDir);
        var start = _clock();
        var name = string.Create(CultureInfo.InvariantCulture, $"events.out.tfevents.{(long)Math.Floor(start)}.{Environment.MachineName}.{Environment.ProcessId}");
        // Two writers started in the same second by one process would collide: number the later ones.
        for (var attempt = 0; ; attempt++)
        {
            var path = Path.Combine(logDir, attempt == 0 ? name : string.Create(CultureInfo.InvariantCulture, $"{name}.{attempt}"));
            try
            {
                _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                FilePath = path;
                break;
            }
            catch (IOException) when (File.Exists(path) && attempt < 100)
            {
            }
        }
        Write(TensorBoardEvent.FileVersion(start));
        Flush();
    }

    public string FilePath { get; }

    public void AddScalar(string tag, float value, long step) =>
        Write(TensorBoardEvent.Scalar(_clock(), step, tag, value));

    /// <summary>Adds an image already encoded as PNG (see VideoSSL.Plots.PngWriter); width and height are its pixel size.</summary>
    public void AddImage(string tag, byte[] pngBytes, int width, int height, long step)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"image '{tag}' size {width}x{height} must be positive");
        }
        Write(TensorBoardEvent.Image(_clock(), step, tag, pngBytes, width, height));
    }

    public void Flush()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Flush();
        }
    }

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

    private void Write(byte[] eventBytes)
    {
        var record = TfRecord.Frame(eventBytes);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Write(record);
        }
    }
}
