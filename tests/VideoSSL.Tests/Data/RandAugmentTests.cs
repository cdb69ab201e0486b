using System.Globalization;
using VideoSSL.Data;
using VideoSSL.Data.Transforms;
using VideoSSL.Tests.Serialization;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Data;

public class RandAugmentTests
{
    private const int W = 23;
    private const int H = 17;

    // PIL's functions as VideoMAE's rand_augment.py calls them (bicubic, grey fill for the geometric ops).
    private const string PilOps = """
        import sys
        from PIL import Image, ImageOps, ImageEnhance
        src, w, h, spec, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
        img = Image.frombytes("RGB", (w, h), open(src, "rb").read())
        kw = dict(resample=Image.BICUBIC, fillcolor=(128, 128, 128))
        def affine(m): return img.transform(img.size, Image.AFFINE, m, **kw)
        ops = {
            "AutoContrast": lambda a: ImageOps.autocontrast(img),
            "Equalize": lambda a: ImageOps.equalize(img),
            "Invert": lambda a: ImageOps.invert(img),
            "Rotate": lambda a: img.rotate(a, **kw),
            "Posterize": lambda a: ImageOps.posterize(img, int(a)),
            "Solarize": lambda a: ImageOps.solarize(img, a),
            "SolarizeAdd": lambda a: img.point([min(255, i + int(a)) if i < 128 else i for i in range(256)] * 3),
            "Color": lambda a: ImageEnhance.Color(img).enhance(a),
            "Contrast": lambda a: ImageEnhance.Contrast(img).enhance(a),
            "Brightness": lambda a: ImageEnhance.Brightness(img).enhance(a),
            "Sharpness": lambda a: ImageEnhance.Sharpness(img).enhance(a),
            "ShearX": lambda a: affine((1, a, 0, 0, 1, 0)),
            "ShearY": lambda a: affine((1, 0, 0, a, 1, 0)),
            "TranslateXRel": lambda a: affine((1, 0, a * w, 0, 1, 0)),
            "TranslateYRel": lambda a: affine((1, 0, 0, 0, 1, a * h)),
        }
        with open(out, "wb") as f:
            for line in open(spec).read().split("\n"):
                if line.strip():
                    name, arg = line.split()
                    f.write(ops[name](float(arg)).tobytes())
        """;

