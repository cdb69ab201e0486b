using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Tests.Torch;

using static VideoSSL.Torch.Torch;

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

/// <summary>The GPU checks of `videossl selftest --device cuda` (DeviceChecks), as tests where a GPU is visible.</summary>
public class CudaTests
{
    private static readonly VideoSSL.Torch.Device Gpu = VideoSSL.Torch.Device.CUDA(0);

    private static void AssertPassed(CheckResult result) =>
        Assert.True(result.Status == CheckStatus.Passed, $"{result.Name}: {result.Status}: {result.Detail}");

    [CudaFact]
    public void Tensors_round_trip_through_the_gpu() => AssertPassed(DeviceChecks.Transfer(Gpu));

    [CudaFact]
    public void Bf16_autocast_runs_matmul_in_bf16_on_cuda() => AssertPassed(DeviceChecks.Bf16Autocast(Gpu));

    [CudaFact]
    public void Native_attention_matches_the_explicit_formula()
    {
        var result = DeviceChecks.NativeAttention(Gpu);
        Assert.True(result.Status != CheckStatus.Failed, result.Detail);
    }

    [CudaFact]
    public void Fused_adamw_matches_the_foreach_path() => AssertPassed(DeviceChecks.AdamWKernels(Gpu));

    [CudaFact]
    public void Memory_statistics_see_an_allocation() => AssertPassed(DeviceChecks.MemoryStatistics(Gpu));

    [CudaFact]
    public void Zero_grad_defaults_to_none_on_cuda()
    {
        using var scope = NewScope();
        var p = new Parameter(Ones([4], device: Gpu).DetachFromScope().RequiresGrad_());
        using var optimizer = new AdamW([new ParamGroup([p], 0)], lr: 0.1);
        p.Value.Sum().Backward();
        optimizer.ZeroGrad();
        Assert.Null(p.Value.Grad);
        p.Value.Dispose();
    }
}
