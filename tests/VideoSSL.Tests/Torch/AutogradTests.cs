using VideoSSL.Torch;

namespace VideoSSL.Tests.Torch;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

/// <summary>Analytic gradients from libtorch's autograd, through our binding, against central finite differences (float64).</summary>
public class AutogradTests
{
    private static void GradCheck(Func<TensorT, TensorT> f, long[] shape, int seed, double tolerance = 1e-6)
    {
        var random = new Random(seed);
        var n = (int)shape.Aggregate(1L, (a, b) => a * b);
        var x0 = Enumerable.Range(0, n).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        using var scope = NewScope();
        double Objective(double[] x, out TensorT? input)
        {
            input = TensorT.From<double>(x, shape).RequiresGrad_();
            var y = f(input);
            // A fixed projection turns any output into a scalar whose gradient exercises every output element.
            var weights = TensorT.From<double>(Enumerable.Range(0, (int)y.Numel).Select(k => Math.Sin(k + 1.0)).ToArray(), y.Shape);
            var value = y.Mul(weights).Sum();
            value.Backward();
            return value.Item();
        }
        Objective(x0, out var inputTensor);
        using var gradTensor = inputTensor!.Grad!;
        var analytic = gradTensor.ToArray<double>();
        const double h = 1e-6;
        for (var k = 0; k < n; k++)
        {
            var plus = (double[])x0.Clone();
            var minus = (double[])x0.Clone();
            plus[k] += h;
            minus[k] -= h;
            var numeric = (Objective(plus, out _) - Objective(minus, out _)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[k]) <= tolerance * Math.Max(1, Math.Abs(numeric)),
                $"d/dx[{k}]: finite difference {numeric}, autograd {analytic[k]}");
        }
    }

    private static TensorT Weights(int seed, params long[] shape)
    {
        var random = new Random(seed);
        var n = (int)shape.Aggregate(1L, (a, b) => a * b);
        return TensorT.From<double>(Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray(), shape);
    }

    [Fact]
    public void Linear_gradient() => GradCheck(x => Linear(x, Weights(1, 4, 3), Weights(2, 4)), [2, 3], 10);

    [Fact]
    public void LayerNorm_gradient() => GradCheck(x => LayerNorm(x, [5], Weights(3, 5), Weights(4, 5), 1e-6), [3, 5], 11);

    [Fact]
    public void Gelu_gradient() => GradCheck(x => Gelu(x), [7], 12);

    [Fact]
    public void Softmax_gradient() => GradCheck(x => x.Softmax(-1), [2, 4], 13);

    [Fact]
    public void Attention_gradient_through_query() =>
        GradCheck(q => ScaledDotProductAttention(q, Weights(5, 1, 2, 3, 4), Weights(6, 1, 2, 3, 4)), [1, 2, 3, 4], 14);

    [Fact]
    public void Attention_matches_explicit_softmax_formula()
    {
        using var scope = NewScope();
        var q = Weights(7, 1, 2, 3, 4);
        var k = Weights(8, 1, 2, 5, 4);
        var v = Weights(9, 1, 2, 5, 4);
        var expected = q.MatMul(k.Transpose(-2, -1)).Mul(0.5).Softmax(-1).MatMul(v).ToArray<double>();
        var actual = ScaledDotProductAttention(q, k, v).ToArray<double>();
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 10);
        }
    }

    [Fact]
    public void Conv3d_gradient() =>
        GradCheck(x => Conv3d(x, Weights(10, 2, 1, 2, 2, 2), Weights(11, 2), [2, 2, 2]), [1, 1, 2, 4, 4], 15);

    [Fact]
    public void No_grad_scope_builds_no_graph()
    {
        using var scope = NewScope();
        var x = Ones([2]).RequiresGrad_();
        using (NoGrad())
        {
            Assert.False(IsGradEnabled);
            Assert.False(x.Mul(2.0).RequiresGrad);
        }
        Assert.True(IsGradEnabled);
        Assert.True(x.Mul(2.0).RequiresGrad);
    }

    [Fact]
    public void Layer_norm_of_a_bf16_input_runs_in_fp32_under_cpu_autocast_as_under_cuda()
    {
        using var scope = NewScope();
        ManualSeed(3);
        var x = Randn([4, 6]).To(ScalarType.BFloat16);
        var w = Randn([6]).RequiresGrad_();
        var b = Randn([6]);
        var expected = LayerNorm(x.To(ScalarType.Float32), [6], w, b).ToArray<float>();
        Tensor y;
        using (Autocast(VideoSSL.Torch.Device.CPU))
        {
            y = LayerNorm(x, [6], w, b);
        }
        Assert.Equal(ScalarType.Float32, y.Dtype);
        Assert.Equal(expected, y.ToArray<float>());
        y.Sum().Backward();
        Assert.NotNull(w.Grad);
    }

    [Fact]
    public void Cpu_autocast_runs_linear_in_bf16_and_restores()
    {
        using var scope = NewScope();
        var x = Ones([2, 3]);
        var w = Ones([4, 3]);
        using (Autocast(VideoSSL.Torch.Device.CPU))
        {
            Assert.Equal(ScalarType.BFloat16, Linear(x, w).Dtype);
        }
        Assert.Equal(ScalarType.Float32, Linear(x, w).Dtype);
    }
}
