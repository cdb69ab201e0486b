using System.Diagnostics;
using System.Globalization;
using System.Text;
using VideoSSL.Torch.Native;

namespace VideoSSL.Torch;

/// <summary>One operator's totals from <see cref="Profiling.StopOps"/>: as torch.autograd.profiler's key_averages().</summary>
public sealed record OpProfile(string Name, long Count, double SelfMicroseconds, double TotalMicroseconds);

/// <summary>
/// Where a step's time goes. Phases: code marks regions with <c>using (Profiling.Phase("encoder"))</c>, which
/// costs one static read while no profile is running; nested phases are counted exclusively (an "encoder"
/// inside a "forward" is not counted twice). Ops: libtorch's RecordFunction observers, installed by the shim,
/// time every dispatcher call and autograd node on every thread.
/// </summary>
public static class Profiling
{
    // Per thread: a step runs on one thread, and a profile on one thread must not see another's phases.
    [ThreadStatic]
    private static Dictionary<string, double>? t_phases;
    [ThreadStatic]
    private static Stack<PhaseFrame>? t_stack;

    private sealed class PhaseFrame(string name, long start)
    {
        public string Name { get; } = name;
        public long Start { get; } = start;
        public long Children { get; set; }
    }

    /// <summary>True on this thread between <see cref="StartPhases"/> and <see cref="StopPhases"/>.</summary>
    public static bool PhasesEnabled => t_phases is not null;

    /// <summary>Starts accumulating this thread's phase times (milliseconds, exclusive of nested phases).</summary>
    public static void StartPhases()
    {
        t_phases = new Dictionary<string, double>(StringComparer.Ordinal);
        t_stack = new Stack<PhaseFrame>();
    }

    /// <summary>Accumulated exclusive milliseconds per phase since <see cref="StartPhases"/>; stops collecting.</summary>
    public static Dictionary<string, double> StopPhases()
    {
        var result = t_phases ?? new Dictionary<string, double>(StringComparer.Ordinal);
        t_phases = null;
        t_stack = null;
        return result;
    }

    /// <summary>Marks a region as one phase of a step until the returned scope is disposed.</summary>
    public static PhaseScope Phase(string name)
    {
        if (t_phases is null)
        {
            return default;
        }
        t_stack!.Push(new PhaseFrame(name, Stopwatch.GetTimestamp()));
        return new PhaseScope(true);
    }

    internal static void EndPhase()
    {
        var phases = t_phases;
        var stack = t_stack;
        if (phases is null || stack is null || stack.Count == 0)
        {
            return;
        }
        var frame = stack.Pop();
        var elapsed = Stopwatch.GetTimestamp() - frame.Start;
        if (stack.Count > 0)
        {
            stack.Peek().Children += elapsed;
        }
        var exclusive = (elapsed - frame.Children) * 1000.0 / Stopwatch.Frequency;
        phases[frame.Name] = phases.GetValueOrDefault(frame.Name) + exclusive;
    }

    /// <summary>
    /// Starts timing every libtorch operator and autograd node (all threads) until <see cref="StopOps"/>. With
    /// <paramref name="byCaller"/>, rows are "caller &gt; op" (the enclosing op or node, "(top)" for direct calls).
    /// </summary>
    public static void StartOps(bool byCaller = false)
    {
        NativeMethods.EnsureLoaded();
        NativeMethods.Check(NativeMethods.vs_profiler_start(byCaller ? 1 : 0));
    }

    /// <summary>Stops the op profiler; rows sorted by self time, largest first.</summary>
    public static unsafe List<OpProfile> StopOps()
    {
        NativeMethods.EnsureLoaded();
        var length = NativeMethods.vs_profiler_stop(null, 0);
        var buffer = new byte[length + 1];
        fixed (byte* p = buffer)
        {
            NativeMethods.vs_profiler_stop(p, buffer.Length);
        }
        var rows = new List<OpProfile>();
        foreach (var line in Encoding.UTF8.GetString(buffer, 0, (int)length).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            if (f.Length == 4)
            {
                rows.Add(new OpProfile(f[0], long.Parse(f[1], CultureInfo.InvariantCulture),
                    long.Parse(f[2], CultureInfo.InvariantCulture) / 1000.0, long.Parse(f[3], CultureInfo.InvariantCulture) / 1000.0));
            }
        }
        rows.Sort((a, b) => b.SelfMicroseconds.CompareTo(a.SelfMicroseconds));
        return rows;
    }

    /// <summary>True when the shim fixed glibc's trim and mmap thresholds at load (VIDEOSSL_MALLOPT=0 turns it off).</summary>
    public static bool AllocatorConfigured
    {
        get
        {
            NativeMethods.EnsureLoaded();
            return NativeMethods.vs_allocator_configured() != 0;
        }
    }

    /// <summary>
    /// Hands the free pages of the host heap back to the OS (glibc malloc_trim); true if any were. With the fixed
    /// thresholds above, what a checkpoint and its plots allocate leaves holes the steps do not reuse, so the training
    /// loop calls this after each checkpoint (see vs_malloc_trim in the shim).
    /// </summary>
    public static unsafe bool ReleaseFreeHostMemory()
    {
        NativeMethods.EnsureLoaded();
        int released;
        NativeMethods.Check(NativeMethods.vs_malloc_trim(&released));
        return released != 0;
    }
}

/// <summary>Ends a <see cref="Profiling.Phase"/> region.</summary>
public readonly struct PhaseScope : IDisposable
{
    private readonly bool _active;

    internal PhaseScope(bool active)
    {
        _active = active;
    }

    public void Dispose()
    {
        if (_active)
        {
            Profiling.EndPhase();
        }
    }
}
