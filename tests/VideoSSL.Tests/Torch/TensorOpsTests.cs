using VideoSSL.Torch;

namespace VideoSSL.Tests.Torch;

using static VideoSSL.Torch.Torch;

public class TensorOpsTests
{
    private static void AssertClose(float[] expected, float[] actual, float tolerance = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.True(Math.Abs(expected[k] - actual[k]) <= tolerance, $"element {k}: expected {expected[k]}, got {actual[k]}");
        }
    }

    [Fact]
    public void Arithmetic_matches_hand_computed_values()
    {
        using var scope = NewScope();
        var a = Tensor([1f, 2f, 3f, 4f], 2, 2);
        var b = Tensor([10f, 20f, 30f, 40f], 2, 2);
        AssertClose([11, 22, 33, 44], (a + b).ToArray<float>());
        AssertClose([-9, -18, -27, -36], (a - b).ToArray<float>());
        AssertClose([10, 40, 90, 160], (a * b).ToArray<float>());
        AssertClose([0.1f, 0.1f, 0.1f, 0.1f], (a / b).ToArray<float>());
        AssertClose([0, -1, -2, -3], (1.0 - a).ToArray<float>());
        // [[1,2],[3,4]] @ [[10,20],[30,40]] = [[70,100],[150,220]]
        AssertClose([70, 100, 150, 220], a.MatMul(b).ToArray<float>());
        Assert.Equal(10.0, a.Sum().Item(), 6);
        AssertClose([4, 6], a.Sum(0).ToArray<float>());
        AssertClose([1.5f, 3.5f], a.Mean(1).ToArray<float>());
        // unbiased variance of [1,2] and [3,4] is 0.5
        AssertClose([0.5f, 0.5f], a.Var(1).ToArray<float>());
    }

    [Fact]
    public void Integer_scalars_keep_integer_dtype_and_doubles_promote()
    {
        using var scope = NewScope();
        var x = Tensor([1L, 2L, 3L]);
        Assert.Equal(ScalarType.Int64, x.Add(1L).Dtype);
        Assert.Equal(ScalarType.Float32, x.Add(0.5).Dtype);
        Assert.Equal(new long[] { 2, 3, 4 }, x.Add(1L).ToArray<long>());
    }

    // Add and 2-D MatMul take the shim's unboxed calls (vs_add, vs_matmul's mm case): the results, dtypes and
    // gradients must be those of the boxed aten::add and aten::matmul.
    [Fact]
    public void Unboxed_add_and_matmul_keep_alpha_integer_dtypes_and_gradients()
    {
        using var scope = NewScope();
        var i = Tensor([1L, 2L, 3L]);
        Assert.Equal(ScalarType.Int64, i.Add(i).Dtype);
        Assert.Equal(new long[] { 2, 4, 6 }, i.Add(i).ToArray<long>());
        var a = Tensor([1f, 2f, 3f, 4f], 2, 2).RequiresGrad_();
        var b = Tensor([10f, 20f, 30f, 40f], 2, 2).RequiresGrad_();
        AssertClose([-19, -38, -57, -76], a.Add(b, alpha: -2).ToArray<float>());
        a.MatMul(b).Add(a, alpha: 3).Sum().Backward();
        // d/da sum(a@b) = 1·bᵀ row sums: [30, 70] per row; plus 3 from the add. d/db = column sums of a: [4, 6].
        AssertClose([33, 73, 33, 73], a.Grad!.ToArray<float>());
        AssertClose([4, 4, 6, 6], b.Grad!.ToArray<float>());
        // Batched and vector operands still go through aten::matmul's broadcasting.
        var batch = Ones([3, 2, 2]);
        Assert.Equal(new long[] { 3, 2, 2 }, batch.MatMul(Tensor([1f, 2f, 3f, 4f], 2, 2)).Shape);
        AssertClose([5, 11], Tensor([1f, 2f, 3f, 4f], 2, 2).MatMul(Tensor([1f, 2f])).ToArray<float>());
    }

    [Fact]
    public void Shape_ops_and_indexing()
    {
        using var scope = NewScope();
        var x = Arange(24).Reshape(2, 3, 4);
        Assert.Equal(new long[] { 2, 3, 4 }, x.Shape);
        Assert.Equal(new long[] { 4, 3, 2 }, x.Permute(2, 1, 0).Shape);
        Assert.Equal(new long[] { 2, 12 }, x.Flatten(1).Shape);
        Assert.Equal(new long[] { 4, 5, 6, 7 }, x.Select(0, 0).Select(0, 1).ToArray<long>());
        var index = Tensor([2L, 0L]);
        Assert.Equal(new long[] { 2, 0, 6, 4 }, x.Select(0, 0).Narrow(0, 0, 2).IndexSelect(1, index).ToArray<long>());
        // gather along the last dim: row r picks column idx[r]
        var g = x.Select(0, 0).Gather(1, Tensor([3L, 0L, 1L], 3, 1));
        Assert.Equal(new long[] { 3, 4, 9 }, g.ToArray<long>());
        var mask = x.Select(0, 0).Select(0, 0).Gt(1.5);
        Assert.Equal(new long[] { 2, 3 }, x.Select(0, 0).Select(0, 0).Index(mask).ToArray<long>());
        var cat = Cat([x, x], 1);
        Assert.Equal(new long[] { 2, 6, 4 }, cat.Shape);
        Assert.Equal(new long[] { 2, 2, 3, 4 }, Stack([x, x]).Shape);
        var chunks = x.Chunk(2, 2);
        Assert.Equal(2, chunks.Length);
        Assert.Equal(new long[] { 2, 3, 2 }, chunks[1].Shape);
        Assert.Equal(new long[] { 0, 1, 2 }, Arange(10).Slice(0, 0, 3).ToArray<long>());
        Assert.Equal(new long[] { 1, 3, 5 }, Arange(10).Slice(0, 1, 6, 2).ToArray<long>());
    }

    [Fact]
    public void Scatter_and_topk()
    {
        using var scope = NewScope();
        var z = Zeros([2, 4]);
        var s = z.Scatter(1, Tensor([1L, 3L], 2, 1), 5.0);
        AssertClose([0, 5, 0, 0, 0, 0, 0, 5], s.ToArray<float>());
        var (values, indices) = Tensor([0.1f, 0.7f, 0.2f, 0.9f]).TopK(2);
        AssertClose([0.9f, 0.7f], values.ToArray<float>());
        Assert.Equal(new long[] { 3, 1 }, indices.ToArray<long>());
    }

    [Fact]
    public void Shape_mismatch_raises_TorchException_with_libtorch_message()
    {
        using var scope = NewScope();
        var a = Zeros([2, 3]);
        var b = Zeros([4, 5]);
        var e = Assert.Throws<TorchException>(() => a.MatMul(b));
        Assert.Contains("cannot be multiplied", e.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<TorchException>(() => a.View(7));
        Assert.Contains("invalid", e2.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Softmax_layer_norm_gelu_values()
    {
        using var scope = NewScope();
        var x = Tensor([1f, 2f, 3f]);
        var e = new[] { Math.Exp(1), Math.Exp(2), Math.Exp(3) };
        var total = e.Sum();
        AssertClose(e.Select(v => (float)(v / total)).ToArray(), x.Softmax(0).ToArray<float>());
        // layer norm of [1,2,3]: mean 2, biased var 2/3
        var inv = 1 / Math.Sqrt(2.0 / 3 + 1e-5);
        AssertClose([(float)-inv, 0, (float)inv], LayerNorm(x, [3]).ToArray<float>(), 1e-4f);
        // exact GELU(1) = 0.5·(1 + erf(1/√2)) = 0.8413447
        Assert.Equal(0.8413447, Gelu(Tensor([1f])).Item(), 5);
        Assert.Equal(0.841192, Gelu(Tensor([1f]), "tanh").Item(), 5);
    }

    [Fact]
    public void Losses_match_hand_computed_values()
    {
        using var scope = NewScope();
        var p = Tensor([0f, 2f, 4f]);
        var t = Tensor([1f, 1f, 1f]);
        Assert.Equal((1 + 1 + 9) / 3.0, MseLoss(p, t).Item(), 5);
        Assert.Equal((1 + 1 + 3) / 3.0, L1Loss(p, t).Item(), 5);
        // smooth L1 (beta 1): 0.5·1, 0.5·1, 3 − 0.5
        Assert.Equal((0.5 + 0.5 + 2.5) / 3.0, SmoothL1Loss(p, t).Item(), 5);
        var logits = Tensor([2f, 0f, 0f], 1, 3);
        var target = Tensor([0L]);
        var lse = Math.Log(Math.Exp(2) + 2);
        Assert.Equal(lse - 2, CrossEntropy(logits, target).Item(), 5);
        // label smoothing ε: (1 − ε)·nll + ε·mean over classes of −log p
        var eps = 0.1;
        var nlls = new[] { lse - 2, lse, lse };
        Assert.Equal((1 - eps) * nlls[0] + eps * nlls.Average(), CrossEntropy(logits, target, eps).Item(), 5);
        var soft = Tensor([0.5f, 0.5f, 0f], 1, 3);
        Assert.Equal(0.5 * nlls[0] + 0.5 * nlls[1], SoftTargetCrossEntropy(logits, soft).Item(), 5);
    }

    [Fact]
    public void Host_round_trip_preserves_bytes_for_every_dtype()
    {
        using var scope = NewScope();
        var floats = new float[] { 1.5f, -2.25f, 3e-8f, float.MaxValue };
        Assert.Equal(floats, VideoSSL.Torch.Tensor.From(floats).ToArray<float>());
        var bytes = new byte[] { 0, 1, 2, 255 };
        Assert.Equal(bytes, VideoSSL.Torch.Tensor.From(bytes).ToArray<byte>());
        var halves = new[] { (Half)1.5, (Half)(-2) };
        Assert.Equal(halves, VideoSSL.Torch.Tensor.From(halves).ToArray<Half>());
        // bf16 of 1.5 is 0x3FC0; from float through the dtype conversion
        var bf = VideoSSL.Torch.Tensor.From(new[] { 1.5f }).To(ScalarType.BFloat16);
        Assert.Equal(new byte[] { 0xC0, 0x3F }, bf.ToBytes());
        Assert.Equal(ScalarType.Bool, VideoSSL.Torch.Tensor.From(new[] { true, false }).Dtype);
    }
}

[Collection(LiveTensorCollection.Name)]
public class DisposeScopeTests
{
    [Fact]
    public void Scope_disposes_temporaries_and_keeps_moved_results()
    {
        var before = VideoSSL.Torch.Tensor.LiveCount;
        Tensor kept;
        using (var scope = NewScope())
        {
            var a = Ones([3]);
            var b = a * 2.0;
            kept = scope.MoveToOuter(b + 1.0);
            Assert.Equal(before + 3, VideoSSL.Torch.Tensor.LiveCount);
        }
        Assert.Equal(before + 1, VideoSSL.Torch.Tensor.LiveCount);
        Assert.Equal([3f, 3f, 3f], kept.ToArray<float>());
        kept.Dispose();
        Assert.Equal(before, VideoSSL.Torch.Tensor.LiveCount);
    }

    [Fact]
    public void A_forgotten_tensor_outside_any_scope_is_freed_by_the_finalizer_safety_net()
    {
        var before = VideoSSL.Torch.Tensor.LiveCount;
        Forget();
        Assert.Equal(before + 3, VideoSSL.Torch.Tensor.LiveCount);
        // The per-thread keep-alive ring holds the last 64 operator arguments; cycle it first.
        using (var churn = NewScope())
        {
            var x = Zeros([1]);
            for (var k = 0; k < 70; k++)
            {
                x.Neg();
            }
        }
        for (var k = 0; k < 3 && VideoSSL.Torch.Tensor.LiveCount != before; k++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.Equal(before, VideoSSL.Torch.Tensor.LiveCount);

        // Neither created outside a scope (Ones), nor moved out of one (the sum), nor detached (the clone) is missed.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static void Forget()
        {
            var loose = Ones([4]);
            using var scope = NewScope();
            scope.MoveToOuter(loose.Add(1.0));
            loose.Mul(2.0).DetachFromScope();
        }
    }
}
