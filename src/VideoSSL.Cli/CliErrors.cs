using VideoSSL.Data.Video;

namespace VideoSSL.Cli;

/// <summary>Turns the errors bad input is expected to cause into one line on stderr and exit code 1, without a stack trace.</summary>
internal static class CliErrors
{
    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsExpected(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    // Everything here names the offending file, option or value in its message; anything else is a bug and keeps its trace.
    private static bool IsExpected(Exception e) => e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException
        or VideoDecodeException or ArgumentException or DllNotFoundException or UnauthorizedAccessException or IOException
        or FormatException or InvalidOperationException;
}
