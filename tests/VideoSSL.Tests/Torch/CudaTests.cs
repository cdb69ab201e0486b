using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Tests.Torch;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

/// <summary>A fact that runs only where libtorch sees a CUDA device; elsewhere it is reported as skipped.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!CudaIsAvailable)
        {
            Skip = IsCudaBuild ? "no CUDA device visible" : "the libtorch shim is a CPU build";
        }
    }
}

public class CudaTests
{
    private static readonly VideoSSL.Torch.Device Gpu = VideoSSL.Torch.Device.CUDA(0);

    [CudaFact]
    public void Tensors_round_trip_through_the_gpu()
    {
        using var scope = NewScope();
        var host = TensorT.From(new[] { 1f, 2f, 3f });
        var gpu = host.To(Gpu);
        Assert.True(gpu.Device.IsCuda);
        Assert.Equal([2f, 4f, 6f], gpu.Mul(2.0).ToArray<float>());
    }

    [CudaFact]
    public void Bf16_autocast_runs_matmul_in_bf16_on_cuda()
    {
        using var scope = NewScope();
        var x = Randn([4, 8], device: Gpu);
        var w = Randn([16, 8], device: Gpu);
        using (Autocast(Gpu))
        {
            Assert.Equal(ScalarType.BFloat16, Linear(x, w).Dtype);
        }
        Assert.Equal(ScalarType.Float32, Linear(x, w).Dtype);
    }

    [CudaFact]
    public void Native_attention_matches_the_explicit_formula()
    {
        using var scope = NewScope();
        var q = Randn([2, 4, 64, 32], device: Gpu);
        var k = Randn([2, 4, 64, 32], device: Gpu);
        var v = Randn([2, 4, 64, 32], device: Gpu);
        var expected = q.MatMul(k.Transpose(-2, -1)).Mul(1 / Math.Sqrt(32)).Softmax(-1).MatMul(v).ToArray<float>();
        var actual = ScaledDotProductAttention(q, k, v).ToArray<float>();
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-3, $"element {i}: {expected[i]} vs {actual[i]}");
        }
    }

    [CudaFact]
    public void Fused_adamw_matches_the_foreach_path()
    {
        using var scope = NewScope();
        ManualSeed(3);
        var init = Randn([32, 16]);
        var grads = Enumerable.Range(0, 3).Select(_ => Randn([32, 16])).ToList();
        float[] Run(bool fused)
        {
            var p = new Parameter(init.To(Gpu).DetachFromScope().RequiresGrad_());
            using var optimizer = new AdamW([new ParamGroup([p], 0.05)], lr: 1e-2) { AllowFused = fused };
            foreach (var g in grads)
            {
                p.Value.Grad = g.To(Gpu);
                optimizer.Step();
            }
            var result = p.Value.ToArray<float>();
            p.Value.Dispose();
            return result;
        }
        var a = Run(fused: true);
        var b = Run(fused: false);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) < 1e-5, $"element {i}: fused {a[i]} vs foreach {b[i]}");
        }
    }

    [CudaFact]
    public void Memory_statistics_see_an_allocation()
    {
        var before = CudaMemory(0, resetPeak: true);
        using (var big = Empty([64, 1024, 1024], device: Gpu))
        {
            var during = CudaMemory(0);
            Assert.True(during.Allocated >= before.Allocated + 256L * 1024 * 1024);
        }
        CudaEmptyCache();
        Assert.True(CudaMemory(0).PeakAllocated >= 256L * 1024 * 1024);
    }
}
