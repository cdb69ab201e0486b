using VideoSSL.Tests.Torch;
using VideoSSL.Torch;
using VideoSSL.Torch.Optim;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Evaluation;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

public class ProbeTests
{
    [Fact]
    public void Linear_probe_head_has_maes_names_and_a_batchnorm_without_affine_parameters()
    {
        using var head = new LinearProbeHead(6, 3);
        Assert.Equal(
            ["head.1.weight", "head.1.bias", "head.0.running_mean", "head.0.running_var", "head.0.num_batches_tracked"],
            head.StateDict().Keys.ToList());
        Assert.Equal(["head.1.weight", "head.1.bias"], head.NamedParameters().Select(p => p.Key).ToList());
        Assert.Equal(1e-6, head.Head.Norm.Eps);
        Assert.Equal(0.0, head.Head.Linear.Bias!.Value.Abs().Sum().Item());
    }

    [Fact]
    public void Linear_probe_whitens_features_with_batch_statistics_in_training_mode()
    {
        using var head = new LinearProbeHead(3, 3);
        using var scope = NewScope();
        using (NoGrad())
        {
            head.Head.Linear.Weight.Value.Copy_(TensorT.From(new float[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 }, 3, 3));
        }
        var x = TensorT.From(new float[] { 1, 10, -5, 3, 20, -5, 5, 30, 5, 7, 40, 5 }, 4, 3);
        var y = head.Forward(x).ToArray<float>();
        for (var c = 0; c < 3; c++)
        {
            var column = Enumerable.Range(0, 4).Select(r => (double)y[r * 3 + c]).ToArray();
            var mean = column.Average();
            var variance = column.Select(v => (v - mean) * (v - mean)).Average();
            Assert.Equal(0, mean, 5);
            Assert.Equal(1, variance, 3); // biased batch variance, eps 1e-6
        }
    }

    [Fact]
    public void Last_blocks_pooling_averages_or_concatenates_token_means()
    {
        using var scope = NewScope();
        var a = TensorT.From(new float[] { 1, 2, 3, 4 }, 1, 2, 2); // token mean [2, 3]
        var b = TensorT.From(new float[] { 5, 6, 7, 8 }, 1, 2, 2); // token mean [6, 7]
        Assert.Equal([4f, 5f], TokenPooling.LastBlocks([a, b], BlockPooling.Average).ToArray<float>());
        var concatenated = TokenPooling.LastBlocks([a, b], BlockPooling.Concatenate);
        Assert.Equal([1L, 4L], concatenated.Shape);
        Assert.Equal([2f, 3f, 6f, 7f], concatenated.ToArray<float>());
    }

    [Fact]
    public void Attentive_probe_uses_the_official_module_names()
    {
        using var v1 = new AttentiveProbe(8, 2, 5);
        var names = v1.StateDict().Keys.ToList();
        Assert.Equal(
            [
                "pooler.query_tokens",
                "pooler.cross_attention_block.norm1.weight", "pooler.cross_attention_block.norm1.bias",
                "pooler.cross_attention_block.xattn.q.weight", "pooler.cross_attention_block.xattn.q.bias",
                "pooler.cross_attention_block.xattn.kv.weight", "pooler.cross_attention_block.xattn.kv.bias",
                "pooler.cross_attention_block.xattn.proj.weight", "pooler.cross_attention_block.xattn.proj.bias",
                "pooler.cross_attention_block.norm2.weight", "pooler.cross_attention_block.norm2.bias",
                "pooler.cross_attention_block.mlp.fc1.weight", "pooler.cross_attention_block.mlp.fc1.bias",
                "pooler.cross_attention_block.mlp.fc2.weight", "pooler.cross_attention_block.mlp.fc2.bias",
                "linear.weight", "linear.bias",
            ],
            names);
        Assert.Equal([1L, 1L, 8L], v1.StateDict()["pooler.query_tokens"].Shape);
        Assert.Equal([16L, 8L], v1.StateDict()["pooler.cross_attention_block.xattn.kv.weight"].Shape);
        Assert.Equal([32L, 8L], v1.StateDict()["pooler.cross_attention_block.mlp.fc1.weight"].Shape);

        using var v2 = new AttentiveProbe(8, 2, 5, depth: 4, variant: AttentiveProbeVariant.VJepa2);
        var names2 = v2.StateDict().Keys.ToList();
        Assert.DoesNotContain("pooler.cross_attention_block.xattn.proj.weight", names2);
        Assert.Contains("pooler.blocks.2.attn.qkv.bias", names2);
        Assert.Contains("pooler.blocks.2.attn.proj.weight", names2);
        Assert.DoesNotContain("pooler.blocks.3.norm1.weight", names2);
    }

