using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;

namespace VideoSSL.Tests.Models;

using Torch = VideoSSL.Torch.Torch;

public class VisionTransformerTests
{
    /// <summary>A registered size shrunk to a tiny clip (2 × 2 × 2 tokens) and at most two blocks, so even ViT-g builds fast.</summary>
    internal static VideoViTConfig Tiny(string name, int maxDepth = 1) =>
        ModelRegistry.Resolve(name, c => c with { ImgSize = 2 * c.PatchSize, NumFrames = 4, Depth = Math.Min(c.Depth, maxDepth) });

    public static TheoryData<string> RegisteredNames => new(ModelRegistry.Names);

    [Theory]
    [MemberData(nameof(RegisteredNames))]
    public void Every_registered_size_runs_forward_and_backward_without_nan(string name)
    {
        var config = Tiny(name, maxDepth: name is "vit_micro" ? 2 : 1);
        using var model = ModelRegistry.CreateBackbone(config);
        using var scope = Torch.NewScope();
        Torch.ManualSeed(1);
        var clip = Torch.Randn([2, 3, config.NumFrames, config.ImgSize, config.ImgSize]);
        // Divided space-time ViTs: CLS, then one token per frame and patch.
        var tokens = model is DividedViT divided ? divided.ForwardTokens(clip) : ((VideoViTEncoder)model).Forward(clip);
        Assert.Equal([2L, model is DividedViT ? 1 + (4 * 4) : 8, config.EmbedDim], tokens.Shape);
        tokens.Square().Mean().Backward();
        Assert.True(tokens.IsFinite().All().Item() != 0, $"{name}: non-finite features");
        foreach (var (param, p) in model.NamedParameters())
        {
            using var grad = p.Value.Grad;
            Assert.True(grad is not null, $"{name}: {param} got no gradient");
            Assert.True(grad.IsFinite().All().Item() != 0, $"{name}: {param} has a non-finite gradient");
        }
    }

    [Fact]
    public void Registry_table_matches_the_official_sizes()
    {
        (string Name, int Dim, int Depth, int Heads, int Hidden, int Patch)[] expected =
        [
            ("vit_small", 384, 12, 6, 1536, 16),
            ("vit_base", 768, 12, 12, 3072, 16),
            ("vit_large", 1024, 24, 16, 4096, 16),
            ("vit_huge", 1280, 32, 16, 5120, 16),
            ("vit_giant", 1408, 40, 16, 6144, 14),
        ];
        foreach (var e in expected)
        {
            var c = ModelRegistry.Get(e.Name);
            Assert.Equal((e.Dim, e.Depth, e.Heads, e.Hidden, e.Patch), (c.EmbedDim, c.Depth, c.NumHeads, c.MlpHiddenDim, c.PatchSize));
            Assert.Equal((2, 1e-6, QkvBiasStyle.QV), (c.TubeletSize, c.LayerNormEps, c.QkvBias));
        }
        Assert.Equal(1568, ModelRegistry.Get("vit_base").NumTokens);
        Assert.Equal(8 * 16 * 16, ModelRegistry.Get("vit_giant").NumTokens);
        var error = Assert.Throws<ArgumentException>(() => ModelRegistry.Get("vit_bse"));
        Assert.Contains("vit_base", error.Message);
    }

    [Fact]
    public void Bad_configs_are_rejected_with_the_model_name()
    {
        var error = Assert.Throws<ArgumentException>(() => new VideoViTEncoder(VideoViTVariants.Micro with { ImgSize = 40 }));
        Assert.Contains("vit_micro", error.Message);
        Assert.Contains("40", error.Message);
        using var model = new VideoViTEncoder(Tiny("vit_micro"));
        using var scope = Torch.NewScope();
        var wrong = Assert.Throws<ArgumentException>(() => model.Forward(Torch.Zeros([1, 3, 4, 16, 16])));
        Assert.Contains("[B, 3, 4, 32, 32]", wrong.Message);
    }

