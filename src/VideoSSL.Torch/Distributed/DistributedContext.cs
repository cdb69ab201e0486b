using System.Diagnostics;

namespace VideoSSL.Torch.Distributed;

/// <summary>A collective failed: a rank died, stopped answering within the timeout, or the store went away.</summary>
public sealed class DistributedException : Exception
{
    public DistributedException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    public DistributedException()
    {
    }

    public DistributedException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// What a training loop needs from data parallelism, in one object: which rank this is, whether it writes the
/// run folder (<see cref="IsMain"/>), and the few collectives of DistributedDataParallel: broadcast the initial
/// parameters and buffers from rank 0, all-reduce and average gradients before the optimizer step (overlapped
/// with backward: <see cref="SyncGradients"/>), average logged metrics, gather evaluation outputs.
/// <see cref="Single"/> (one process) makes every call a no-op, so the loop reads the same either way.
///
/// A background thread bumps a per-rank counter in the store; when a collective fails, the counters that
/// stopped moving name the lost ranks (Gloo itself only names a peer's address).
/// </summary>
public sealed class DistributedContext : IDisposable
{
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(500);
    private readonly Store? _store;
    private readonly Store? _baseStore;
    private readonly ProcessGroup? _group;
    private readonly bool _storeOnRank0;
    private readonly Thread? _heartbeat;
    private readonly CancellationTokenSource _stop = new();

    private DistributedContext(int rank, int worldSize, int localRank, Device device, Store? store, Store? baseStore, ProcessGroup? group, bool storeOnRank0)
    {
        Rank = rank;
        WorldSize = worldSize;
        LocalRank = localRank;
        Device = device;
        _store = store;
        _baseStore = baseStore;
        _group = group;
        _storeOnRank0 = storeOnRank0;
        if (store is not null)
        {
            _heartbeat = new Thread(Heartbeat) { IsBackground = true, Name = $"c10d heartbeat rank {rank}" };
            _heartbeat.Start();
        }
    }

    /// <summary>One process: rank 0 of 1, every collective a no-op.</summary>
    public static DistributedContext Single { get; } = new(0, 1, 0, Device.CPU, null, null, null, false);

    public int Rank { get; }

    public int WorldSize { get; }

    /// <summary>The rank on this node; picks the CUDA device (one process per device, as torchrun).</summary>
    public int LocalRank { get; }

    /// <summary>Where the collectives' tensors live: the CPU for Gloo, cuda:LOCAL_RANK for NCCL.</summary>
    public Device Device { get; }

    public bool IsDistributed => WorldSize > 1;

    /// <summary>Rank 0: the one that writes the run folder, metrics, plots and checkpoints.</summary>
    public bool IsMain => Rank == 0;

    /// <summary>Whether <see cref="SyncGradients"/> overlaps the gradient all-reduce with backward (VIDEOSSL_DIST_OVERLAP, default on).</summary>
    public bool OverlapGradients { get; set; } = true;

    /// <summary>The gradient bucket cap (VIDEOSSL_DIST_BUCKET_MB; DDP's 25 MiB by default).</summary>
    public long BucketBytes
    {
        get => _group?.BucketBytes ?? 25L << 20;
        set
        {
            if (_group is not null)
            {
                _group.BucketBytes = value;
            }
        }
    }

    public TimeSpan Timeout => _group?.Timeout ?? LaunchEnvironment.DefaultTimeout;

