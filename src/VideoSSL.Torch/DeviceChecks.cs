using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Torch;

public enum CheckStatus
{
    Passed,
    Failed,
    Skipped,
}

/// <summary>One self-test outcome: what was checked, and the measured detail or the reason it was skipped.</summary>
public sealed record CheckResult(string Name, CheckStatus Status, string Detail);

/// <summary>
/// What a lent GPU must do before a run is worth starting, checked in seconds: transfers, bf16 autocast,
/// the native attention kernel against the formula, the AdamW kernels against each other, the caching
/// allocator's statistics. `videossl selftest --device cuda` runs them without the .NET SDK; the CUDA xunit
/// tests run the same methods, so there is one definition of each check. On CPU the CUDA-only checks report
/// Skipped with the reason.
/// </summary>
public static class DeviceChecks
{
    public static IReadOnlyList<CheckResult> RunAll(Device device) =>
    [
        Guard("transfer", () => Transfer(device)),
        Guard("bf16 autocast", () => Bf16Autocast(device)),
        Guard("attention: native SDPA vs formula", () => NativeAttention(device)),
        Guard("AdamW kernels agree", () => AdamWKernels(device)),
        Guard("memory statistics", () => MemoryStatistics(device)),
        Guard("NCCL all-reduce (1 rank)", () => NcclAllReduce(device)),
    ];

    private static CheckResult Guard(string name, Func<CheckResult> check)
    {
        try
        {
            return check();
        }
        catch (Exception e) when (e is TorchException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return new CheckResult(name, CheckStatus.Failed, e.Message.Split('\n')[0]);
        }
    }

    private static CheckResult Result(string name, bool ok, string detail) => new(name, ok ? CheckStatus.Passed : CheckStatus.Failed, detail);

