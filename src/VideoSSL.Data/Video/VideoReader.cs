namespace VideoSSL.Data.Video;

/// <summary>
/// Random access to the frames of one video file, decoded by libavcodec (native/av) to RGB24.
/// Reads of increasing indices continue decoding where the previous read stopped; going backwards or far
/// ahead seeks to a keyframe. Not thread-safe: open one reader per thread.
/// </summary>
public sealed unsafe class VideoReader : IDisposable
{
    private readonly AvNative.VideoHandle _handle;

    private VideoReader(string path, AvNative.VideoHandle handle, VideoInfo info)
    {
        Path = path;
        _handle = handle;
        Info = info;
    }

    public string Path { get; }

    public VideoInfo Info { get; }

    /// <param name="threads">Decoder threads; 0 lets libavcodec choose. Keep 1 when many readers run in parallel.</param>
    public static VideoReader Open(string path, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var status = AvNative.Open(path, threads, out var handle);
        if (status != 0)
        {
            handle.Dispose();
            throw Error(path, status);
        }
        AvNative.Info native;
        status = AvNative.GetInfo(handle, &native);
        if (status != 0)
        {
            handle.Dispose();
            throw Error(path, status);
        }
        var codec = new string((sbyte*)native.Codec);
        var info = new VideoInfo(native.Width, native.Height, native.FrameCount, native.FrameCountExact != 0,
            native.Fps, native.DurationSeconds, codec);
        return new VideoReader(path, handle, info);
    }

    /// <summary>The (width, height) that <see cref="Read"/> produces for <paramref name="resize"/>.</summary>
    public (int Width, int Height) OutputSize(FrameResize resize = default)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        int width, height;
        var status = AvNative.OutputSize(_handle, (int)resize.Mode, resize.Width, resize.Height, &width, &height);
        if (status != 0)
        {
            throw Error(Path, status);
        }
        return (width, height);
    }

    /// <summary>
    /// Decodes the frames at <paramref name="indices"/> (any order, repeats allowed) into a clip whose frame t is
    /// the video's frame indices[t]. Indices past the last frame give the last frame.
    /// </summary>
    /// <param name="reuse">A clip to decode into when its size matches (a worker's buffer from its previous
    /// video: fresh multi-megabyte arrays cost page faults on every clip); otherwise a new clip is returned.</param>
    public Clip Read(ReadOnlySpan<int> indices, FrameResize resize = default, Clip? reuse = null)
    {
        if (indices.IsEmpty)
        {
            throw new ArgumentException("at least one frame index is needed", nameof(indices));
        }
        var (width, height) = OutputSize(resize);
        // The decoder wants ascending indices; each sorted index carries the clip slot it is written to,
        // so frames land in caller order without a copy.
        var sorted = indices.ToArray();
        var slots = new int[sorted.Length];
        for (var i = 0; i < slots.Length; i++)
        {
            if (sorted[i] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), $"frame index {sorted[i]} at position {i} is negative");
            }
            slots[i] = i;
        }
        if (!IsSorted(sorted))
        {
            Array.Sort(sorted, slots);
        }
        Clip clip = reuse is not null && reuse.Frames == sorted.Length && reuse.Height == height && reuse.Width == width
            ? reuse
            : new Clip(sorted.Length, height, width, GC.AllocateUninitializedArray<byte>(checked(sorted.Length * height * width * 3)));
        fixed (int* pIndices = sorted)
        fixed (int* pSlots = slots)
        fixed (byte* pOut = clip.Pixels)
        {
            var status = AvNative.Read(_handle, pIndices, pSlots, sorted.Length, (int)resize.Mode, resize.Width, resize.Height,
                pOut, clip.Pixels.LongLength);
            if (status != 0)
            {
                throw Error(Path, status);
            }
        }
        return clip;
    }

    public void Dispose() => _handle.Dispose();

    private static bool IsSorted(int[] values)
    {
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] < values[i - 1])
            {
                return false;
            }
        }
        return true;
    }

    private static VideoDecodeException Error(string path, int status) =>
        new(path, (VideoError)status, AvNative.LastErrorMessage());
}