    /// <summary>A frame with a limited, uneven range (so autocontrast and equalize change it), edges and noise.</summary>
    private static byte[] TestFrame()
    {
        var rng = new Random(5);
        var pixels = new byte[W * H * 3];
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                int o = (y * W + x) * 3;
                pixels[o] = (byte)(40 + x * 6 + rng.Next(10));
                pixels[o + 1] = (byte)(90 + (x > 11 ? 60 : 0) + y * 2 + rng.Next(6));
                pixels[o + 2] = (byte)(20 + (x + y) % 7 * 25 + rng.Next(4));
            }
        }
        return pixels;
    }

    public static TheoryData<RandAugment.Op, double, int> Cases() => new()
    {
        // Exact, except the bicubic ops: PIL truncates their sums too, and a sum that lands a hair either side of an
        // integer (another summation order) moves one level.
        { RandAugment.Op.AutoContrast, 0, 0 },
        { RandAugment.Op.Equalize, 0, 0 },
        { RandAugment.Op.Invert, 0, 0 },
        { RandAugment.Op.Posterize, 2, 0 },
        { RandAugment.Op.Solarize, 77, 0 },
        { RandAugment.Op.SolarizeAdd, 77, 0 },
        { RandAugment.Op.Color, 1.63, 0 },
        { RandAugment.Op.Color, 0.37, 0 },
        { RandAugment.Op.Contrast, 1.63, 0 },
        { RandAugment.Op.Contrast, 0.37, 0 },
        { RandAugment.Op.Brightness, 1.63, 0 },
        { RandAugment.Op.Brightness, 0.37, 0 },
        { RandAugment.Op.Sharpness, 1.63, 0 },
        { RandAugment.Op.Sharpness, 0.37, 0 },
        { RandAugment.Op.Rotate, 21, 1 },
        { RandAugment.Op.Rotate, -13.5, 1 },
        { RandAugment.Op.ShearX, 0.21, 1 },
        { RandAugment.Op.ShearY, -0.21, 1 },
        { RandAugment.Op.TranslateXRel, 0.315, 1 },
        { RandAugment.Op.TranslateYRel, -0.2, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_op_matches_PIL(RandAugment.Op op, double argument, int tolerance)
    {
        using var dir = new TempDirectory();
        byte[] frame = TestFrame();
        string src = Path.Combine(dir.Path, "frame.rgb");
        string spec = Path.Combine(dir.Path, "spec.txt");
        string outFile = Path.Combine(dir.Path, "out.rgb");
        File.WriteAllBytes(src, frame);
        File.WriteAllText(spec, string.Create(CultureInfo.InvariantCulture, $"{op} {argument:R}\n"));
        SystemPython.Run(PilOps, src, W.ToString(CultureInfo.InvariantCulture), H.ToString(CultureInfo.InvariantCulture), spec, outFile);
        byte[] expected = File.ReadAllBytes(outFile);

        byte[] ours = (byte[])frame.Clone();
        RandAugment.ApplyToFrame(op, argument, ours, W, H, new byte[ours.Length]);

        Assert.NotEqual(frame, expected);  // the case must change the frame, or it checks nothing
        int worst = 0;
        int at = -1;
        for (int i = 0; i < ours.Length; i++)
        {
            int d = Math.Abs(ours[i] - expected[i]);
            if (d > worst)
            {
                (worst, at) = (d, i);
            }
        }
        Assert.True(worst <= tolerance,
            $"{op}({argument}): byte {at} (x {at / 3 % W}, y {at / 3 / W}, channel {at % 3}) is {(at >= 0 ? ours[at] : 0)}, PIL gives {(at >= 0 ? expected[at] : 0)}");
    }

    [Fact]
    public void Policy_parses_timm_strings_and_names_bad_parts()
    {
        Assert.Equal(new RandAugmentPolicy(7, 4, 0.5, true), RandAugmentPolicy.Parse(RandAugmentPolicy.VideoMae));
        Assert.Equal(new RandAugmentPolicy(9, 2, 0, false), RandAugmentPolicy.Parse("rand-m9"));
        Assert.Null(RandAugmentPolicy.Parse("none"));
        Assert.Null(RandAugmentPolicy.Parse(""));
        var bad = Assert.Throws<FormatException>(() => RandAugmentPolicy.Parse("rand-m7-q3", "aug.auto_augment"));
        Assert.Contains("aug.auto_augment", bad.Message, StringComparison.Ordinal);
        Assert.Contains("'q3'", bad.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => RandAugmentPolicy.Parse("autoaug-m7"));
        Assert.Throws<FormatException>(() => RandAugmentPolicy.Parse("rand-m11"));
    }

    [Fact]
    public void A_bad_policy_in_a_finetune_config_is_an_error_naming_the_key()
    {
        var ex = Assert.Throws<ConfigException>(() => EvalSetup.RandAugment(new AugmentSection { AutoAugment = "rand-m7-x" }));
        Assert.Contains("aug.auto_augment", ex.Message, StringComparison.Ordinal);
        Assert.Equal(RandAugmentPolicy.Parse(RandAugmentPolicy.VideoMae), EvalSetup.RandAugment(new AugmentSection()));
        Assert.Null(EvalSetup.RandAugment(new AugmentSection { AutoAugment = "none" }));
    }

    [Fact]
    public void Every_frame_of_a_clip_gets_the_same_ops_and_the_input_is_kept()
    {
        byte[] frame = TestFrame();
        var clip = new Clip(3, H, W);
        for (int t = 0; t < 3; t++)
        {
            frame.CopyTo(clip.Frame(t));
        }
        byte[] before = (byte[])clip.Pixels.Clone();
        var policy = RandAugmentPolicy.Parse(RandAugmentPolicy.VideoMae)!;
        int changed = 0;
        for (int seed = 0; seed < 20; seed++)
        {
            Clip a = RandAugment.Apply(clip, policy, new Random(seed));
            Clip b = RandAugment.Apply(clip, policy, new Random(seed));
            Assert.Equal(a.Pixels, b.Pixels);  // deterministic by seed
            Assert.Equal(a.Frame(0).ToArray(), a.Frame(1).ToArray());
            Assert.Equal(a.Frame(0).ToArray(), a.Frame(2).ToArray());
            changed += a.Pixels.AsSpan().SequenceEqual(before) ? 0 : 1;
        }
        Assert.Equal(before, clip.Pixels);
        // Four ops at probability 0.5 each leave a clip untouched 1/16 of the time.
        Assert.InRange(changed, 15, 20);
    }

    [Fact]
    public void Levels_follow_the_increasing_variants()
    {
        // Magnitude 7 of 10 (timm _*_increasing_level_to_arg): posterize keeps 4 − int(2.8) = 2 bits, solarize at
        // 256 − int(179.2) = 77, enhance factors 1 ± 0.63, rotation ±21°, shear ±0.21, translation ±0.315 of the side.
        var rng = new Random(1);
        Assert.Equal(2, RandAugment.Argument(RandAugment.Op.Posterize, 7, true, rng));
        Assert.Equal(77, RandAugment.Argument(RandAugment.Op.Solarize, 7, true, rng));
        Assert.Equal(77, RandAugment.Argument(RandAugment.Op.SolarizeAdd, 7, true, rng));
        Assert.Equal(0.63, Math.Abs(RandAugment.Argument(RandAugment.Op.Color, 7, true, rng) - 1), 12);
        Assert.Equal(21, Math.Abs(RandAugment.Argument(RandAugment.Op.Rotate, 7, true, rng)), 12);
        Assert.Equal(0.21, Math.Abs(RandAugment.Argument(RandAugment.Op.ShearX, 7, true, rng)), 12);
        Assert.Equal(0.315, Math.Abs(RandAugment.Argument(RandAugment.Op.TranslateYRel, 7, true, rng)), 12);
        // The original (non-increasing) mapping: factor 0.1 + 1.8 · 0.7.
        Assert.Equal(1.36, RandAugment.Argument(RandAugment.Op.Contrast, 7, false, rng), 12);
        var signs = Enumerable.Range(0, 200).Select(_ => Math.Sign(RandAugment.Argument(RandAugment.Op.Rotate, 5, true, rng))).ToArray();
        Assert.Contains(-1, signs);
        Assert.Contains(1, signs);
    }
}
