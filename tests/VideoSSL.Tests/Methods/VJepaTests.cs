using System.Text.Json;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Tests.Serialization;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Methods;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// V-JEPA and V-JEPA 2 against tools/reference/vjepa_reference.py, a transcription of the official modules, mask
/// generator and loss (run by /usr/bin/python3 with torch 1.13), and against hand computations.
/// </summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class VJepaTests
{
    private static readonly string s_script = Path.Combine(RepoPaths.Root, "tools", "reference", "vjepa_reference.py");

    private static readonly Lazy<string> s_fixtures = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("vssl-vjepa-").FullName;
        SystemPython.RunWithTorch(File.ReadAllText(s_script), "fixtures", dir);
        return dir;
    });

    /// <summary>The fixture's tiny model: 64 × 64 × 4 clips, patch 16, tubelet 2 (2 × 4 × 4 tokens), dim 64, 2 heads, predictor 32 × 2.</summary>
    internal static VideoViTConfig TinyEncoder(bool v2) => MethodRegistry.Get(v2 ? "vjepa2" : "vjepa").EncoderDefaults(VideoViTVariants.Micro) with
    {
        ImgSize = 64,
        NumFrames = 4,
    };

    internal static VJepaSettings TinySettings(bool v2) => (v2 ? MethodRegistry.V2Defaults : new VJepaSettings()) with
    {
        PredEmbedDim = 32,
        PredDepth = 2,
        PredNumHeads = 2,
    };

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var (e, a) = (expected.Float().ToArray<float>(), actual.Float().ToArray<float>());
        var worst = e.Zip(a, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(worst <= tolerance, $"max |official − ours| = {worst:G3} > {tolerance:G3}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Official_checkpoint_loads_and_reproduces_predictions_targets_and_loss(bool v2)
    {
        var version = v2 ? 2 : 1;
        using var model = new VJepaModel(TinyEncoder(v2), TinySettings(v2), v2);
        model.LoadOfficial(Path.Combine(s_fixtures.Value, $"vjepa{version}.pth.tar"));
        var io = Weights.Load(Path.Combine(s_fixtures.Value, $"io{version}.pth"));
        try
        {
            using var scope = Torch.NewScope();
            var masks = Enumerable.Range(0, 2).Select(i => (io[$"context{i}"], io[$"targets{i}"])).ToList();
            var output = model.Loss(io["clips"], masks);
            for (var i = 0; i < 2; i++)
            {
                AssertClose(io[$"target{i}"], output.Targets[i], 1e-5);
                AssertClose(io[$"prediction{i}"], output.Predictions[i], 1e-5);
            }
            Assert.Equal(io["loss"].Item(), output.Loss.Item(), 5);
        }
        finally
        {
            foreach (var t in io.Values)
            {
                t.Dispose();
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Official_checkpoint_initialises_a_probe_encoder_with_the_target_encoder(bool v2)
    {
        // The probe configs name the encoder's layout (qkv bias, sincos3d / rope3d); InitEncoder reads `target_encoder`.
        var version = v2 ? 2 : 1;
        var section = new VideoSSL.Training.Config.ClassifierSection
        {
            Encoder = "vit_micro", ImgSize = 64, Frames = 4, DropPath = 0,
            PosEmbed = v2 ? PositionEmbedding.Rope3d : PositionEmbedding.Sincos3d, QkvBias = QkvBiasStyle.Qkv,
        };
        using var encoder = new VideoViTEncoder(VideoSSL.Training.Evaluation.EvalSetup.ModelConfig(section));
        VideoSSL.Training.Evaluation.EvalSetup.InitEncoder(encoder, Path.Combine(s_fixtures.Value, $"vjepa{version}.pth.tar"));
        var io = Weights.Load(Path.Combine(s_fixtures.Value, $"io{version}.pth"));
        try
        {
            using var scope = Torch.NewScope();
            using var noGrad = Torch.NoGrad();
            var h = encoder.Forward(io["clips"]);
            h = Torch.LayerNorm(h, [h.Size(-1)], eps: 1e-5);
            AssertClose(io["target0"], VideoViTEncoder.GatherTokens(h, io["targets0"]), 1e-5);
        }
        finally
        {
            foreach (var t in io.Values)
            {
                t.Dispose();
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_checkpoint_with_a_missing_entry_names_it(bool v2)
    {
        using var model = new VJepaModel(TinyEncoder(v2), TinySettings(v2) with { PredDepth = 1 }, v2);
        var e = Assert.Throws<StateDictMismatchException>(() => model.LoadOfficial(Path.Combine(s_fixtures.Value, $"vjepa{(v2 ? 2 : 1)}.pth.tar")));
        Assert.Contains("[predictor]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mask_generator_draws_the_official_indices_from_the_same_random_numbers()
    {
        var io = Weights.Load(Path.Combine(s_fixtures.Value, "io1.pth"));
        try
        {
            var settings = new VJepaSettings();
            var grid = TinyEncoder(false).Grid;
            for (var i = 0; i < 2; i++)
            {
                var uniforms = new Queue<double>(io[$"uniform{i}"].ToArray<double>());
                var raw = new Queue<long>(io[$"randint{i}"].ToArray<long>());
                var generator = new MultiblockMaskGenerator(grid, VJepaSettings.OfficialMasks[i]);
                var masks = generator.Next(3, uniforms.Dequeue, (lo, hi) => lo + (int)(raw.Dequeue() % (hi - lo)));
                Assert.Empty(uniforms);
                Assert.Empty(raw);
                Assert.Equal(Rows(io[$"context{i}"]), masks.Context);
                Assert.Equal(Rows(io[$"targets{i}"]), masks.Targets);
            }
        }
        finally
        {
            foreach (var t in io.Values)
            {
                t.Dispose();
            }
        }

        static long[][] Rows(Tensor t)
        {
            var flat = t.ToArray<long>();
            var n = (int)t.Size(1);
            return Enumerable.Range(0, (int)t.Size(0)).Select(b => flat[(b * n)..((b + 1) * n)]).ToArray();
        }
    }

    [Fact]
    public void Mask_generator_matches_the_official_statistics_on_the_vit_l_grid()
    {
        var path = Path.Combine(s_fixtures.Value, "stats.json");
        SystemPython.RunWithTorch(File.ReadAllText(s_script), "maskstats", path);
        var official = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        var grid = new TokenGrid(8, 14, 14);
        var settings = new VJepaSettings();
        var random = new Random(5);
        for (var i = 0; i < 2; i++)
        {
            var generator = new MultiblockMaskGenerator(grid, VJepaSettings.OfficialMasks[i]);
            var (masked, context) = (0.0, 0.0);
            const int Batches = 200;
            for (var k = 0; k < Batches; k++)
            {
                var m = generator.Next(8, random.NextDouble, random.Next);
                masked += m.Targets[0].Length / 1568.0 / Batches;
                context += m.Context[0].Length / (double)Batches;
                // Truncation to the batch minimum: every row has the same length, and keeps the lowest indices (ascending).
                Assert.All(m.Context, row => Assert.Equal(m.Context[0].Length, row.Length));
                Assert.All(m.Context, row => Assert.True(row.SequenceEqual(row.Order())));
                Assert.All(m.Context.Zip(m.Targets), p => Assert.Empty(p.First.Intersect(p.Second)));
            }
            var expected = official[i];
            Assert.InRange(masked, expected.GetProperty("masked_fraction").GetDouble() - 0.02, expected.GetProperty("masked_fraction").GetDouble() + 0.02);
            var contextExpected = expected.GetProperty("context_tokens").GetDouble();
            Assert.InRange(context, contextExpected * 0.93, contextExpected * 1.07);
        }
    }

    [Fact]
    public void Block_size_follows_the_official_rounding()
    {
        // 14 × 14 grid, spatial scale 0.15 → keep int(196 · 0.15) = 29; aspect 0.75 + 0.5 · 0.75 = 1.125:
        // h = round(sqrt(29 · 1.125)) = round(5.712) = 6, w = round(sqrt(29 / 1.125)) = round(5.077) = 5.
        var generator = new MultiblockMaskGenerator(new TokenGrid(8, 14, 14), VJepaSettings.OfficialMasks[0]);
        var draws = new Queue<double>([0.3, 0.9, 0.5]);
        Assert.Equal((8, 6, 5), generator.BlockSize(draws.Dequeue));
    }

    [Fact]
    public void Empty_context_is_redrawn()
    {
        // 1 × 2 × 2 grid, four 1 × 1 blocks: the first draw covers every cell (empty context) and must be thrown
        // away; the second puts all four blocks on cell 0.
        var settings = new MaskBlockSettings { SpatialScale = [0.25, 0.25], AspectRatio = [1.0, 1.0], NumBlocks = 4 };
        var generator = new MultiblockMaskGenerator(new TokenGrid(1, 2, 2), settings);
        // Per block: top, left, start (start is always randint(0, 1) = 0).
        var draws = new Queue<int>([0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, /* redraw */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        var masks = generator.Next(1, () => 0.0, (lo, hi) => draws.Dequeue());
        Assert.Empty(draws);
        Assert.Equal([1L, 2, 3], masks.Context[0]);
        Assert.Equal([0L], masks.Targets[0]);
    }

    [Theory]
    [InlineData(RopePairing.Official, "official")]
    [InlineData(RopePairing.Textbook, "textbook")]
    public void Rope_matches_the_official_rotation(RopePairing pairing, string key)
    {
        var rope = Weights.Load(Path.Combine(s_fixtures.Value, "rope.pth"));
        try
        {
            using var scope = Torch.NewScope();
            var r = new Rope3d(32, 4, 4, pairing);
            var angles = r.Angles(rope["pos"], ScalarType.Float32);
            AssertClose(rope[key], r.Apply(rope["q"], angles), 1e-5);
        }
        finally
        {
            foreach (var t in rope.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Rope_rotates_by_hand_computed_angles()
    {
        // head dim 12 → 4 dims per axis (ω = 1, 1/100), nothing left over. Token 21 on a 3 × 4 grid: t = 1, h = 2, w = 1.
        using var scope = Torch.NewScope();
        var x = Enumerable.Range(1, 12).Select(v => (float)v).ToArray();
        var q = Tensor.From(x, 1, 1, 1, 12);
        var positions = Tensor.From<long>([21L], [1, 1]);
        double[] omega = [1.0, 0.01];
        int[] pos = [1, 2, 1];
        foreach (var pairing in (RopePairing[])[RopePairing.Official, RopePairing.Textbook])
        {
            var r = new Rope3d(12, 3, 4, pairing);
            var y = r.Apply(q, r.Angles(positions, ScalarType.Float32)).ToArray<float>();
            for (var a = 0; a < 3; a++)
            {
                for (var i = 0; i < 4; i++)
                {
                    // Official: element i uses frequency i mod 2 ([f0, f1, f0, f1]); textbook: i / 2 ([f0, f0, f1, f1]).
                    var f = pos[a] * omega[pairing == RopePairing.Official ? i % 2 : i / 2];
                    var partner = i % 2 == 0 ? -x[(a * 4) + i + 1] : x[(a * 4) + i - 1];
                    var expected = (x[(a * 4) + i] * Math.Cos(f)) + (partner * Math.Sin(f));
                    Assert.Equal(expected, y[(a * 4) + i], 4);
                }
            }
            // Head dims 13 and 14 keep the same 4 dims per axis and leave 1 or 2 dims unrotated, bit for bit (the even
            // rest rides through the rotation with cos 1, sin 0; the odd one is concatenated back).
            foreach (var headDim in new[] { 13, 14 })
            {
                var wide = Enumerable.Range(1, headDim).Select(v => (float)v).ToArray();
                var rw = new Rope3d(headDim, 3, 4, pairing);
                var yw = rw.Apply(Tensor.From(wide, 1, 1, 1, headDim), rw.Angles(positions, ScalarType.Float32)).ToArray<float>();
                Assert.Equal(y, yw[..12]);
                Assert.Equal(wide[12..], yw[12..]);
            }
        }
    }

    [Fact]
    public void Rope_tables_of_one_forward_are_built_once_with_the_same_values_as_per_block()
    {
        using var scope = Torch.NewScope();
        var positions = Tensor.From<long>([0L, 5L, 21L, 30L], [2, 2]);
        var r = new Rope3d(12, 3, 4, RopePairing.Official);
        using var tables = new RopeTables();
        var first = tables.Angles(r, positions, 2, ScalarType.Float32, VideoSSL.Torch.Device.CPU);
        var again = tables.Angles(new Rope3d(12, 3, 4, RopePairing.Official), positions, 2, ScalarType.Float32, VideoSSL.Torch.Device.CPU);
        Assert.Same(first.Cos, again.Cos);
        var direct = r.Angles(positions, ScalarType.Float32);
        Assert.Equal(direct.Cos.ToArray<float>(), first.Cos.ToArray<float>());
        Assert.Equal(direct.Sin.ToArray<float>(), first.Sin.ToArray<float>());
        // Another head width, pairing or dtype is another table; no positions means 0..N-1.
        Assert.NotSame(first.Cos, tables.Angles(new Rope3d(12, 3, 4, RopePairing.Textbook), positions, 2, ScalarType.Float32, VideoSSL.Torch.Device.CPU).Cos);
        var bf16 = tables.Angles(r, positions, 2, ScalarType.BFloat16, VideoSSL.Torch.Device.CPU);
        Assert.Equal(ScalarType.BFloat16, bf16.Cos.Dtype);
        using var plain = new RopeTables();
        var arange = Tensor.From<long>([0L, 1L, 2L], [1, 3]);
        Assert.Equal(r.Angles(arange, ScalarType.Float32).Sin.ToArray<float>(), plain.Angles(r, null, 3, ScalarType.Float32, VideoSSL.Torch.Device.CPU).Sin.ToArray<float>());
    }

    [Fact]
    public void Sincos_table_is_sin_then_cos_per_axis_with_uniform_power()
    {
        // d = 12, uniform power: 2·ceil(12/6) = 4 dims per axis: [sin(p), sin(p/100), cos(p), cos(p/100)] for t, h, w.
        var table = PositionTables.Sincos3d(new TokenGrid(2, 3, 3), 12, uniformPower: true);
        var (t, h, w) = (1, 2, 0);
        var row = table.AsSpan(((t * 9) + (h * 3) + w) * 12, 12).ToArray();
        double[] expected = [.. Axis(t), .. Axis(h), .. Axis(w)];
        for (var j = 0; j < 12; j++)
        {
            Assert.Equal(expected[j], row[j], 6);
        }

        static double[] Axis(int p) => [Math.Sin(p), Math.Sin(p / 100.0), Math.Cos(p), Math.Cos(p / 100.0)];
    }
}