    /// <summary>
    /// Joins the job <paramref name="launch"/> describes: connects to (or, on rank 0, hosts) the TCP store and builds
    /// the process group. <paramref name="cuda"/>: training runs on CUDA, so NCCL is the default backend.
    /// </summary>
    public static DistributedContext Initialize(LaunchEnvironment launch, bool cuda)
    {
        var backend = launch.Backend ?? (cuda ? Backend.Nccl : Backend.Gloo);
        if (!ProcessGroup.IsAvailable(backend))
        {
            throw new DistributedException($"this libtorch has no {backend} process group{(backend == Backend.Nccl ? " (set VIDEOSSL_DIST_BACKEND=gloo, or build the shim against a CUDA libtorch with NCCL)" : " (install libgloo-dev and rebuild the shim)")}");
        }
        Store baseStore;
        try
        {
            baseStore = Store.Tcp(launch.MasterAddr, launch.MasterPort, isServer: !launch.AgentStore && launch.Rank == 0,
                launch.AgentStore ? 0 : launch.WorldSize, launch.Timeout);
        }
        catch (TorchException e)
        {
            throw new DistributedException($"rank {launch.Rank}: cannot {(launch.Rank == 0 && !launch.AgentStore ? "host" : "reach")} the rendezvous store at {launch.MasterAddr}:{launch.MasterPort} within {launch.Timeout.TotalSeconds:G4} s: {e.Message}", e);
        }
        var store = launch.StorePrefix is null ? null : baseStore.WithPrefix(launch.StorePrefix);
        var context = Initialize(store ?? baseStore, launch.Rank, launch.WorldSize, launch.LocalRank, backend, launch.Timeout, store is null ? null : baseStore, storeOnRank0: !launch.AgentStore);
        context.OverlapGradients = launch.OverlapGradients;
        context.BucketBytes = launch.BucketBytes;
        return context;
    }

    /// <summary>Builds the process group over an existing store (a <see cref="Store.File"/> in tests).</summary>
    public static DistributedContext Initialize(Store store, int rank, int worldSize, int localRank, Backend backend, TimeSpan timeout, Store? ownedBaseStore = null, bool storeOnRank0 = true)
    {
        ProcessGroup group;
        try
        {
            group = ProcessGroup.Create(backend, store, rank, worldSize, timeout);
        }
        catch (TorchException e)
        {
            throw new DistributedException($"rank {rank}: could not form the {backend} process group of {worldSize} ranks within {timeout.TotalSeconds:G4} s: {e.Message}", e);
        }
        var device = backend == Backend.Nccl ? Device.CUDA(localRank) : Device.CPU;
        return new DistributedContext(rank, worldSize, localRank, device, store, ownedBaseStore, group, storeOnRank0);
    }

    /// <summary>In place: every tensor takes rank 0's values (initial parameters and buffers, as DDP's constructor).</summary>
    public void Broadcast(IEnumerable<Tensor> tensors)
    {
        if (_group is not null)
        {
            var list = tensors.ToList();
            Guard("broadcast", () => _group.Broadcast(list));
        }
    }

    /// <summary>
    /// Averages the gradients of <paramref name="parameters"/> over ranks in place (DDP's all-reduce / world size).
    /// A trainable parameter without a gradient on this rank joins with zeros, so every rank reduces the same list.
    /// </summary>
    public void AverageGradients(IEnumerable<Tensor> parameters)
    {
        if (_group is null)
        {
            return;
        }
        using var scope = Torch.NewScope();
        var grads = new List<Tensor>();
        foreach (var p in parameters)
        {
            if (!p.RequiresGrad)
            {
                continue;
            }
            var g = p.Grad;
            if (g is null)
            {
                g = Torch.ZerosLike(p);
                p.Grad = g;
            }
            grads.Add(g);
        }
        Guard("all-reduce of gradients", () => _group.AllReduce(grads, 1.0 / WorldSize));
    }

    /// <summary>
    /// The gradient averaging of a training loop over <paramref name="parameters"/> (those that require grad; frozen ones
    /// and EMA teachers never get gradients and are left out): with <see cref="OverlapGradients"/>, bucket all-reduces
    /// start during backward (hooks registered now, so call this after the weights are loaded); otherwise
    /// <see cref="AverageGradients"/> after it. One process: nothing.
    /// </summary>
    public GradientSync SyncGradients(IEnumerable<Tensor> parameters)
    {
        var trainable = parameters.Where(p => p.RequiresGrad).ToList();
        GradientReducer? reducer = null;
        if (_group is not null && OverlapGradients && trainable.Count > 0)
        {
            Guard("registering the gradient hooks", () => reducer = _group.CreateReducer(trainable));
        }
        return new GradientSync(this, trainable, reducer);
    }

