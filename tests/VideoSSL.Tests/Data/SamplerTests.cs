using VideoSSL.Data.Sampling;

namespace VideoSSL.Tests.Data;

/// <summary>Expected arrays computed by hand / with numpy from the official formulas (see FrameSamplers).</summary>
public class SamplerTests
{
    /// <summary>Returns a fixed draw (clamped into the requested range) so a formula's output is known.</summary>
    private sealed class FixedRandom(int value) : Random
    {
        public override int Next(int maxValue) => Math.Min(value, maxValue - 1);

        public override int Next(int minValue, int maxValue) => Math.Clamp(value, minValue, maxValue - 1);
    }

    private static int[] Range(int start, int count, int step) => Enumerable.Range(0, count).Select(i => start + i * step).ToArray();

    [Fact]
    public void VideoMaePretrain_LongVideo_StartPlusStride()
    {
        Assert.Equal(Range(5, 16, 4), FrameSamplers.VideoMaePretrain(100, 16, 4, new FixedRandom(5)));
        // n == span leaves a single start.
        Assert.Equal(Range(0, 16, 4), FrameSamplers.VideoMaePretrain(64, 16, 4, new FixedRandom(7)));
        // SSv2 stride 2, last possible start n - span = 68.
        Assert.Equal(Range(68, 16, 2), FrameSamplers.VideoMaePretrain(100, 16, 2, new FixedRandom(1000)));
    }

    [Fact]
    public void VideoMaePretrain_ShortVideo_StartsAtZeroAndRepeatsLast()
    {
        int[] expected10 = [0, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8];
        Assert.Equal(expected10, FrameSamplers.VideoMaePretrain(10, 16, 4, new FixedRandom(3)));
        // Official quirk: stepping needs next index < n - 1, so frame 8 of a 9-frame video is never reached.
        int[] expected9 = [0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4];
        Assert.Equal(expected9, FrameSamplers.VideoMaePretrain(9, 16, 4, new FixedRandom(3)));
        Assert.All(FrameSamplers.VideoMaePretrain(1, 16, 4, new Random(1)), i => Assert.Equal(0, i));
    }

    [Fact]
    public void VideoMaePretrain_RandomStartStaysInRange()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            int[] idx = FrameSamplers.VideoMaePretrain(80, 16, 4, rng);
            Assert.InRange(idx[0], 0, 16);
            Assert.Equal(idx[0] + 60, idx[15]);
        }
    }

    [Fact]
    public void KineticsTrain_MatchesNumpyLinspace()
    {
        int[] expected = [6, 10, 14, 18, 23, 27, 31, 35, 40, 44, 48, 52, 57, 61, 65, 69];
        Assert.Equal(expected, FrameSamplers.KineticsTrain(100, 16, 4, new FixedRandom(70)));
    }

    [Fact]
    public void KineticsTrain_ShortVideo_SpreadsAndClips()
    {
        int[] expected30 = [0, 5, 10, 15, 20, 25, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29];
        Assert.Equal(expected30, FrameSamplers.KineticsTrain(30, 16, 4, new Random(0)));
        int[] expected64 = [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63];
        Assert.Equal(expected64, FrameSamplers.KineticsTrain(64, 16, 4, new Random(0)));
        Assert.All(FrameSamplers.KineticsTrain(3, 16, 4, new Random(0)), i => Assert.Equal(2, i));
    }

    [Fact]
    public void KineticsTest_FiveClipsEvenlySpread()
    {
        int[][] clips = FrameSamplers.KineticsTest(300, 16, 4, 5);
        // 75 strided frames, step (75 - 16) / 4 = 14.75: windows start at entries 0, 14, 29, 44, 59.
        int[] starts = [0, 14, 29, 44, 59];
        Assert.Equal(5, clips.Length);
        for (int k = 0; k < 5; k++)
        {
            Assert.Equal(Range(4 * starts[k], 16, 4), clips[k]);
        }
    }

    [Fact]
    public void KineticsTest_ShortVideo_AllClipsPadded()
    {
        int[] expected = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 36, 36, 36, 36, 36, 36];
        foreach (int[] clip in FrameSamplers.KineticsTest(40, 16, 4, 5))
        {
            Assert.Equal(expected, clip);
        }
    }

    [Fact]
    public void Ssv2Train_RandomFramePerSegment()
    {
        Assert.Equal(Range(1, 16, 3), FrameSamplers.Ssv2Train(50, 16, new FixedRandom(1)));
        Assert.Equal(Range(0, 16, 1), FrameSamplers.Ssv2Train(20, 16, new FixedRandom(5)));
        // Official: a video of at most 16 frames uses frame 0 for every segment.
        Assert.All(FrameSamplers.Ssv2Train(10, 16, new Random(1)), i => Assert.Equal(0, i));
        var rng = new Random(2);
        for (int trial = 0; trial < 100; trial++)
        {
            int[] idx = FrameSamplers.Ssv2Train(64, 16, rng);
            for (int s = 0; s < 16; s++)
            {
                Assert.InRange(idx[s], 4 * s, 4 * s + 3);
            }
        }
    }

    [Fact]
    public void Ssv2Test_TwoViews_StartsAndMiddles()
    {
        int[][] views = FrameSamplers.Ssv2Test(48, 16);
        Assert.Equal(Range(0, 16, 3), views[0]);
        Assert.Equal(Range(1, 16, 3), views[1]);
        int[][] views20 = FrameSamplers.Ssv2Test(20, 16);
        Assert.Equal([0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18], views20[0]);
        Assert.Equal([0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 18, 19], views20[1]);
        int[][] views7 = FrameSamplers.Ssv2Test(7, 16);
        Assert.Equal([0, 0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6], views7[0]);
        Assert.Equal([0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6], views7[1]);
    }

    [Fact]
    public void UniformClips_CoverStartToEnd()
    {
        int[][] clips = FrameSamplers.UniformClips(100, 8, 2, 3);
        // Room = 100 - 15 = 85 starts: 0, 43 (42.5 rounded away from zero), 85.
        Assert.Equal(Range(0, 8, 2), clips[0]);
        Assert.Equal(Range(43, 8, 2), clips[1]);
        Assert.Equal(Range(85, 8, 2), clips[2]);
        Assert.Equal(99, clips[2][^1]);
        Assert.Equal([0, 2, 4, 4], FrameSamplers.UniformClips(5, 4, 2, 1)[0]);
    }

    [Fact]
    public void Samplers_RejectEmptyVideo()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameSamplers.VideoMaePretrain(0, 16, 4, new Random(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameSamplers.Ssv2Test(0, 16));
    }
}
