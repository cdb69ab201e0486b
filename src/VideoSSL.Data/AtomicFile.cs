namespace VideoSSL.Data;

/// <summary>Writes files through a temporary sibling and a rename, so a crash never leaves half a file.</summary>
public static class AtomicFile
{
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        string temp = TempPath(path);
        File.WriteAllBytes(temp, bytes.ToArray());
        File.Move(temp, path, overwrite: true);
    }

    public static void WriteAllText(string path, string text)
    {
        string temp = TempPath(path);
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    public static string TempPath(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }
        return path + $".tmp{Environment.ProcessId}.{Guid.NewGuid():N}";
    }
}
