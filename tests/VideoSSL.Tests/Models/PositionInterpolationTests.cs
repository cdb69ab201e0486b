using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Tests.Serialization;
using VideoSSL.Torch;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Models;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// Position tables for clips of another size than the model's: V-JEPA's trilinear interpolation against
/// tools/reference/pos_interpolation.py (jepa's interpolate_pos_encoding run by /usr/bin/python3), the encoder's
/// forward on such a clip, and a checkpoint's table for another grid replaced by the model's own, as jepa's evals do.
/// </summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class PositionInterpolationTests
{
    private static readonly Lazy<string> s_fixtures = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("vssl-pos-").FullName;
        SystemPython.RunWithTorch(File.ReadAllText(Path.Combine(RepoPaths.Root, "tools", "reference", "pos_interpolation.py")), dir);
        return Path.Combine(dir, "pos_interp.pth");
    });

    // vjepa's micro encoder on 32 px, 4 frames: a 2 × 2 × 2 grid with a 3-D sincos table.
    private static VideoViTConfig Jepa(int size, int frames) =>
        MethodRegistry.Get("vjepa").EncoderDefaults(VideoViTVariants.Micro) with { ImgSize = size, NumFrames = frames, Depth = 1 };

    private static double MaxDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.Shape, b.Shape);
        return a.ToArray<float>().Zip(b.ToArray<float>(), (x, y) => Math.Abs(x - y)).Max();
    }

    [Fact]
    public void Jepa_interpolation_matches_the_official_code_for_up_down_and_mixed_grids()
    {
        var io = Weights.Load(s_fixtures.Value);
        try
        {
            for (var k = 0; io.ContainsKey($"table{k}"); k++)
            {
                using var scope = Torch.NewScope();
                var g = io[$"grid{k}"].ToArray<long>().Select(v => (int)v).ToArray();
                var ours = PositionTables.InterpolateJepa(io[$"table{k}"], new TokenGrid(g[0], g[1], g[2]), new TokenGrid(g[3], g[4], g[5]));
                var worst = MaxDiff(io[$"expected{k}"], ours);
                Assert.True(worst <= 1e-6, $"case {k} ({string.Join("x", g[..3])} -> {string.Join("x", g[3..])}): max |official - ours| = {worst:G3}");
            }
        }
        finally
        {
            foreach (var t in io.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void A_vjepa_encoder_runs_on_a_larger_clip_with_its_table_interpolated()
    {
        var config = Jepa(32, 4);
        using var encoder = new VideoViTEncoder(config);
        using var scope = Torch.NewScope();
        Torch.ManualSeed(0);
        var clip = Torch.Randn([1, 3, 8, 48, 48]);  // 4 x 3 x 3 tokens instead of 2 x 2 x 2
        using var noGrad = Torch.NoGrad();
        var embedded = encoder.Embed(clip);
        var expected = encoder.PatchEmbed.Forward(clip) + PositionTables.InterpolateJepa(encoder.PosEmbed!, config.Grid, new TokenGrid(4, 3, 3));
        Assert.True(MaxDiff(expected, embedded) == 0);
        Assert.Equal([1L, 36, config.EmbedDim], encoder.Forward(clip).Shape);
    }

    [Fact]
    public void A_checkpoint_table_for_another_grid_gives_way_to_the_models_own()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "small.safetensors");
        Torch.ManualSeed(0);
        using (var small = new VideoViTEncoder(Jepa(32, 4)))
        {
            Checkpoint.Save(path, small, null, new TrainerState(0, 0, 0, 0, 0, "{}"));
        }
        var config = Jepa(48, 8);
        using var large = new VideoViTEncoder(config);
        var message = EvalSetup.InitEncoder(large, path);
        Assert.Contains("kept this model's sincos table [1, 36, ", message);
        using var own = Tensor.From(PositionTables.Sincos3d(config.Grid, config.EmbedDim, config.UniformPower), 1, config.NumTokens, config.EmbedDim);
        Assert.True(MaxDiff(own, large.PosEmbed!) == 0);
        // The fine-tuning classifier takes the same way.
        using var classifier = new VideoViTClassifier(config, 3);
        Assert.Contains("loaded the encoder", EvalSetup.InitClassifier(classifier, path));
    }
}
