using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace VideoSSL.Training;

/// <summary>
/// An OS lock on RUN/.lock held for the life of a run, so a second process (a run plus a --resume, or two --resumes)
/// is refused instead of interleaving metrics and checkpoints. The lock is .NET's exclusive open (flock(LOCK_EX) on
/// Unix, a share-none handle on Windows), so the kernel releases it when the holder dies, however it dies; the file
/// holds the holder's PID for the message, and a stale file left by a killed run is simply taken over.
/// </summary>
public sealed partial class RunLock : IDisposable
{
    public const string FileName = ".lock";

    private readonly FileStream _stream;

    private RunLock(FileStream stream, string path)
    {
        _stream = stream;
        Path = path;
    }

    public string Path { get; }

    /// <exception cref="IOException">Another process (or another open in this one) holds the folder; the message names its PID.</exception>
    public static RunLock Acquire(string runDir)
    {
        var path = System.IO.Path.Combine(runDir, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            var holder = HolderPid(path);
            throw new IOException($"run folder {runDir} is in use by {(holder is { } pid ? $"PID {pid}" : "another process")}: wait for it to finish or stop it, or choose another --run-dir", e);
        }
        var text = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        stream.SetLength(0);
        stream.Write(text);
        stream.Flush(flushToDisk: false);
        return new RunLock(stream, path);
    }

    /// <summary>The PID written by the process holding <paramref name="lockPath"/>, or null when unknown.</summary>
    public static int? HolderPid(string lockPath)
    {
        string text;
        try
        {
            // .NET's own open would ask for a shared flock and be refused while the holder's exclusive one stands.
            text = OperatingSystem.IsWindows() ? File.ReadAllText(lockPath) : ReadWithoutLocking(lockPath);
        }
        catch (IOException)
        {
            return null;
        }
        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    public void Dispose() => _stream.Dispose();

    private static string ReadWithoutLocking(string path)
    {
        var fd = Open(path, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"cannot open {path}");
        }
        try
        {
            var buffer = new byte[32];
            var n = Read(fd, buffer, buffer.Length);
            return n > 0 ? Encoding.ASCII.GetString(buffer, 0, (int)n) : string.Empty;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read")]
    private static partial nint Read(int fd, [Out] byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
