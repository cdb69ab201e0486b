namespace VideoSSL.Torch.Distributed;

public enum Backend
{
    /// <summary>c10d's ProcessGroupGloo: CPU tensors, any machine.</summary>
    Gloo,

    /// <summary>c10d's ProcessGroupNCCL: CUDA tensors, only where the libtorch was built with it.</summary>
    Nccl,
}

/// <summary>
/// A c10d process group: collectives over a fixed set of ranks. Every call blocks until done and fails after
/// the group's timeout rather than hang. Tensor lists travel in flat buckets of <see cref="BucketBytes"/>.
/// Calls must be made in the same order on every rank (as with torch.distributed).
/// </summary>
public sealed unsafe class ProcessGroup : IDisposable
{
    private IntPtr _handle;

    private ProcessGroup(IntPtr handle, Backend backend, int rank, int size, TimeSpan timeout)
    {
        _handle = handle;
        Backend = backend;
        Rank = rank;
        Size = size;
        Timeout = timeout;
    }

    public Backend Backend { get; }

    public int Rank { get; }

    public int Size { get; }

    public TimeSpan Timeout { get; }

    /// <summary>DistributedDataParallel's default bucket_cap_mb = 25 (torch/nn/parallel/distributed.py).</summary>
    public long BucketBytes { get; set; } = 25L << 20;

    /// <summary>DDP's first bucket (dist._DEFAULT_FIRST_BUCKET_BYTES = 1 MiB): small, so the first gradient all-reduce starts early in backward.</summary>
    public long FirstBucketBytes { get; init; } = 1L << 20;

    /// <summary>Whether this libtorch has the process group for <paramref name="backend"/>.</summary>
    public static bool IsAvailable(Backend backend) => (DistNative.vs_dist_backends() & (backend == Backend.Gloo ? 1 : 2)) != 0;

    public static ProcessGroup Create(Backend backend, Store store, int rank, int size, TimeSpan timeout)
    {
        IntPtr h;
        var ms = (long)timeout.TotalMilliseconds;
        DistNative.Check(backend == Backend.Gloo
            ? DistNative.vs_dist_group_gloo(store.Handle, rank, size, ms, &h)
            : DistNative.vs_dist_group_nccl(store.Handle, rank, size, ms, &h));
        return new ProcessGroup(h, backend, rank, size, timeout);
    }

    private IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(ProcessGroup));

    /// <summary>In place: every tensor takes <paramref name="root"/>'s values.</summary>
    public void Broadcast(IReadOnlyList<Tensor> tensors, int root = 0) =>
        WithHandles(tensors, (p, n) => DistNative.vs_dist_broadcast(Handle, p, n, root, BucketBytes));

    /// <summary>In place: the sum over ranks, times <paramref name="scale"/> (1/<see cref="Size"/> for the mean).</summary>
    public void AllReduce(IReadOnlyList<Tensor> tensors, double scale = 1.0) =>
        WithHandles(tensors, (p, n) => DistNative.vs_dist_allreduce(Handle, p, n, scale, BucketBytes));

    /// <summary>Every rank's <paramref name="input"/> (the same shape on all ranks) stacked: [size, ...input shape].</summary>
    public Tensor AllGather(Tensor input)
    {
        IntPtr result;
        DistNative.Check(DistNative.vs_dist_allgather(Handle, input.Handle, &result));
        return new Tensor(result);
    }

    public void Barrier() => DistNative.Check(DistNative.vs_dist_barrier(Handle));

    /// <summary>Hooks <paramref name="parameters"/>' gradient accumulators so their all-reduce overlaps backward (see <see cref="GradientReducer"/>).</summary>
    public GradientReducer CreateReducer(IReadOnlyList<Tensor> parameters)
    {
        var handles = parameters.Select(p => p.Handle).ToArray();
        IntPtr reducer;
        fixed (IntPtr* p = handles)
        {
            DistNative.Check(DistNative.vs_dist_reducer_new(Handle, p, handles.Length, BucketBytes, Math.Min(FirstBucketBytes, BucketBytes), &reducer));
        }
        GC.KeepAlive(parameters);
        return new GradientReducer(reducer);
    }

    private delegate int HandleCall(IntPtr* handles, int count);

    private static void WithHandles(IReadOnlyList<Tensor> tensors, HandleCall call)
    {
        if (tensors.Count == 0)
        {
            return;
        }
        var handles = new IntPtr[tensors.Count];
        for (var i = 0; i < handles.Length; i++)
        {
            handles[i] = tensors[i].Handle;
        }
        fixed (IntPtr* p = handles)
        {
            DistNative.Check(call(p, handles.Length));
        }
        GC.KeepAlive(tensors);
    }

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (h != IntPtr.Zero)
        {
            DistNative.vs_dist_group_free(h);
        }
    }
}
