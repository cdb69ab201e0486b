using System.Runtime.InteropServices;

namespace VideoSSL.Training;

/// <summary>
/// Ctrl-C (SIGINT) or SIGTERM as a request to stop: the training loop finishes the step it is in, writes a checkpoint
/// and returns, so the run can be resumed exactly. A second signal is not intercepted, so it ends the process at once
/// as a user pressing Ctrl-C twice expects.
/// </summary>
public sealed class StopSignal : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly TextWriter? _log;
    private int _signal;
    private string? _reason;
    private Timer? _timer;

    /// <summary>A request that only <see cref="Request"/> raises (tests, or a host with its own signal handling).</summary>
    public StopSignal()
    {
    }

    private StopSignal(TextWriter log)
    {
        _log = log;
        foreach (var signal in (PosixSignal[])[PosixSignal.SIGINT, PosixSignal.SIGTERM])
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
        }
    }

    public bool Requested => Volatile.Read(ref _signal) != 0 || Volatile.Read(ref _reason) is not null;

    /// <summary>What asked the run to stop, in words: the signal's name or the reason given to <see cref="RequestAfter"/>.</summary>
    public string Description => Signal?.ToString() ?? Volatile.Read(ref _reason) ?? "nothing";

    /// <summary>The signal that asked the run to stop, or null.</summary>
    public PosixSignal? Signal => Volatile.Read(ref _signal) is var s and not 0 ? (PosixSignal)s : null;

    /// <summary>The exit status a shell expects after the signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).</summary>
    public int ExitCode => Signal switch
    {
        PosixSignal.SIGINT => 130,
        PosixSignal.SIGTERM => 143,
        null => 0,
        _ => 1,
    };

    /// <summary>Listens for SIGINT and SIGTERM until disposed.</summary>
    public static StopSignal Listen(TextWriter? log = null) => new(log ?? Console.Error);

    public void Request(PosixSignal signal) => Interlocked.CompareExchange(ref _signal, (int)signal, 0);

    /// <summary>A wall-time cap: the run stops at the step boundary after <paramref name="delay"/>, as after a signal (exit code unchanged).</summary>
    public void RequestAfter(TimeSpan delay, string reason)
    {
        _timer?.Dispose();
        _timer = new Timer(_ => Interlocked.CompareExchange(ref _reason, reason, null), null, delay, Timeout.InfiniteTimeSpan);
    }

    public void Dispose()
    {
        _timer?.Dispose();
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
        _registrations.Clear();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Requested)
        {
            return;
        }
        context.Cancel = true;
        Request(context.Signal);
        _log?.WriteLine($"{context.Signal}: stopping after this step with a checkpoint (send it again to stop at once)");
    }
}