    /// <summary>In place: the sum over ranks of <paramref name="tensor"/> (dist.all_reduce with its default SUM, e.g. DINO's batch centre).</summary>
    public void SumInPlace(Tensor tensor)
    {
        if (_group is not null)
        {
            Guard("all-reduce", () => _group.AllReduce([tensor], 1.0));
        }
    }

    /// <summary>The mean over ranks of each value (logged metrics).</summary>
    public double[] Average(params double[] values) => Reduce(values, 1.0 / WorldSize);

    /// <summary>The sum over ranks of each value (counts, throughput).</summary>
    public double[] Sum(params double[] values) => Reduce(values, 1.0);

    private double[] Reduce(double[] values, double scale)
    {
        if (_group is null || values.Length == 0)
        {
            return values;
        }
        using var scope = Torch.NewScope();
        var t = Tensor.From(values, values.Length);
        var onDevice = Device.IsCuda ? t.To(Device) : t;
        Guard("all-reduce of metrics", () => _group.AllReduce([onDevice], scale));
        return (Device.IsCuda ? onDevice.To(Device.CPU) : onDevice).ToArray<double>();
    }

    /// <summary>Every rank's <paramref name="input"/> (same shape everywhere) stacked along a new first dimension; one process: [1, ...].</summary>
    public Tensor AllGather(Tensor input)
    {
        if (_group is null)
        {
            return input.Unsqueeze(0);
        }
        Tensor? result = null;
        Guard("all-gather", () => result = _group.AllGather(input));
        return result!;
    }

    /// <summary>
    /// Whether <paramref name="tensors"/> hold the same values on every rank: per-tensor float64 sums of x and x²
    /// compared exactly (data parallelism keeps replicas bit-identical; a drift means a rank reduced differently).
    /// </summary>
    public bool SameOnAllRanks(IEnumerable<Tensor> tensors)
    {
        if (_group is null)
        {
            return true;
        }
        using var scope = Torch.NewScope();
        var digest = new List<double>();
        foreach (var t in tensors)
        {
            var x = t.Detach().To(ScalarType.Float64);
            digest.Add(x.Sum().Item());
            digest.Add(x.Mul(x).Sum().Item());
        }
        var all = AllGather(Tensor.From(digest.ToArray(), digest.Count).To(Device)).To(Device.CPU).ToArray<double>();
        return Enumerable.Range(1, WorldSize - 1).All(r => all.AsSpan(r * digest.Count, digest.Count).SequenceEqual(all.AsSpan(0, digest.Count)));
    }

    public void Barrier()
    {
        if (_group is not null)
        {
            Guard("barrier", _group.Barrier);
        }
    }

    internal void Guard(string what, Action collective)
    {
        try
        {
            collective();
        }
        catch (TorchException e)
        {
            throw new DistributedException($"rank {Rank}: {what} failed: {DescribeLoss()} ({FirstLine(e.Message)})", e);
        }
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return (i < 0 ? s : s[..i]).Trim();
    }

    private static string HeartbeatKey(int rank) => $"videossl/heartbeat/{rank}";

    private void Heartbeat()
    {
        try
        {
            while (!_stop.Token.WaitHandle.WaitOne(HeartbeatInterval))
            {
                _store!.Add(HeartbeatKey(Rank), 1);
            }
        }
        catch (TorchException)
        {
            // The store is gone; the next collective reports it.
        }
    }

