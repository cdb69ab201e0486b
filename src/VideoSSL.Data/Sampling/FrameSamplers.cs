namespace VideoSSL.Data.Sampling;

/// <summary>
/// Which frames of a decoded video of <c>n</c> frames a clip uses, for each protocol of the reference code.
/// Pure functions of (n, parameters, rng) so a sample's frames depend only on its seeded RNG. The formulas,
/// including their edge cases for short videos, are those of the official code named on each method: the
/// published checkpoints were trained and tested with them.
/// </summary>
public static class FrameSamplers
{
    /// <summary>
    /// VideoMAE pretraining (dense): start uniform in [0, n − frames·stride], then start + i·stride. A video
    /// shorter than the span starts at 0 and steps only while the next index is below n − 1, repeating the
    /// last reached frame (so frame n − 1 itself is never stepped onto: a quirk kept from the official code).
    /// </summary>
    // OpenGVLab/VideoMAEv2 dataset/pretrain_datasets.py: VideoMAE._sample_train_indices + get_frame_id_list (num_segments=1, no jitter).
    public static int[] VideoMaePretrain(int n, int frames, int stride, Random rng)
    {
        CheckArgs(n, frames, stride);
        int span = frames * stride;
        int choices = n - span + 1;
        int start = choices > 0 ? rng.Next(choices) : 0;
        var indices = new int[frames];
        int offset = start + 1;  // the official code works with 1-based offsets
        for (int i = 0; i < frames; i++)
        {
            indices[i] = offset - 1;
            if (offset + stride < n)
            {
                offset += stride;
            }
        }
        return indices;
    }

    /// <summary>
    /// Kinetics fine-tuning, training clip: end uniform in [frames·stride, n), then <c>frames</c> indices evenly
    /// spaced over [end − span, end] (numpy linspace), clipped to [end − span, end − 1]. A video no longer
    /// than the span spreads n/stride indices over [0, n], pads with n, and clips to n − 1.
    /// </summary>
    // MCG-NJU/VideoMAE kinetics.py: VideoClsDataset.loadvideo_decord, mode 'train', num_segment=1.
    public static int[] KineticsTrain(int n, int frames, int stride, Random rng)
    {
        CheckArgs(n, frames, stride);
        int span = frames * stride;
        var indices = new int[frames];
        if (n <= span)
        {
            int spread = n / stride;
            double[] evenly = Linspace(0, n, spread);
            for (int i = 0; i < frames; i++)
            {
                double value = i < spread ? evenly[i] : n;
                indices[i] = (int)Math.Clamp(value, 0, n - 1);
            }
            return indices;
        }
        int end = rng.Next(span, n);
        int start = end - span;
        double[] positions = Linspace(start, end, frames);
        for (int i = 0; i < frames; i++)
        {
            indices[i] = (int)Math.Clamp(positions[i], start, end - 1);
        }
        return indices;
    }

    /// <summary>
    /// Kinetics test: every <c>stride</c>-th frame of the whole video (padded with the last to at least
    /// <c>frames</c>), and <c>clips</c> windows of <c>frames</c> consecutive entries of that list starting at
    /// int(k · (len − frames) / (clips − 1)). Returns [clips][frames].
    /// </summary>
    // MCG-NJU/VideoMAE kinetics.py: loadvideo_decord mode 'test' + __getitem__ temporal_step/temporal_start.
    public static int[][] KineticsTest(int n, int frames, int stride, int clips)
    {
        CheckArgs(n, frames, stride);
        ArgumentOutOfRangeException.ThrowIfLessThan(clips, 1);
        var all = new List<int>();
        for (int x = 0; x < n; x += stride)
        {
            all.Add(x);
        }
        while (all.Count < frames)
        {
            all.Add(all[^1]);
        }
        // The official code divides by clips − 1; one clip takes the start.
        double step = clips > 1 ? Math.Max((double)(all.Count - frames) / (clips - 1), 0) : 0;
        var result = new int[clips][];
        for (int k = 0; k < clips; k++)
        {
            int first = (int)(k * step);
            result[k] = all.GetRange(first, frames).ToArray();
        }
        return result;
    }

