using VideoSSL.Tests.Data;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;

namespace VideoSSL.Tests.Distributed;

using TensorT = VideoSSL.Torch.Tensor;

/// <summary>
/// The overlapping gradient reducer in one process (a Gloo group of one rank, so each all-reduce returns its input):
/// whatever the hooks started early, the gradients after <see cref="GradientSync.Average"/> must be the complete
/// local ones. The multi-rank equivalences are in <see cref="MultiProcessTests"/>.
/// </summary>
public class GradientReducerTests
{
    private static float[] Values(int seed, int n)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5))];
    }

    private static float[] GradOf(TensorT p)
    {
        using var g = p.Grad!;
        return g.ToArray<float>();
    }

    private static void AssertGrad(float[] expected, TensorT p)
    {
        var actual = GradOf(p);
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);  // exact: the reducer only copies (one rank, scale 1)
        }
    }

    /// <summary>
    /// Step 1 learns that each parameter's accumulator fires once; in step 2 a second backward call reaches `a` after
    /// its bucket started (as a checkpointed block replayed later would): the bucket is reduced again from the complete
    /// gradient. Step 3 has learned the two firings and starts `a`'s bucket only after the second; a micro-step without
    /// <see cref="GradientSync.BeforeBackward"/> (accumulation) counts nothing.
    /// </summary>
    [Fact]
    public void Buckets_start_during_backward_and_a_late_gradient_is_reduced_again()
    {
        using var dir = new TempDir();
        using var context = DistributedContext.Initialize(Store.File(Path.Combine(dir.Path, "store"), 1, TimeSpan.FromSeconds(30)), 0, 1, 0, Backend.Gloo, TimeSpan.FromSeconds(30));
        // 4 KiB buckets: in reverse order {c, b} (40 + 4000 bytes) and {a}; the frozen f is not registered.
        context.BucketBytes = 4096;
        using var a = TensorT.From(Values(1, 1000), 1000).RequiresGrad_();
        using var b = TensorT.From(Values(2, 1000), 1000).RequiresGrad_();
        using var c = TensorT.From(Values(3, 10), 10).RequiresGrad_();
        using var f = TensorT.From(Values(4, 10), 10);
        var (wa, wb, wc) = (Values(5, 1000), Values(6, 1000), Values(7, 10));
        using var sync = context.SyncGradients([a, b, c, f]);

        void Loss()
        {
            using var scope = VideoSSL.Torch.Torch.NewScope();
            a.Mul(TensorT.From(wa, 1000)).Sum().Add(b.Mul(TensorT.From(wb, 1000)).Sum()).Add(c.Mul(TensorT.From(wc, 10)).Sum()).Add(f.Sum()).Backward();
        }

        void Late()
        {
            using var scope = VideoSSL.Torch.Torch.NewScope();
            a.Mul(2.0).Sum().Backward();
        }

        void ZeroGrads()
        {
            foreach (var p in new[] { a, b, c })
            {
                p.Grad = null;
            }
        }

        float[] Plus(float[] x, float y, int times = 1) => [.. x.Select(v => (v * times) + y)];

        // Step 1: learning; everything is reduced after backward.
        sync.BeforeBackward();
        Loss();
        sync.Average();
        AssertGrad(wa, a);
        Assert.Equal((2L, 1L, 0L, 0L, 1L), sync.Stats);

        // Step 2: both buckets start inside the first backward call; the second call makes {a} stale.
        ZeroGrads();
        sync.BeforeBackward();
        Loss();
        Assert.Equal(2L, sync.Stats!.Value.StartedInBackward);
        Late();
        sync.Average();
        AssertGrad(Plus(wa, 2), a);
        AssertGrad(wb, b);
        AssertGrad(wc, c);
        Assert.Equal((2L, 2L, 2L, 1L, 2L), sync.Stats);

        // Step 3, two micro-steps: `a` is expected twice now, so its bucket waits for the late call.
        ZeroGrads();
        Loss();  // micro-step 0: no sync
        Assert.Equal(2L, sync.Stats!.Value.StartedInBackward);
        sync.BeforeBackward();
        Loss();
        Assert.Equal(3L, sync.Stats!.Value.StartedInBackward);  // {c, b} only
        Late();
        Assert.Equal(4L, sync.Stats!.Value.StartedInBackward);
        sync.Average();
        AssertGrad(Plus(wa, 2, 2), a);
        AssertGrad(Plus(wb, 0, 2), b);
        Assert.Equal((2L, 3L, 4L, 1L, 2L), sync.Stats);
        Assert.Null(f.Grad);
    }
}