    [Fact]
    public void Attentive_probe_init_is_trunc_normal_with_residual_outputs_rescaled()
    {
        ManualSeed(11);
        using var probe = new AttentiveProbe(256, 4, 3);
        var state = probe.StateDict();
        double Std(string name) => state[name].Std([0, 1], keepDim: false).Item();
        Assert.Equal(0.02, Std("pooler.cross_attention_block.xattn.q.weight"), 0.001);
        Assert.Equal(0.02 / Math.Sqrt(2), Std("pooler.cross_attention_block.xattn.proj.weight"), 0.001);
        Assert.Equal(0.02 / Math.Sqrt(2), Std("pooler.cross_attention_block.mlp.fc2.weight"), 0.001);
        Assert.Equal(0.0, state["pooler.cross_attention_block.xattn.kv.bias"].Abs().Sum().Item());
        Assert.Equal(0.02, state["pooler.query_tokens"].Std([0, 1, 2]).Item(), 0.004);
        // The classifier keeps PyTorch's default Linear init, U(±1/sqrt(256)).
        Assert.True(state["linear.weight"].Abs().Max().Item() <= 1 / 16.0);
        Assert.True(Std("linear.weight") > 0.03);

        using var deep = new AttentiveProbe(256, 4, 3, depth: 3, variant: AttentiveProbeVariant.VJepa2);
        var s2 = deep.StateDict();
        Assert.Equal(0.02 / Math.Sqrt(2), s2["pooler.blocks.0.mlp.fc2.weight"].Std([0, 1]).Item(), 0.001);
        Assert.Equal(0.02 / Math.Sqrt(4), s2["pooler.blocks.1.attn.proj.weight"].Std([0, 1]).Item(), 0.001);
        Assert.Equal(0.02 / Math.Sqrt(4), s2["pooler.cross_attention_block.mlp.fc2.weight"].Std([0, 1]).Item(), 0.001);
    }

    [Theory]
    [InlineData(AttentiveProbeVariant.VJepa)]
    [InlineData(AttentiveProbeVariant.VJepa2)]
    public void Attentive_probe_matches_a_hand_computation(AttentiveProbeVariant variant)
    {
        const int d = 4, heads = 2, tokens = 3, batch = 2, classes = 3;
        using var probe = new AttentiveProbe(d, heads, classes, variant: variant);
        var rng = new Random(5);
        var values = new Dictionary<string, float[]>();
        using var scope = NewScope();
        var state = new Dictionary<string, TensorT>();
        foreach (var (name, tensor) in probe.StateDict())
        {
            var data = Enumerable.Range(0, (int)tensor.Numel).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            values[name] = data;
            state[name] = TensorT.From(data, tensor.Shape);
        }
        probe.LoadStateDict(state);
        var x = Enumerable.Range(0, batch * tokens * d).Select(_ => (float)(2 * rng.NextDouble() - 1)).ToArray();

        var actual = probe.Forward(TensorT.From(x, batch, tokens, d)).ToArray<float>();

        var p = "pooler.cross_attention_block.";
        for (var b = 0; b < batch; b++)
        {
            var q = values["pooler.query_tokens"].Select(v => (double)v).ToArray();
            var keys = new double[tokens][];
            var vals = new double[tokens][];
            for (var n = 0; n < tokens; n++)
            {
                var token = x.Skip((b * tokens + n) * d).Take(d).Select(v => (double)v).ToArray();
                var kv = Ref.Linear(Ref.LayerNorm(token, values[p + "norm1.weight"], values[p + "norm1.bias"]), values[p + "xattn.kv.weight"], values[p + "xattn.kv.bias"]);
                keys[n] = kv[..d];
                vals[n] = kv[d..];
            }
            var qp = Ref.Linear(q, values[p + "xattn.q.weight"], values[p + "xattn.q.bias"]);
            var attended = new double[d];
            var headDim = d / heads;
            for (var h = 0; h < heads; h++)
            {
                var scores = new double[tokens];
                for (var n = 0; n < tokens; n++)
                {
                    for (var j = h * headDim; j < (h + 1) * headDim; j++)
                    {
                        scores[n] += qp[j] * keys[n][j] / Math.Sqrt(headDim);
                    }
                }
                var max = scores.Max();
                var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                var total = weights.Sum();
                for (var n = 0; n < tokens; n++)
                {
                    for (var j = h * headDim; j < (h + 1) * headDim; j++)
                    {
                        attended[j] += weights[n] / total * vals[n][j];
                    }
                }
            }
            // No output projection in either variant: V-JEPA's xattn.proj exists (and loads) but its forward never applies it.
            var q1 = q.Zip(attended, (u, v) => u + v).ToArray();
            var hidden = Ref.Linear(Ref.LayerNorm(q1, values[p + "norm2.weight"], values[p + "norm2.bias"]), values[p + "mlp.fc1.weight"], values[p + "mlp.fc1.bias"]);
            var mlp = Ref.Linear(hidden.Select(Ref.Gelu).ToArray(), values[p + "mlp.fc2.weight"], values[p + "mlp.fc2.bias"]);
            var q2 = q1.Zip(mlp, (u, v) => u + v).ToArray();
            var logits = Ref.Linear(q2, values["linear.weight"], values["linear.bias"]);
            for (var c = 0; c < classes; c++)
            {
                Assert.Equal(logits[c], actual[b * classes + c], 4);
            }
        }
    }

