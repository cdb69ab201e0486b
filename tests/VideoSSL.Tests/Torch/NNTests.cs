using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Tests.Torch;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

public class NNTests
{
    internal sealed class Mlp : Module
    {
        public Mlp(int input, int hidden, int output)
        {
            Fc1 = Child("fc1", new Linear(input, hidden));
            Norm = Child("norm", new LayerNorm(hidden));
            Fc2 = Child("fc2", new Linear(hidden, output));
        }

        public Linear Fc1 { get; }
        public LayerNorm Norm { get; }
        public Linear Fc2 { get; }

        public TensorT Forward(TensorT x) => Fc2.Forward(Gelu(Norm.Forward(Fc1.Forward(x))));
    }

    private sealed class Blocks : Module
    {
        public Blocks()
        {
            Items = Child("blocks", new ModuleList<Mlp>([new Mlp(2, 3, 2), new Mlp(2, 3, 2)]));
        }

        public ModuleList<Mlp> Items { get; }
    }

    [Fact]
    public void State_dict_names_follow_pytorch()
    {
        using var model = new Blocks();
        var names = model.StateDict().Keys.ToList();
        Assert.Equal("blocks.0.fc1.weight", names[0]);
        Assert.Contains("blocks.1.norm.bias", names);
        Assert.Equal(12, names.Count);
    }

    [Fact]
    public void Strict_load_lists_missing_unexpected_and_mismatched_names()
    {
        using var model = new Mlp(2, 3, 2);
        using var scope = NewScope();
        var state = model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        state.Remove("fc2.bias");
        state["extra.weight"] = Zeros([1]);
        state["fc1.weight"] = Zeros([5, 5]);
        var e = Assert.Throws<StateDictMismatchException>(() => model.LoadStateDict(state));
        Assert.Equal(["fc2.bias"], e.Report.Missing);
        Assert.Equal(["extra.weight"], e.Report.Unexpected);
        Assert.Single(e.Report.ShapeMismatched);
        Assert.Contains("fc1.weight", e.Message, StringComparison.Ordinal);
        // Non-strict loads what matches.
        state["fc1.bias"] = Full([3], 7.0);
        var report = model.LoadStateDict(state, strict: false);
        Assert.False(report.IsExact);
        Assert.Equal([7f, 7f, 7f], model.Fc1.Bias!.Value.ToArray<float>());
    }

    [Fact]
    public void AdamW_step_matches_hand_computed_update()
    {
        using var scope = NewScope();
        var p = new Parameter(TensorT.From(new[] { 1.0f, -2.0f }).RequiresGrad_());
        using var optimizer = new AdamW([new ParamGroup([p], WeightDecay: 0.1)], lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8);
        double[] value = [1.0, -2.0], m = [0, 0], v = [0, 0];
        double[][] grads = [[0.5, -1.5], [0.25, 2.0]];
        for (var step = 1; step <= 2; step++)
        {
            p.Value.Grad = TensorT.From(grads[step - 1].Select(g => (float)g).ToArray());
            optimizer.Step();
            for (var k = 0; k < 2; k++)
            {
                value[k] *= 1 - 0.01 * 0.1;
                m[k] = 0.9 * m[k] + 0.1 * grads[step - 1][k];
                v[k] = 0.999 * v[k] + 0.001 * grads[step - 1][k] * grads[step - 1][k];
                var denominator = Math.Sqrt(v[k]) / Math.Sqrt(1 - Math.Pow(0.999, step)) + 1e-8;
                value[k] -= 0.01 * m[k] / (1 - Math.Pow(0.9, step)) / denominator;
            }
            var actual = p.Value.ToArray<float>();
            Assert.Equal(value[0], actual[0], 5);
            Assert.Equal(value[1], actual[1], 5);
        }
        p.Value.Dispose();
    }

    [Fact]
    public void Parameter_groups_scale_lr_and_skip_decay()
    {
        using var scope = NewScope();
        var decayed = new Parameter(TensorT.From(new[] { 1.0f }).RequiresGrad_());
        var plain = new Parameter(TensorT.From(new[] { 1.0f }).RequiresGrad_());
        using var optimizer = new AdamW([new ParamGroup([decayed], 0.5, LrScale: 0.5), new ParamGroup([plain], 0)], lr: 0.1);
        decayed.Value.Grad = Zeros([1]);
        plain.Value.Grad = Zeros([1]);
        optimizer.Step();
        // Zero gradient: only decay moves the weight, by lr·scale·wd.
        Assert.Equal(1 - 0.1 * 0.5 * 0.5, decayed.Value.Item(), 6);
        Assert.Equal(1.0, plain.Value.Item(), 6);
    }

