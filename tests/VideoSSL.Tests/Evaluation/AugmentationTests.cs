using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Evaluation;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

public class AugmentationTests
{
    private const int B = 4, C = 3, T = 2, H = 16, W = 12, Classes = 5;

    private static TensorT Clips()
    {
        // Distinct values per sample so a mixed pixel tells where it came from.
        var data = new float[B * C * T * H * W];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = i / (C * T * H * W) * 100 + i % 97 * 0.01f;
        }
        return TensorT.From(data, B, C, T, H, W);
    }

    [Fact]
    public void Soft_targets_are_smoothed_one_hots_mixed_with_the_flipped_batch()
    {
        using var scope = NewScope();
        var labels = TensorT.From(new long[] { 0, 1, 2, 4 }, 4);
        var targets = Mixup.MixupTarget(labels, Classes, 0.7, 0.1).ToArray<float>();
        const double off = 0.1 / Classes, on = 1 - 0.1 + off;
        // Row 0 mixes class 0 (weight 0.7) with the last sample's class 4 (weight 0.3).
        double[] row0 = [0.7 * on + 0.3 * off, off, off, off, 0.7 * off + 0.3 * on];
        for (var c = 0; c < Classes; c++)
        {
            Assert.Equal(row0[c], targets[c], 6);
        }
        for (var r = 0; r < 4; r++)
        {
            Assert.Equal(1.0, targets.Skip(r * Classes).Take(Classes).Sum(), 5);
        }
    }

    [Fact]
    public void Mixup_blends_each_clip_with_its_mirror_and_targets_sum_to_one()
    {
        var mixup = new Mixup(Classes, mixupAlpha: 0.8, cutmixAlpha: 0);
        using var scope = NewScope();
        var clips = Clips();
        var labels = TensorT.From(new long[] { 0, 1, 2, 3 }, 4);
        var result = mixup.Apply(clips, labels, new Random(1));
        Assert.False(result.Cutmix);
        Assert.InRange(result.Lambda, 0, 1);
        var expected = clips.Mul(result.Lambda).Add(clips.Flip(0).Mul(1 - result.Lambda));
        Assert.True(result.Clips.Sub(expected).Abs().Max().Item() < 1e-4);
        var sums = result.Targets.Sum(1).ToArray<float>();
        Assert.All(sums, s => Assert.Equal(1.0, s, 5));
    }

    [Fact]
    public void Cutmix_pastes_a_box_from_the_mirror_on_every_frame_and_corrects_lambda_to_the_area()
    {
        var mixup = new Mixup(Classes, mixupAlpha: 0, cutmixAlpha: 1.0, labelSmoothing: 0);
        var labels = TensorT.From(new long[] { 0, 1, 2, 3 }, 4);
        var sawPartialBox = false;
        for (var seed = 0; seed < 20; seed++)
        {
            using var scope = NewScope();
            var clips = Clips();
            var result = mixup.Apply(clips, labels, new Random(seed));
            Assert.True(result.Cutmix);
            var box = result.Box!.Value;
            Assert.InRange(box.Top, 0, H);
            Assert.InRange(box.Bottom, box.Top, H);
            Assert.InRange(box.Left, 0, W);
            Assert.InRange(box.Right, box.Left, W);
            Assert.Equal(1 - (double)box.Area / (H * W), result.Lambda, 12);
            sawPartialBox |= box.Area > 0 && box.Area < H * W;

            // Pixel by pixel: inside the box from sample B−1−i, outside from sample i, the same on every frame.
            var mixed = result.Clips.ToArray<float>();
            var original = clips.ToArray<float>();
            var fromSelf = 0;
            for (var b = 0; b < B; b++)
            {
                for (var c = 0; c < C; c++)
                {
                    for (var t = 0; t < T; t++)
                    {
                        for (var y = 0; y < H; y++)
                        {
                            for (var x = 0; x < W; x++)
                            {
                                var inBox = y >= box.Top && y < box.Bottom && x >= box.Left && x < box.Right;
                                var source = inBox ? B - 1 - b : b;
                                var at = (((b * C + c) * T + t) * H + y) * W + x;
                                var from = (((source * C + c) * T + t) * H + y) * W + x;
                                Assert.Equal(original[from], mixed[at]);
                                fromSelf += inBox ? 0 : 1;
                            }
                        }
                    }
                }
            }
            Assert.Equal(result.Lambda, (double)fromSelf / (B * C * T * H * W), 12);

            // With no smoothing the target weight of the own label is λ, of the mirror's label 1 − λ.
            var targets = result.Targets.ToArray<float>();
            Assert.Equal(result.Lambda, targets[0 * Classes + 0], 5);
            Assert.Equal(1 - result.Lambda, targets[0 * Classes + 3], 5);
        }
        Assert.True(sawPartialBox);
    }

    [Fact]
    public void Rand_box_stays_inside_the_frame_for_any_lambda()
    {
        var rng = new Random(3);
        for (var k = 0; k < 2000; k++)
        {
            var lambda = rng.NextDouble();
            var box = Mixup.RandBox(H, W, lambda, rng);
            Assert.InRange(box.Top, 0, H);
            Assert.InRange(box.Bottom, box.Top, H);
            Assert.InRange(box.Left, 0, W);
            Assert.InRange(box.Right, box.Left, W);
            // Never larger than the requested cut (timm's int(side · sqrt(1 − λ)) with integer halves).
            Assert.True(box.Bottom - box.Top <= (int)(H * Math.Sqrt(1 - lambda)));
        }
    }

    [Fact]
    public void Same_seed_reproduces_mixup_exactly_and_the_switch_uses_both_modes()
    {
        var mixup = new Mixup(Classes);
        using var scope = NewScope();
        var clips = Clips();
        var labels = TensorT.From(new long[] { 0, 1, 2, 3 }, 4);
        var a = mixup.Apply(clips, labels, new Random(42));
        var b = mixup.Apply(clips, labels, new Random(42));
        Assert.Equal(a.Lambda, b.Lambda);
        Assert.Equal(a.Box, b.Box);
        Assert.Equal(a.Clips.ToArray<float>(), b.Clips.ToArray<float>());
        Assert.Equal(a.Targets.ToArray<float>(), b.Targets.ToArray<float>());

        var rng = new Random(0);
        var cutmix = Enumerable.Range(0, 400).Count(_ => mixup.DrawParameters(rng).Cutmix);
        Assert.InRange(cutmix, 160, 240); // switch prob 0.5
    }

    [Fact]
    public void Odd_batches_and_wrong_shapes_are_rejected()
    {
        var mixup = new Mixup(Classes);
        using var scope = NewScope();
        var odd = Zeros([3, C, T, H, W]);
        Assert.Throws<ArgumentException>(() => mixup.Apply(odd, TensorT.From(new long[] { 0, 1, 2 }, 3), new Random(0)));
        Assert.Throws<ArgumentException>(() => mixup.Apply(Zeros([4, C, H, W]), TensorT.From(new long[] { 0, 1, 2, 3 }, 4), new Random(0)));
    }

    [Fact]
    public void Mixup_lambda_follows_beta_0_8()
    {
        var mixup = new Mixup(Classes, mixupAlpha: 0.8, cutmixAlpha: 0);
        var rng = new Random(7);
        var draws = Enumerable.Range(0, 20000).Select(_ => mixup.DrawParameters(rng).Lambda).ToArray();
        var mean = draws.Average();
        var variance = draws.Select(v => (v - mean) * (v - mean)).Average();
        Assert.All(draws, v => Assert.InRange(v, 0, 1));
        Assert.Equal(0.5, mean, 2);
        Assert.Equal(0.64 / (2.56 * 2.6), variance, 2); // ab / ((a+b)²(a+b+1))
    }

    [Fact]
    public void Random_erasing_erases_one_box_at_the_same_place_in_every_frame()
    {
        const int frames = 4, height = 32, width = 24;
        var erasing = new RandomErasing(probability: 1.0);
        for (var seed = 0; seed < 10; seed++)
        {
            var clip = Enumerable.Range(0, C * frames * height * width).Select(i => 1000f + i).ToArray();
            var boxes = erasing.Apply(clip, C, frames, height, width, new Random(seed));
            var box = Assert.Single(boxes);
            Assert.InRange(box.Top, 0, height - box.Height);
            Assert.InRange(box.Left, 0, width - box.Width);
            Assert.InRange(box.Height * box.Width, 1, (int)(height * width / 3.0 * 1.5));
            for (var c = 0; c < C; c++)
            {
                for (var t = 0; t < frames; t++)
                {
                    for (var y = 0; y < height; y++)
                    {
                        for (var x = 0; x < width; x++)
                        {
                            var i = ((c * frames + t) * height + y) * width + x;
                            var inBox = y >= box.Top && y < box.Top + box.Height && x >= box.Left && x < box.Left + box.Width;
                            // Outside: untouched. Inside: N(0, 1) noise, far from the original values ≥ 1000.
                            Assert.True(inBox ? Math.Abs(clip[i]) < 10 : clip[i] == 1000f + i);
                        }
                    }
                }
            }
            // Fresh noise per frame: frame 0 and frame 1 differ inside the box.
            var first = ((0 * frames + 0) * height + box.Top) * width + box.Left;
            var second = ((0 * frames + 1) * height + box.Top) * width + box.Left;
            Assert.NotEqual(clip[first], clip[second]);
        }
    }

    [Fact]
    public void Random_erasing_respects_its_probability_and_reproduces_from_a_seed()
    {
        var erasing = new RandomErasing(probability: 0.25);
        var rng = new Random(4);
        var erased = 0;
        for (var k = 0; k < 1000; k++)
        {
            var clip = new float[C * 2 * 8 * 8];
            erased += erasing.Apply(clip, C, 2, 8, 8, rng).Count > 0 ? 1 : 0;
        }
        Assert.InRange(erased, 200, 300);

        var always = new RandomErasing(probability: 1.0);
        var a = new float[C * 2 * 16 * 16];
        var b = new float[C * 2 * 16 * 16];
        always.Apply(a, C, 2, 16, 16, new Random(8));
        always.Apply(b, C, 2, 16, 16, new Random(8));
        Assert.Equal(a, b);
        Assert.Throws<ArgumentException>(() => always.Apply(new float[10], C, 2, 16, 16, new Random(0)));
    }
}