    [Fact]
    public void Attentive_probe_learns_which_token_carries_the_class()
    {
        // Each clip has 6 tokens; one is marked (feature 7 = 3) and whether its feature 0 exceeds its feature 1
        // is the class (a comparison, which the LayerNorm before the keys and values preserves). The other
        // tokens' features 0 and 1 are louder noise, so mean pooling cannot solve it: the query must attend.
        ManualSeed(3);
        const int d = 8, tokens = 6;
        var rng = new Random(9);
        (TensorT X, TensorT Y) Batch(int size)
        {
            var x = new float[size * tokens * d];
            var y = new long[size];
            for (var b = 0; b < size; b++)
            {
                var marked = rng.Next(tokens);
                for (var n = 0; n < tokens; n++)
                {
                    for (var j = 0; j < d; j++)
                    {
                        x[(b * tokens + n) * d + j] = (float)(Sampling(rng) * (j < 2 && n != marked ? 2 : 1));
                    }
                    x[(b * tokens + n) * d + 7] = n == marked ? 3 : 0;
                }
                y[b] = x[(b * tokens + marked) * d] > x[(b * tokens + marked) * d + 1] ? 1 : 0;
            }
            return (TensorT.From(x, size, tokens, d), TensorT.From(y, size));
        }

        using var probe = new AttentiveProbe(d, 2, 2);
        using var optimizer = new AdamW(probe.Parameters(), lr: 1e-2, weightDecay: 0.01);
        for (var step = 0; step < 300; step++)
        {
            using var scope = NewScope();
            var (x, y) = Batch(64);
            var loss = CrossEntropy(probe.Forward(x), y);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
        }
        using (NoGrad())
        using (var scope = NewScope())
        {
            var (x, y) = Batch(1000);
            var accuracy = probe.Forward(x).ArgMax(1).Eq(y).Float().Mean().Item();
            Assert.True(accuracy > 0.9, $"accuracy {accuracy}");
        }
    }

    private static double Sampling(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>Plain double-precision reference operations, written independently of the tensor library.</summary>
    private static class Ref
    {
        public static double[] Linear(double[] x, float[] weight, float[] bias)
        {
            var y = new double[bias.Length];
            for (var o = 0; o < y.Length; o++)
            {
                y[o] = bias[o];
                for (var i = 0; i < x.Length; i++)
                {
                    y[o] += weight[o * x.Length + i] * x[i];
                }
            }
            return y;
        }

        public static double[] LayerNorm(double[] x, float[] weight, float[] bias, double eps = 1e-5)
        {
            var mean = x.Average();
            var variance = x.Select(v => (v - mean) * (v - mean)).Average();
            return x.Select((v, i) => (v - mean) / Math.Sqrt(variance + eps) * weight[i] + bias[i]).ToArray();
        }

        public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

        // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
        private static double Erf(double x)
        {
            var t = 1 / (1 + 0.3275911 * Math.Abs(x));
            var y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
            return x >= 0 ? y : -y;
        }
    }
}

[Collection(LiveTensorCollection.Name)]
public class ProbeLeakTests
{
    [Fact]
    public void Probe_forward_and_backward_leave_no_live_tensors()
    {
        using var probe = new AttentiveProbe(8, 2, 3, depth: 2, variant: AttentiveProbeVariant.VJepa2);
        using var x = Randn([2, 5, 8]);
        using var y = TensorT.From(new long[] { 0, 2 }, 2);
        void Step()
        {
            using var scope = NewScope();
            var loss = CrossEntropy(probe.Forward(x), y);
            probe.ZeroGrad();
            loss.Backward();
        }
        Step();
        var before = TensorT.LiveCount;
        for (var k = 0; k < 20; k++)
        {
            Step();
        }
        probe.ZeroGrad();
        Step();
        Assert.Equal(before, TensorT.LiveCount);
    }
}