    [Fact]
    public void Clip_grad_norm_scales_to_max_norm()
    {
        using var scope = NewScope();
        var a = new Parameter(Zeros([2]).RequiresGrad_());
        var b = new Parameter(Zeros([1]).RequiresGrad_());
        a.Value.Grad = TensorT.From(new[] { 3f, 0f });
        b.Value.Grad = TensorT.From(new[] { 4f });
        var norm = GradClip.ClipGradNorm([a, b], 1.0);
        Assert.Equal(5.0, norm, 5);
        Assert.Equal(0.6, a.Value.Grad!.ToArray<float>()[0], 4);
        Assert.Equal(0.8, b.Value.Grad!.ToArray<float>()[0], 4);
    }

    [Fact]
    public void Ema_update_moves_teacher_toward_student()
    {
        using var teacher = new Mlp(2, 2, 1);
        using var student = new Mlp(2, 2, 1);
        using var scope = NewScope();
        var t0 = teacher.Fc1.Weight.Value.Clone();
        var s0 = student.Fc1.Weight.Value.Clone();
        Ema.Update(teacher, student, 0.9);
        var expected = t0.Mul(0.9).Add(s0.Mul(0.1)).ToArray<float>();
        var actual = teacher.Fc1.Weight.Value.ToArray<float>();
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.Equal(expected[k], actual[k], 6);
        }
    }

    [Fact]
    public void Warmup_cosine_schedule_hits_its_anchors()
    {
        Assert.Equal(0, Schedule.WarmupCosine(0, 1e-3, 1e-5, 10, 110));
        Assert.Equal(5e-4 * 10 / 9, Schedule.WarmupCosine(5, 1e-3, 1e-5, 10, 110), 12);
        Assert.Equal(1e-3, Schedule.WarmupCosine(9, 1e-3, 1e-5, 10, 110), 12);  // np.linspace includes its end point
        Assert.Equal(0, Schedule.WarmupCosine(0, 1e-3, 1e-5, 1, 110));
        Assert.Equal(1e-3, Schedule.WarmupCosine(10, 1e-3, 1e-5, 10, 110), 12);
        Assert.Equal((1e-3 + 1e-5) / 2, Schedule.WarmupCosine(60, 1e-3, 1e-5, 10, 110), 12);
        Assert.Equal(1e-5, Schedule.WarmupCosine(110, 1e-3, 1e-5, 10, 110), 12);
    }

    [Fact]
    public void Trunc_normal_has_requested_std_and_bounds()
    {
        using var scope = NewScope();
        ManualSeed(0);
        var t = Init.TruncNormal_(Empty([20000]), std: 0.02);
        Assert.Equal(0.02, t.Std([0]).Item(), 3);
        var tight = Init.TruncNormal_(Empty([20000]), std: 1, a: -0.5, b: 0.5);
        Assert.True(tight.Abs().Max().Item() <= 0.5);
        var w = Init.XavierUniform_(Empty([30, 20]));
        Assert.True(w.Abs().Max().Item() <= Math.Sqrt(6.0 / 50));
    }

    [Fact]
    public void Tiny_mlp_learns_xor()
    {
        ManualSeed(1);
        using var model = new Mlp(2, 16, 2);
        using var optimizer = new AdamW(model.Parameters(), lr: 0.05, weightDecay: 0);
        using var scope = NewScope();
        var x = TensorT.From(new[] { 0f, 0f, 0f, 1f, 1f, 0f, 1f, 1f }, 4, 2);
        var y = TensorT.From(new[] { 0L, 1L, 1L, 0L });
        double first = 0, last = 0;
        for (var step = 0; step < 200; step++)
        {
            using var stepScope = NewScope();
            var loss = CrossEntropy(model.Forward(x), y);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
            last = loss.Item();
            if (step == 0)
            {
                first = last;
            }
        }
        Assert.True(first > 0.5, $"initial loss {first}");
        Assert.True(last < 0.05, $"loss after 200 steps {last} (started at {first})");
    }
}

[Collection(LiveTensorCollection.Name)]
public class LeakTests
{
    [Fact]
    public void Thousand_training_steps_leave_live_tensor_count_unchanged()
    {
        ManualSeed(2);
        using var model = new NNTests.Mlp(8, 16, 4);
        using var optimizer = new AdamW(model.Parameters(), lr: 1e-3);
        using var data = Randn([32, 8]);
        using var labels = RandInt(0, 4, [32]);
        void Step()
        {
            using var scope = NewScope();
            var loss = CrossEntropy(model.Forward(data), labels);
            optimizer.ZeroGrad();
            loss.Backward();
            GradClip.ClipGradNorm(model.Parameters(), 1.0);
            optimizer.Step();
            _ = loss.Item();
        }
        Step();
        // Tensors another test dropped without disposing are freed by their finalizers whenever a GC runs, which the
        // loop below triggers: let them go first, so the count compares these steps alone (one CI run read 28 -> 27).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = TensorT.LiveCount;
        for (var k = 0; k < 1000; k++)
        {
            Step();
        }
        Assert.Equal(before, TensorT.LiveCount);
    }
}