    /// <summary>
    /// A one-rank NCCL group over a file store sums a CUDA tensor in place: the shim was built with NCCL (a wheel
    /// keeps nccl.h outside torch's include dir) and the library loads on this device, before a launch waits on it.
    /// </summary>
    public static CheckResult NcclAllReduce(Device device)
    {
        const string name = "NCCL all-reduce (1 rank)";
        if (!device.IsCuda)
        {
            return new(name, CheckStatus.Skipped, "CUDA only");
        }
        if (!Distributed.ProcessGroup.IsAvailable(Distributed.Backend.Nccl))
        {
            return new(name, CheckStatus.Failed, "the shim was built without NCCL (no nccl.h found at build time): multi-GPU runs need it");
        }
        var path = Path.Combine(Path.GetTempPath(), $"videossl-selftest-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var timeout = TimeSpan.FromSeconds(30);
            using var store = Distributed.Store.File(path, 1, timeout);
            using var context = Distributed.DistributedContext.Initialize(store, 0, 1, Math.Max(device.Index, 0), Distributed.Backend.Nccl, timeout);
            using var scope = Torch.NewScope();
            float[] values = [1f, 2f, 3f];
            var tensor = Tensor.From<float>(values, [values.Length]).To(device);
            context.SumInPlace(tensor);
            var back = tensor.ToArray<float>();
            return Result(name, back.SequenceEqual(values), $"[{string.Join(", ", back)}] after the sum over 1 rank");
        }
        catch (Distributed.DistributedException e)
        {
            return new(name, CheckStatus.Failed, e.Message.Split('\n')[0]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Host → device → op → host returns the right values.</summary>
    public static CheckResult Transfer(Device device)
    {
        using var scope = Torch.NewScope();
        float[] values = [1f, 2f, 3f, -4.5f];
        var onDevice = Tensor.From<float>(values, [values.Length]).To(device);
        var back = onDevice.Mul(2.0).ToArray<float>();
        var ok = onDevice.Device.Type == device.Type && back.SequenceEqual(values.Select(v => v * 2));
        return Result("transfer", ok, $"[{string.Join(", ", back)}] on {onDevice.Device}");
    }

    /// <summary>Under autocast a linear layer runs in bf16; outside it, in float32.</summary>
    public static CheckResult Bf16Autocast(Device device)
    {
        using var scope = Torch.NewScope();
        var x = Torch.Randn([4, 8], device: device);
        var w = Torch.Randn([16, 8], device: device);
        ScalarType inside;
        using (Torch.Autocast(device))
        {
            inside = Torch.Linear(x, w).Dtype;
        }
        var outside = Torch.Linear(x, w).Dtype;
        return Result("bf16 autocast", inside == ScalarType.BFloat16 && outside == ScalarType.Float32, $"linear: {inside} inside autocast, {outside} outside");
    }

    /// <summary>The fused attention kernel (libtorch 2.x) gives the explicit softmax(q·kᵀ/√d)·v.</summary>
    public static CheckResult NativeAttention(Device device)
    {
        const string name = "attention: native SDPA vs formula";
        if (!Torch.HasNativeAttention)
        {
            return new CheckResult(name, CheckStatus.Skipped, $"libtorch {Torch.Version} has no scaled_dot_product_attention; the formula is what runs");
        }
        using var scope = Torch.NewScope();
        var q = Torch.Randn([2, 4, 64, 32], device: device);
        var k = Torch.Randn([2, 4, 64, 32], device: device);
        var v = Torch.Randn([2, 4, 64, 32], device: device);
        var expected = q.MatMul(k.Transpose(-2, -1)).Mul(1 / Math.Sqrt(32)).Softmax(-1).MatMul(v).ToArray<float>();
        var actual = Torch.ScaledDotProductAttention(q, k, v).ToArray<float>();
        var worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        return Result(name, worst < 1e-3, $"max |difference| {worst:G3} (tolerance 1e-3)");
    }

    /// <summary>
    /// Three AdamW steps from the same start with the same gradients: on CUDA the fused kernel (2.x) against
    /// foreach, on CPU the per-parameter loop (torch's CPU default, ours too) against foreach.
    /// </summary>
    public static CheckResult AdamWKernels(Device device)
    {
        const string name = "AdamW kernels agree";
        var fused = device.IsCuda && AdamW.FusedKernelAvailable;
        var (a, b) = fused ? (AdamWKernel.Fused, AdamWKernel.Foreach) : (AdamWKernel.PerParameter, AdamWKernel.Foreach);
        using var scope = Torch.NewScope();
        Torch.ManualSeed(3);
        var init = Torch.Randn([32, 16]);
        var grads = Enumerable.Range(0, 3).Select(_ => Torch.Randn([32, 16])).ToList();
        float[] Run(AdamWKernel kernel)
        {
            // Cloned: on CPU, To() returns the same storage, and the first run would move the second's start.
            var p = new Parameter(init.To(device).Clone().DetachFromScope().RequiresGrad_());
            try
            {
                using var optimizer = new AdamW([new ParamGroup([p], 0.05)], lr: 1e-2) { Kernel = kernel };
                foreach (var g in grads)
                {
                    p.Value.Grad = g.To(device);
                    optimizer.Step();
                }
                return p.Value.ToArray<float>();
            }
            finally
            {
                p.Value.Dispose();
            }
        }
        var x = Run(a);
        var y = Run(b);
        var worst = x.Zip(y, (u, w) => Math.Abs(u - w)).Max();
        return Result(name, worst < 1e-5, $"{a} vs {b}: max |difference| {worst:G3} after 3 steps (tolerance 1e-5)");
    }

    /// <summary>The caching allocator's statistics see a 256 MiB allocation (CUDA only).</summary>
    public static CheckResult MemoryStatistics(Device device)
    {
        const string name = "memory statistics";
        if (!device.IsCuda)
        {
            return new CheckResult(name, CheckStatus.Skipped, "CUDA caching-allocator statistics; nothing to check on CPU");
        }
        var before = Torch.CudaMemory(device.Index, resetPeak: true);
        long during;
        using (Torch.Empty([64, 1024, 1024], device: device))
        {
            during = Torch.CudaMemory(device.Index).Allocated;
        }
        Torch.CudaEmptyCache();
        var peak = Torch.CudaMemory(device.Index).PeakAllocated;
        const long size = 256L * 1024 * 1024;
        return Result(name, during >= before.Allocated + size && peak >= size, $"allocated {during / 1048576} MiB during, peak {peak / 1048576} MiB");
    }
}