    [Fact]
    public void Sinusoid_table_interleaves_sin_and_cos_of_the_flat_index()
    {
        var table = PositionTables.Sinusoid1d(10, 8);
        float At(int pos, int j) => table[(pos * 8) + j];
        Assert.Equal(0f, At(0, 0));
        Assert.Equal(1f, At(0, 1));
        Assert.Equal((float)Math.Sin(3), At(3, 0));
        Assert.Equal((float)Math.Cos(3), At(3, 1));
        Assert.Equal((float)Math.Sin(7 / Math.Pow(10000, 2.0 / 8)), At(7, 2)); // j = 2 and 3 share 10000^(2/8)
        Assert.Equal((float)Math.Cos(5 / Math.Pow(10000, 2.0 / 8)), At(5, 3));
        Assert.Equal((float)Math.Cos(9 / Math.Pow(10000, 6.0 / 8)), At(9, 7));
    }

    [Fact]
    public void Position_table_is_a_buffer_but_not_in_the_state_dict()
    {
        using var model = new VideoViTEncoder(Tiny("vit_micro", maxDepth: 2));
        Assert.Equal([1L, 8, 64], model.PosEmbed!.Shape);
        Assert.DoesNotContain(model.StateDict().Keys, k => k.Contains("pos_embed", StringComparison.Ordinal));
        var names = model.StateDict().Keys.ToHashSet();
        foreach (var expected in (string[])["patch_embed.proj.weight", "patch_embed.proj.bias", "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight",
            "blocks.0.attn.q_bias", "blocks.0.attn.v_bias", "blocks.1.attn.proj.bias", "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.bias", "norm.weight", "norm.bias"])
        {
            Assert.Contains(expected, names);
        }
        Assert.DoesNotContain("blocks.0.attn.qkv.bias", names);
        Assert.Equal([192L, 64], model.StateDict()["blocks.0.attn.qkv.weight"].Shape);
    }

    [Fact]
    public void Attention_uses_q_and_v_bias_with_zero_k_bias()
    {
        const int n = 3, c = 4, heads = 2, hd = 2;
        using var attention = new Attention(c, heads, QkvBiasStyle.QV);
        var rng = new Random(5);
        float[] Rand(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var (x, wQkv, qBias, vBias, wProj, bProj) = (Rand(n * c), Rand(3 * c * c), Rand(c), Rand(c), Rand(c * c), Rand(c));
        using var scope = Torch.NewScope();
        attention.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["qkv.weight"] = Tensor.From(wQkv, 3 * c, c),
            ["q_bias"] = Tensor.From(qBias, c),
            ["v_bias"] = Tensor.From(vBias, c),
            ["proj.weight"] = Tensor.From(wProj, c, c),
            ["proj.bias"] = Tensor.From(bProj, c),
        });
        var actual = attention.Forward(Tensor.From(x, 1, n, c)).ToArray<float>();

