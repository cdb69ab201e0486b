using VideoSSL.Data;
using VideoSSL.Data.Transforms;

namespace VideoSSL.Tests.Data;

public class TransformTests
{
    private static Clip RandomClip(int frames, int height, int width, int seed)
    {
        var clip = new Clip(frames, height, width);
        new Random(seed).NextBytes(clip.Pixels);
        return clip;
    }

    [Fact]
    public void MultiScaleCrop_OnlyAllowedSizesAndOffsets()
    {
        // 320x240 → 224: short side 240, crop sizes int(240 * s) = 240, 210, 180, 158; none within 3 px of 224.
        int[] sizes = [240, 210, 180, 158];
        var rng = new Random(11);
        var seenPairs = new HashSet<(int, int)>();
        var seenOffsets = new HashSet<(int, int)>();
        for (int trial = 0; trial < 3000; trial++)
        {
            CropBox box = ClipTransforms.SampleMultiScaleCrop(320, 240, 224, 224, rng);
            int wi = Array.IndexOf(sizes, box.Width);
            int hi = Array.IndexOf(sizes, box.Height);
            Assert.True(wi >= 0 && hi >= 0, $"crop {box.Width}x{box.Height} is not a listed size");
            Assert.True(Math.Abs(wi - hi) <= 1, $"crop {box.Width}x{box.Height} distorts the aspect by more than one step");
            int ws = (320 - box.Width) / 4;
            int hs = (240 - box.Height) / 4;
            (int, int)[] grid =
            [
                (0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs), (0, 2 * hs), (4 * ws, 2 * hs),
                (2 * ws, 4 * hs), (2 * ws, 0), (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs),
            ];
            Assert.Contains((box.Left, box.Top), grid);
            seenPairs.Add((box.Width, box.Height));
            seenOffsets.Add((box.Left - 0, box.Top - 0));
        }
        // 4 + 3 + 3 = 10 allowed pairs, all drawn.
        Assert.Equal(10, seenPairs.Count);
    }

    [Fact]
    public void MultiScaleCrop_SnapsSizesNearTheOutput()
    {
        // Short side 256: int(256 * .875) = 224 exactly, and 256 * 1 = 256; int(256 * .66) = 168.
        // With output 226, 224 is within 3 px and must be snapped to 226.
        var rng = new Random(5);
        for (int trial = 0; trial < 500; trial++)
        {
            CropBox box = ClipTransforms.SampleMultiScaleCrop(340, 256, 226, 226, rng);
            Assert.NotEqual(224, box.Width);
            Assert.NotEqual(224, box.Height);
            Assert.Contains(box.Width, new[] { 256, 226, 192, 168 });
        }
        Clip output = ClipTransforms.MultiScaleCrop(RandomClip(2, 60, 80, 1), 32, 32, new Random(1));
        Assert.Equal((2, 32, 32), (output.Frames, output.Height, output.Width));
    }

    [Fact]
    public void Flip_Twice_IsIdentity_AndMirrors()
    {
        Clip clip = RandomClip(3, 5, 7, 2);
        Clip once = ClipTransforms.FlipHorizontal(clip);
        Assert.NotEqual(clip.Pixels, once.Pixels);
        // Pixel (t=1, y=2, x=0) lands at x=6.
        Assert.Equal(clip.Frame(1).Slice((2 * 7 + 0) * 3, 3).ToArray(), once.Frame(1).Slice((2 * 7 + 6) * 3, 3).ToArray());
        Assert.Equal(clip.Pixels, ClipTransforms.FlipHorizontal(once).Pixels);
    }

    [Fact]
    public void RandomFlip_RespectsProbability()
    {
        Clip clip = RandomClip(1, 2, 3, 3);
        Assert.Same(clip, ClipTransforms.RandomFlip(clip, 0, new Random(1)));
        Assert.Equal(ClipTransforms.FlipHorizontal(clip).Pixels, ClipTransforms.RandomFlip(clip, 1, new Random(1)).Pixels);
    }

