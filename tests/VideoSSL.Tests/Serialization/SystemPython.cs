using System.Diagnostics;

namespace VideoSSL.Tests.Serialization;

/// <summary>
/// Runs /usr/bin/python3 (the interpreter with torch 1.13, a declared dev dependency) to make and check fixtures.
/// A missing interpreter or torch fails the test loudly: these tests must never pass by skipping their checks.
/// </summary>
internal static class SystemPython
{
    public const string Executable = "/usr/bin/python3";

    public static string Run(string script, params string[] args) => Run(script, requireTorch: false, args);

    public static string RunWithTorch(string script, params string[] args) =>
        Run("try:\n    import torch\nexcept ImportError as e:\n    import sys\n    print('TORCH_MISSING', e, file=sys.stderr)\n    sys.exit(3)\n" + script,
            requireTorch: true, args);

    private static string Run(string script, bool requireTorch, string[] args)
    {
        if (!File.Exists(Executable))
        {
            throw new InvalidOperationException($"{Executable} is missing; the serialization tests need it (with torch 1.13) to build fixtures");
        }
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Executable} did not finish within 120 s");
        }
        string errors = stderr.Result;
        if (requireTorch && process.ExitCode == 3 && errors.Contains("TORCH_MISSING", StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"{Executable} cannot import torch ({errors.Trim()}); torch 1.13 for the system Python is a declared dev dependency of these tests");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Executable} failed with exit code {process.ExitCode}:\n{errors}");
        }
        return stdout;
    }
}

/// <summary>A temporary folder removed with the test (class).</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "videossl-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