    /// <summary>Which ranks went silent: their heartbeat counters stop moving (or the store itself is gone with rank 0).</summary>
    private string DescribeLoss()
    {
        try
        {
            var before = Enumerable.Range(0, WorldSize).Select(r => _store!.Add(HeartbeatKey(r), 0)).ToArray();
            Thread.Sleep(HeartbeatInterval * 4);
            var after = Enumerable.Range(0, WorldSize).Select(r => _store!.Add(HeartbeatKey(r), 0)).ToArray();
            var lost = Enumerable.Range(0, WorldSize).Where(r => r != Rank && after[r] == before[r]).ToList();
            return lost.Count > 0
                ? $"lost rank {string.Join(", ", lost)} of {WorldSize} (no sign of life for {(HeartbeatInterval * 4).TotalSeconds:G3} s)"
                : $"every rank is still alive; a rank stopped taking part within the {Timeout.TotalSeconds:G4} s timeout, or ranks called different collectives";
        }
        catch (TorchException)
        {
            return _storeOnRank0 && Rank != 0
                ? $"lost rank 0 of {WorldSize} (it hosts the rendezvous store, which is gone)"
                : "lost the rendezvous store (the launcher's agent is gone)";
        }
    }

    public void Dispose()
    {
        if (_store is null)
        {
            return;
        }
        _stop.Cancel();
        _heartbeat?.Join();
        _group?.Dispose();
        _store.Dispose();
        _baseStore?.Dispose();
    }
}

/// <summary>
/// One training loop's gradient averaging (<see cref="DistributedContext.SyncGradients"/>): <see cref="BeforeBackward"/>
/// before the backward calls of a micro-step that ends an optimizer step, <see cref="Average"/> after them, before
/// clipping and the optimizer step. Micro-steps in between accumulate locally (DDP's no_sync).
/// </summary>
public sealed class GradientSync : IDisposable
{
    private readonly DistributedContext _context;
    private readonly List<Tensor> _parameters;
    private readonly GradientReducer? _reducer;
    private bool _prepared;
    private long _averages;
    private TimeSpan _waited;  // the part of the all-reduce that backward did not hide

    internal GradientSync(DistributedContext context, List<Tensor> parameters, GradientReducer? reducer)
    {
        _context = context;
        _parameters = parameters;
        _reducer = reducer;
    }

    public void BeforeBackward()
    {
        if (_reducer is not null)
        {
            _context.Guard("all-reduce of gradients", _reducer.PrepareForBackward);
            _prepared = true;
        }
    }

    /// <summary>Every rank's gradients averaged in place (the overlapped buckets finished, or all reduced now).</summary>
    public void Average()
    {
        var watch = Stopwatch.StartNew();
        Reduce();
        _waited += watch.Elapsed;
        _averages++;
    }

    private void Reduce()
    {
        if (_reducer is not null && _prepared)
        {
            _prepared = false;
            _context.Guard("all-reduce of gradients", () => _reducer.Finish(1.0 / _context.WorldSize));
        }
        else
        {
            _context.AverageGradients(_parameters);
        }
    }

    /// <summary>The overlapping reducer's counters (see <see cref="GradientReducer.Stats"/>); null without overlap.</summary>
    public (long Buckets, long Steps, long StartedInBackward, long ReducedAgain, long MostCalls)? Stats => _reducer?.Stats;

    /// <summary>For the run's log: how the gradients were reduced; null in one process.</summary>
    public string? Describe()
    {
        if (!_context.IsDistributed)
        {
            return null;
        }
        var wait = $"{_waited.TotalMilliseconds / Math.Max(1, _averages):F1} ms per step spent in it after backward";
        if (_reducer is null)
        {
            return $"gradient all-reduce after backward ({_context.BucketBytes / 1048576.0:G3} MiB buckets; VIDEOSSL_DIST_OVERLAP=0): {wait}";
        }
        var (buckets, steps, started, again, calls) = _reducer.Stats;
        return $"gradient all-reduce overlapped with backward: {buckets} buckets of <= {_context.BucketBytes / 1048576.0:G3} MiB, "
            + $"{started} of {buckets * steps} bucket all-reduces started during backward over {steps} steps"
            + (calls > 1 ? $" (a parameter's gradient came in up to {calls} backward calls per step)" : string.Empty)
            + (again > 0 ? $", {again} reduced again (a gradient came after its bucket started)" : string.Empty) + $"; {wait}";
    }

    public void Dispose() => _reducer?.Dispose();
}