    [Fact]
    public void Resize_ConstantImageStaysConstant()
    {
        var clip = new Clip(2, 37, 53);
        for (int i = 0; i < clip.Pixels.Length; i += 3)
        {
            clip.Pixels[i] = 255;
            clip.Pixels[i + 1] = 7;
            clip.Pixels[i + 2] = 128;
        }
        foreach ((int w, int h) in new[] { (16, 16), (100, 75), (53, 37), (1, 1), (224, 160) })
        {
            Clip resized = BilinearResize.Resize(clip, w, h);
            for (int i = 0; i < resized.Pixels.Length; i += 3)
            {
                Assert.Equal((byte)255, resized.Pixels[i]);
                Assert.Equal((byte)7, resized.Pixels[i + 1]);
                Assert.Equal((byte)128, resized.Pixels[i + 2]);
            }
        }
    }

    [Fact]
    public void Resize_SameSizeIsIdentity_AndHalvingAveragesPairs()
    {
        Clip clip = RandomClip(2, 8, 10, 4);
        Assert.Equal(clip.Pixels, BilinearResize.Resize(clip, 10, 8).Pixels);
        // Downscale by 2 with half-pixel centres samples exactly between two pixels: the rounded mean.
        var ramp = new Clip(1, 1, 4);
        byte[] values = [10, 20, 31, 100];
        for (int x = 0; x < 4; x++)
        {
            ramp.Pixels[3 * x] = values[x];
        }
        Clip half = BilinearResize.Resize(ramp, 2, 1);
        Assert.Equal(15, half.Pixels[0]);
        Assert.Equal(66, half.Pixels[3]);  // (31 + 100) / 2 = 65.5 → 66
    }

    [Fact]
    public void ResizeRegion_EqualsCropThenResize()
    {
        Clip clip = RandomClip(2, 30, 40, 5);
        var box = new CropBox(7, 3, 20, 18);
        Clip direct = BilinearResize.ResizeRegion(clip, box.Left, box.Top, box.Width, box.Height, 13, 11);
        Clip twoStep = BilinearResize.Resize(ClipTransforms.Crop(clip, box), 13, 11);
        Assert.Equal(twoStep.Pixels, direct.Pixels);
    }

