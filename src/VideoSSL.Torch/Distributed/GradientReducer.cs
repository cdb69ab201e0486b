namespace VideoSSL.Torch.Distributed;

/// <summary>
/// The gradient all-reduce of a data-parallel step, overlapped with backward as DistributedDataParallel's Reducer
/// overlaps it (native/torch/dist.cpp): hooks on the parameters' gradient accumulators start a bucket's all-reduce
/// as soon as its gradients are complete. <see cref="PrepareForBackward"/> before the backward calls of a step
/// whose gradients are reduced (the last micro-step of accumulation, as DDP's no_sync), <see cref="Finish"/> after
/// them all (activation checkpointing's included). Completeness is counted per step, learned from the first step
/// (reduced after backward); a gradient arriving after its bucket started makes the ranks reduce that bucket again,
/// so the result is always that of <see cref="ProcessGroup.AllReduce"/> over the finished gradients.
/// </summary>
public sealed unsafe class GradientReducer : IDisposable
{
    private IntPtr _handle;

    internal GradientReducer(IntPtr handle) => _handle = handle;

    private IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(GradientReducer));

    public void PrepareForBackward() => DistNative.Check(DistNative.vs_dist_reducer_prepare(Handle));

    /// <summary>Waits for the buckets started during backward, reduces the others, and writes sum × <paramref name="scale"/> into each gradient.</summary>
    public void Finish(double scale) => DistNative.Check(DistNative.vs_dist_reducer_finalize(Handle, scale));

    /// <summary>
    /// Buckets, finished steps, bucket all-reduces started during backward, buckets reduced again because a gradient came
    /// late, and the most backward calls that reached one parameter in a step (2 and more with activation checkpointing
    /// when a block runs in several segments, e.g. SVT's views of each size).
    /// </summary>
    public (long Buckets, long Steps, long StartedInBackward, long ReducedAgain, long MostCalls) Stats
    {
        get
        {
            var s = stackalloc long[5];
            DistNative.Check(DistNative.vs_dist_reducer_stats(Handle, s));
            return (s[0], s[1], s[2], s[3], s[4]);
        }
    }

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (h != IntPtr.Zero)
        {
            DistNative.vs_dist_reducer_free(h);
        }
    }
}
