using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Tests.Torch;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

/// <summary>The CPU fast paths (per-parameter AdamW, in-place zero_grad), the profilers and the self-test.</summary>
// Both runs of a comparison seed the global generator: a test in another collection drawing from it in between
// would make them differ (seen once in a full run), so this class runs alone.
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class SpeedPathTests
{
    // Two groups with parameters of different sizes, so the shared denominator buffer is viewed at several shapes.
    private static float[][] TrainWith(AdamWKernel kernel, int steps)
    {
        using var scope = NewScope();
        ManualSeed(11);
        var shapes = new long[][] { [16, 8], [8], [3, 5, 2], [1] };
        var parameters = shapes.Select(s => new Parameter(Randn(s).DetachFromScope().RequiresGrad_())).ToList();
        var grads = Enumerable.Range(0, steps).Select(_ => shapes.Select(s => Randn(s)).ToList()).ToList();
        try
        {
            using var optimizer = new AdamW([new ParamGroup([parameters[0], parameters[2]], 0.05), new ParamGroup([parameters[1], parameters[3]], 0, LrScale: 0.5)], lr: 1e-2, beta1: 0.9, beta2: 0.95) { Kernel = kernel };
            foreach (var step in grads)
            {
                for (var i = 0; i < parameters.Count; i++)
                {
                    parameters[i].Value.Grad = step[i];
                }
                optimizer.Step();
            }
            return parameters.Select(p => p.Value.ToArray<float>()).ToArray();
        }
        finally
        {
            parameters.ForEach(p => p.Value.Dispose());
        }
    }

    [Fact]
    public void Per_parameter_AdamW_matches_the_foreach_path_across_groups_and_shapes()
    {
        var a = TrainWith(AdamWKernel.PerParameter, 4);
        var b = TrainWith(AdamWKernel.Foreach, 4);
        var auto = TrainWith(AdamWKernel.Auto, 4);
        for (var p = 0; p < a.Length; p++)
        {
            for (var i = 0; i < a[p].Length; i++)
            {
                Assert.True(Math.Abs(a[p][i] - b[p][i]) < 1e-6, $"parameter {p}[{i}]: per-parameter {a[p][i]} vs foreach {b[p][i]}");
            }
            Assert.Equal(a[p], auto[p]); // Auto is the per-parameter path on CPU
        }
    }

    [Fact]
    public void Fused_AdamW_is_refused_on_cpu_with_a_clear_message()
    {
        var e = Assert.Throws<NotSupportedException>(() => TrainWith(AdamWKernel.Fused, 1));
        Assert.Contains("CUDA", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroGrad_zeroes_in_place_on_cpu_and_resets_when_asked()
    {
        using var scope = NewScope();
        var p = new Parameter(TensorT.From(new[] { 1f, 2f, 3f }).RequiresGrad_());
        using var optimizer = new AdamW([new ParamGroup([p], 0)], lr: 0.1);
        p.Value.Mul(p.Value).Sum().Backward();
        Assert.Equal([2f, 4f, 6f], p.Value.Grad!.ToArray<float>());

        optimizer.ZeroGrad();
        var zeroed = p.Value.Grad;
        Assert.NotNull(zeroed);
        Assert.Equal([0f, 0f, 0f], zeroed.ToArray<float>());
        // Accumulates into the kept buffer, as after torch's zero_grad(set_to_none=False).
        p.Value.Sum().Backward();
        Assert.Equal([1f, 1f, 1f], zeroed.ToArray<float>());

        optimizer.ZeroGrad(setToNone: true);
        Assert.Null(p.Value.Grad);
        p.Value.Dispose();
    }

    [Fact]
    public void Op_profiler_counts_forward_ops_and_autograd_nodes()
    {
        using var scope = NewScope();
        var w = Randn([4, 4]).RequiresGrad_();
        var x = Randn([3, 4]);
        Profiling.StartOps();
        List<OpProfile> rows;
        try
        {
            x.MatMul(w).Sum().Backward();
        }
        finally
        {
            rows = Profiling.StopOps();
        }
        var mm = rows.Single(r => r.Name == "aten::mm");
        Assert.True(mm.Count >= 1 && mm.TotalMicroseconds >= mm.SelfMicroseconds && mm.SelfMicroseconds >= 0, mm.ToString());
        Assert.Contains(rows, r => r.Name.Contains("MmBackward", StringComparison.Ordinal));
        // Stopped means stopped: nothing is recorded afterwards, and it can start again.
        x.MatMul(w);
        Profiling.StartOps(byCaller: true);
        // A 3-D operand: a 2-D MatMul calls aten::mm directly (shim.cpp, vs_matmul), a batched one goes through
        // aten::matmul, which folds the batch and calls mm.
        Randn([2, 3, 4]).MatMul(w);
        var byCaller = Profiling.StopOps();
        Assert.Contains(byCaller, r => r.Name == "aten::matmul > aten::mm");
    }

    [Fact]
    public void Free_heap_pages_are_handed_back_after_a_large_tensor_is_freed()
    {
        // 32 MiB sits under the shim's 64 MiB mmap threshold, so it comes from the heap; freed, it stays there (trim
        // threshold 512 MiB) until malloc_trim hands it back, which the training loop does after each checkpoint.
        using (var big = Zeros([8L << 20]))
        {
            Assert.Equal(0.0, big.Sum().Item());
        }
        var released = VideoSSL.Torch.Profiling.ReleaseFreeHostMemory();
        if (VideoSSL.Torch.Profiling.AllocatorConfigured)
        {
            Assert.True(released);
        }
    }

    [Fact]
    public void OpenBLAS_runs_on_one_thread_unless_the_user_chose_its_threads()
    {
        // Debian's libtorch brings OpenBLAS; its own per-core thread pool beside libtorch's halved a 2-thread CPU step.
        _ = NumThreads; // loads the shim, and with it libtorch and its BLAS
        var loaded = File.ReadAllText("/proc/self/maps").Contains("libopenblas", StringComparison.Ordinal);
        if (!loaded || Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS") is not null)
        {
            Assert.False(BlasThreadsPinned); // no OpenBLAS (MKL, CUDA wheels), or the user's setting stands
            return;
        }
        Assert.True(BlasThreadsPinned);
        Assert.Equal(1, openblas_get_num_threads());
        // Setting libtorch's own thread count (train.threads) must not undo it.
        var threads = NumThreads;
        NumThreads = 2;
        try
        {
            Assert.Equal(1, openblas_get_num_threads());
        }
        finally
        {
            NumThreads = threads;
        }
    }

    [System.Runtime.InteropServices.DllImport("libopenblas.so.0")]
    private static extern int openblas_get_num_threads();

    [Fact]
    public void Phases_are_counted_exclusively_and_only_while_profiling()
    {
        using (Profiling.Phase("ignored"))
        {
        }
        Profiling.StartPhases();
        Dictionary<string, double> phases;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using (Profiling.Phase("outer"))
            {
                Thread.Sleep(30);
                using (Profiling.Phase("inner"))
                {
                    Thread.Sleep(60);
                }
            }
        }
        finally
        {
            watch.Stop();
            phases = Profiling.StopPhases();
        }
        Assert.Equal(["inner", "outer"], phases.Keys.Order());
        Assert.True(phases["inner"] >= 55 && phases["outer"] >= 25, $"outer {phases["outer"]} ms, inner {phases["inner"]} ms");
        // Exclusive: the two add up to the elapsed time (inclusive counting would exceed it by inner's 60 ms).
        Assert.True(Math.Abs(phases["outer"] + phases["inner"] - watch.Elapsed.TotalMilliseconds) < 20,
            $"outer {phases["outer"]} + inner {phases["inner"]} vs {watch.Elapsed.TotalMilliseconds} ms elapsed");
        Assert.False(Profiling.PhasesEnabled);
    }

    [Fact]
    public void Selftest_passes_on_cpu_and_skips_the_cuda_only_checks()
    {
        var results = DeviceChecks.RunAll(VideoSSL.Torch.Device.CPU);
        Assert.DoesNotContain(results, r => r.Status == CheckStatus.Failed);
        Assert.Equal(CheckStatus.Passed, results.Single(r => r.Name == "transfer").Status);
        Assert.Equal(CheckStatus.Passed, results.Single(r => r.Name == "AdamW kernels agree").Status);
        Assert.Equal(CheckStatus.Skipped, results.Single(r => r.Name == "memory statistics").Status);
        Assert.Equal(CheckStatus.Skipped, results.Single(r => r.Name == "NCCL all-reduce (1 rank)").Status);
        Assert.All(results.Where(r => r.Status == CheckStatus.Skipped), r => Assert.False(string.IsNullOrWhiteSpace(r.Detail)));
    }
}