    /// <summary>
    /// Something-Something v2 training (TSN segments): n split into <c>segments</c> parts of n / segments
    /// frames, one uniformly random frame in each. Videos shorter than that draw <c>segments</c> sorted
    /// random frames, and videos of at most <c>segments</c> frames use frame 0 throughout (official behaviour).
    /// </summary>
    // MCG-NJU/VideoMAE ssv2.py: SSVideoClsDataset.loadvideo_decord, train branch.
    public static int[] Ssv2Train(int n, int segments, Random rng)
    {
        CheckArgs(n, segments, 1);
        var indices = new int[segments];
        int average = n / segments;
        if (average > 0)
        {
            for (int i = 0; i < segments; i++)
            {
                indices[i] = i * average + rng.Next(average);
            }
        }
        else if (n > segments)
        {
            for (int i = 0; i < segments; i++)
            {
                indices[i] = rng.Next(n);
            }
            Array.Sort(indices);
        }
        return indices;
    }

    /// <summary>
    /// Something-Something v2 test: two temporal views of <c>segments</c> frames, tick = n / segments. The
    /// official code sorts the union of int(tick·x) and int(tick/2 + tick·x) and takes every other entry, so
    /// view 0 is the segment starts and view 1 the segment middles (offset half a segment). Returns [2][segments].
    /// </summary>
    // MCG-NJU/VideoMAE ssv2.py: loadvideo_decord mode 'test' + __getitem__ buffer[temporal_start::2].
    public static int[][] Ssv2Test(int n, int segments)
    {
        CheckArgs(n, segments, 1);
        double tick = n / (double)segments;
        var all = new int[2 * segments];
        for (int x = 0; x < segments; x++)
        {
            all[x] = (int)(tick / 2.0 + tick * x);
            all[segments + x] = (int)(tick * x);
        }
        Array.Sort(all);
        var views = new int[2][];
        for (int v = 0; v < 2; v++)
        {
            views[v] = new int[segments];
            for (int i = 0; i < segments; i++)
            {
                views[v][i] = all[v + 2 * i];
            }
        }
        return views;
    }

    /// <summary>
    /// Generic evaluation views: <c>clips</c> windows of frames·stride spread evenly over the video (start
    /// round(k·(n − span)/(clips − 1)); one clip is centred), indices clamped to n − 1. Returns [clips][frames].
    /// </summary>
    // Not from a reference repo: a plain multi-view sampler for methods without an official test protocol.
    public static int[][] UniformClips(int n, int frames, int stride, int clips)
    {
        CheckArgs(n, frames, stride);
        ArgumentOutOfRangeException.ThrowIfLessThan(clips, 1);
        int room = Math.Max(n - (frames - 1) * stride - 1, 0);
        var result = new int[clips][];
        for (int k = 0; k < clips; k++)
        {
            int start = clips == 1 ? room / 2 : (int)Math.Round((double)k * room / (clips - 1), MidpointRounding.AwayFromZero);
            result[k] = new int[frames];
            for (int i = 0; i < frames; i++)
            {
                result[k][i] = Math.Min(start + i * stride, n - 1);
            }
        }
        return result;
    }

    /// <summary>numpy.linspace(start, stop, num) with endpoint, computed the same way so truncation agrees.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        var y = new double[Math.Max(num, 0)];
        if (num == 0)
        {
            return y;
        }
        int div = num - 1;
        double delta = stop - start;
        double step = div > 0 ? delta / div : double.NaN;
        for (int i = 0; i < num; i++)
        {
            y[i] = (div > 0 && step != 0 ? i * step : div > 0 ? i / (double)div * delta : i * delta) + start;
        }
        if (num > 1)
        {
            y[^1] = stop;
        }
        return y;
    }

    private static void CheckArgs(int n, int frames, int stride)
    {
        if (n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "video has no frames");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
    }
}