    [Fact]
    public void ShortSideResize_AndThreeCrop_AlongLongSide()
    {
        Clip wide = RandomClip(1, 24, 40, 6);
        Clip resized = ClipTransforms.ResizeShortSide(wide, 12);
        Assert.Equal((12, 20), (resized.Height, resized.Width));
        Clip[] crops = ClipTransforms.ThreeCrop(resized, 12);
        // Long side 20, size 12: starts 0, 4, 8 along x.
        int[] starts = [0, 4, 8];
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(ClipTransforms.Crop(resized, new CropBox(starts[k], 0, 12, 12)).Pixels, crops[k].Pixels);
        }
        Clip tall = RandomClip(1, 21, 12, 7);
        Assert.Equal(ClipTransforms.Crop(tall, new CropBox(0, 9, 12, 12)).Pixels, ClipTransforms.SpatialCrop(tall, 12, 2).Pixels);
        Assert.Equal(ClipTransforms.Crop(tall, new CropBox(0, 4, 12, 12)).Pixels, ClipTransforms.SpatialCrop(tall, 12, 1).Pixels);
        // torchvision CenterCrop: round((21 - 12) / 2) = round(4.5) = 4 (to even).
        Assert.Equal(ClipTransforms.Crop(tall, new CropBox(0, 4, 12, 12)).Pixels, ClipTransforms.CenterCrop(tall, 12, 12).Pixels);
    }

    [Fact]
    public void RandomResizedCrop_BoxesInsideScaleAndRatio()
    {
        var rng = new Random(8);
        for (int trial = 0; trial < 2000; trial++)
        {
            CropBox box = ClipTransforms.SampleRandomResizedCrop(320, 240, rng, 0.3, 1.0);
            Assert.True(box.Left >= 0 && box.Top >= 0 && box.Left + box.Width <= 320 && box.Top + box.Height <= 240);
            double area = (double)box.Width * box.Height / (320 * 240);
            Assert.InRange(area, 0.29, 1.0);
            Assert.InRange((double)box.Width / box.Height, 0.74, 1.35);
        }
        // A very wide image cannot hold the ratio range: fallback is a centred crop at ratio 4/3.
        CropBox fallback = ClipTransforms.SampleRandomResizedCrop(1000, 10, new Random(1), 0.9, 1.0);
        Assert.Equal(new CropBox(493, 0, 13, 10), fallback);
    }

    [Fact]
    public void Normalize_KnownValues_CthwLayout()
    {
        var clip = new Clip(2, 1, 2);
        // t0: (0,0,0), (255,255,255); t1: (124,116,104), (10,20,30).
        byte[] px = [0, 0, 0, 255, 255, 255, 124, 116, 104, 10, 20, 30];
        px.CopyTo(clip.Pixels, 0);
        float[] x = Normalization.ToNormalizedCthw(clip);
        Assert.Equal(12, x.Length);
        float[] mean = [0.485f, 0.456f, 0.406f];
        float[] std = [0.229f, 0.224f, 0.225f];
        for (int c = 0; c < 3; c++)
        {
            for (int t = 0; t < 2; t++)
            {
                for (int w = 0; w < 2; w++)
                {
                    float expected = (px[(t * 2 + w) * 3 + c] / 255f - mean[c]) / std[c];
                    Assert.Equal(expected, x[c * 4 + t * 2 + w]);
                }
            }
        }
        Assert.Equal(-0.485f / 0.229f, x[0], 5);
        Assert.Equal((1 - 0.456f) / 0.224f, x[4 + 1], 5);
    }

    [Fact]
    public void RepeatedAugmentation_DecodesOnceAugmentsK()
    {
        Clip clip = RandomClip(1, 20, 20, 9);
        var rng = new Random(4);
        List<Clip> views = RepeatedAugmentation.Apply(clip, 4, rng, (c, r) => ClipTransforms.RandomResizedCrop(c, 8, 8, r));
        Assert.Equal(4, views.Count);
        Assert.True(views.Select(v => Convert.ToHexString(v.Pixels)).Distinct().Count() > 1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CropResizeNormalize_EqualsResizeFlipNormalize(bool flip)
    {
        // The loader's one-pass path must give exactly the floats of the three-step path it replaces.
        Clip clip = RandomClip(3, 30, 40, 11);
        foreach (CropBox box in new[] { new CropBox(7, 3, 20, 18), new CropBox(0, 0, 40, 30), new CropBox(5, 2, 13, 11) })
        {
            Clip resized = BilinearResize.ResizeRegion(clip, box.Left, box.Top, box.Width, box.Height, 13, 11);
            float[] expected = Normalization.ToNormalizedCthw(flip ? ClipTransforms.FlipHorizontal(resized) : resized);
            var actual = new float[expected.Length];
            Normalization.CropResizeToNormalizedCthw(clip.Pixels, clip.Frames, clip.Width, clip.Height, box, 13, 11, flip,
                actual, Normalization.ImageNetMean, Normalization.ImageNetStd);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void CropResizeNormalize_RejectsABoxOutsideTheFrame()
    {
        Clip clip = RandomClip(1, 10, 10, 1);
        var destination = new float[3 * 4 * 4];
        Assert.Throws<ArgumentOutOfRangeException>(() => Normalization.CropResizeToNormalizedCthw(clip.Pixels, 1, 10, 10,
            new CropBox(8, 0, 4, 4), 4, 4, false, destination, Normalization.ImageNetMean, Normalization.ImageNetStd));
        Assert.Throws<ArgumentOutOfRangeException>(() => Normalization.CropResizeToNormalizedCthw(clip.Pixels, 1, 10, 10,
            new CropBox(8, 0, 5, 5), 4, 4, false, destination, Normalization.ImageNetMean, Normalization.ImageNetStd));
    }
}