        var qkv = new double[n, 3 * c];
        for (var t = 0; t < n; t++)
        {
            for (var o = 0; o < 3 * c; o++)
            {
                double s = o < c ? qBias[o] : o < 2 * c ? 0 : vBias[o - (2 * c)];
                for (var i = 0; i < c; i++)
                {
                    s += x[(t * c) + i] * wQkv[(o * c) + i];
                }
                qkv[t, o] = s;
            }
        }
        var mixed = new double[n, c];
        for (var h = 0; h < heads; h++)
        {
            for (var t = 0; t < n; t++)
            {
                var scores = new double[n];
                for (var u = 0; u < n; u++)
                {
                    for (var d = 0; d < hd; d++)
                    {
                        scores[u] += qkv[t, (h * hd) + d] * qkv[u, c + (h * hd) + d] / Math.Sqrt(hd);
                    }
                }
                var max = scores.Max();
                var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                var total = weights.Sum();
                for (var d = 0; d < hd; d++)
                {
                    for (var u = 0; u < n; u++)
                    {
                        mixed[t, (h * hd) + d] += weights[u] / total * qkv[u, (2 * c) + (h * hd) + d];
                    }
                }
            }
        }
        for (var t = 0; t < n; t++)
        {
            for (var o = 0; o < c; o++)
            {
                double s = bProj[o];
                for (var i = 0; i < c; i++)
                {
                    s += mixed[t, i] * wProj[(o * c) + i];
                }
                Assert.Equal(s, actual[(t * c) + o], 5);
            }
        }
    }

    [Fact]
    public void Patch_embedding_numbers_tokens_t_major_then_h_then_w()
    {
        // 4 frames × 32 × 48 with tubelet 2, patch 16: a 2 × 2 × 3 grid. Each tubelet is filled with its own
        // index; an averaging kernel then gives token n the value n exactly when the order is t, h, w.
        var config = VideoViTVariants.Micro with { ImgSize = 32, NumFrames = 4, EmbedDim = 2, NumHeads = 1, Depth = 1 };
        using var embed = new PatchEmbed3d(config);
        using var scope = Torch.NewScope();
        var data = new float[3 * 4 * 32 * 32];
        for (var ch = 0; ch < 3; ch++)
        {
            for (var t = 0; t < 4; t++)
            {
                for (var y = 0; y < 32; y++)
                {
                    for (var x = 0; x < 32; x++)
                    {
                        data[(((((ch * 4) + t) * 32) + y) * 32) + x] = ((t / 2) * 4) + ((y / 16) * 2) + (x / 16);
                    }
                }
            }
        }
        using (Torch.NoGrad())
        {
            embed.Proj.Weight.Value.Fill_(1.0 / (3 * 2 * 16 * 16));
            embed.Proj.Bias!.Value.Zero_();
        }
        var tokens = embed.Forward(Tensor.From(data, 1, 3, 4, 32, 32));
        Assert.Equal([1L, 8, 2], tokens.Shape);
        var values = tokens.Select(2, 0).ToArray<float>();
        for (var k = 0; k < 8; k++)
        {
            Assert.Equal(k, values[k], 3);
        }
    }

    [Fact]
    public void Visible_subset_gathers_the_embedded_tokens_and_intermediates_end_at_the_output()
    {
        var config = Tiny("vit_micro", maxDepth: 2);
        using var model = new VideoViTEncoder(config);
        using var scope = Torch.NewScope();
        var clip = Torch.Randn([2, 3, 4, 32, 32]);
        var indices = Tensor.From(new long[] { 0, 3, 7, 1, 2, 6 }, 2, 3);
        var all = model.Embed(clip).ToArray<float>();
        var subset = model.Embed(clip, indices).ToArray<float>();
        long[][] picked = [[0, 3, 7], [1, 2, 6]];
        for (var b = 0; b < 2; b++)
        {
            for (var k = 0; k < 3; k++)
            {
                for (var d = 0; d < 64; d++)
                {
                    Assert.Equal(all[(((b * 8) + picked[b][k]) * 64) + d], subset[(((b * 3) + k) * 64) + d]);
                }
            }
        }
        model.Eval();
        var (output, blocks) = model.ForwardIntermediates(clip, 2, indices);
        Assert.Equal(2, blocks.Length);
        Assert.Equal([2L, 3, 64], blocks[1].Shape);
        var normed = model.Norm!.Forward(blocks[1]).ToArray<float>();
        Assert.Equal(normed, output.ToArray<float>());
        // Two forwards of the same input: equal up to BLAS paths that depend on buffer alignment.
        var again = model.Forward(clip, indices).ToArray<float>();
        var first = output.ToArray<float>();
        for (var k = 0; k < first.Length; k++)
        {
            Assert.True(Math.Abs(first[k] - again[k]) <= 1e-5f * Math.Max(1f, Math.Abs(first[k])), $"output {k}: {first[k]} vs {again[k]}");
        }
    }

    [Fact]
    public void Classifier_uses_official_fine_tuning_names_and_a_scaled_head()
    {
        var config = VideoViTVariants.Micro with { ImgSize = 32, NumFrames = 4, DropPathRate = 0.1, Depth = 3 };
        using var model = new VideoViTClassifier(config, numClasses: 400, initScale: 0.001);
        var names = model.StateDict().Keys.ToHashSet();
        Assert.Contains("patch_embed.proj.weight", names);
        Assert.Contains("blocks.2.attn.q_bias", names);
        Assert.Contains("fc_norm.weight", names);
        Assert.Contains("head.bias", names);
        Assert.DoesNotContain("norm.weight", names);
        Assert.DoesNotContain(names, n => n.StartsWith("encoder.", StringComparison.Ordinal));
        // trunc_normal(0.02) × 0.001: a standard deviation near 2e-5, far below any default init.
        using var scope = Torch.NewScope();
        var std = model.Head.Weight.Value.Std([0, 1]).Item();
        Assert.InRange(std, 1.5e-5, 2.5e-5);
        Assert.Equal([0.0, 0.05, 0.1], Enumerable.Range(0, 3).Select(i => model.Blocks[i].DropPath.P).ToArray());
        var logits = model.Classify(Torch.Randn([2, 3, 4, 32, 32]));
        Assert.Equal([2L, 400], logits.Shape);
    }
}
