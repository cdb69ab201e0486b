using System.Globalization;
using System.Runtime.InteropServices;

namespace VideoSSL.Cli;

/// <summary>
/// Load-independent measures of this process for benchmarks on a shared machine: CPU time (all threads, ns
/// resolution) and page faults, read the way tools/reference/*.py read them (process_time, /proc/self/stat).
/// </summary>
internal static partial class ProcessStats
{
    private const int ClockProcessCpuTime = 2; // CLOCK_PROCESS_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    /// <summary>CPU time of all threads of this process, in milliseconds.</summary>
    public static double CpuMilliseconds()
    {
        if (!OperatingSystem.IsLinux() || ClockGetTime(ClockProcessCpuTime, out var t) != 0)
        {
            return Environment.CpuUsage.TotalTime.TotalMilliseconds;
        }
        return (t.Seconds * 1e3) + (t.Nanoseconds / 1e6);
    }

    /// <summary>Minor and major page faults so far (fields 10 and 12 of /proc/self/stat); zeros where there is none.</summary>
    public static (long Minor, long Major) PageFaults()
    {
        try
        {
            var text = File.ReadAllText("/proc/self/stat");
            // The command name (field 2) may hold spaces; the fields after it are space-separated.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[7], CultureInfo.InvariantCulture), long.Parse(fields[9], CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            return (0, 0);
        }
        catch (UnauthorizedAccessException)
        {
            return (0, 0);
        }
    }
}
