using System.Runtime.InteropServices;
using System.Text;
using VideoSSL.Torch.Native;
using static VideoSSL.Torch.Native.OpArg;

namespace VideoSSL.Torch;

/// <summary>Tensor creation, functional operations and libtorch's global state, in PyTorch's vocabulary.</summary>
public static unsafe partial class Torch
{
    private static class A
    {
        public static readonly Op Zeros = new("aten::zeros");
        public static readonly Op Ones = new("aten::ones");
        public static readonly Op Full = new("aten::full");
        public static readonly Op Empty = new("aten::empty", "memory_format");
        public static readonly Op Arange = new("aten::arange", "start_step");
        public static readonly Op Rand = new("aten::rand");
        public static readonly Op Randn = new("aten::randn");
        public static readonly Op RandInt = new("aten::randint", "low");
        public static readonly Op RandPerm = new("aten::randperm");
        public static readonly Op Linspace = new("aten::linspace");
        public static readonly Op ZerosLike = new("aten::zeros_like");
        public static readonly Op OnesLike = new("aten::ones_like");
        public static readonly Op RandnLike = new("aten::randn_like");
        public static readonly Op Cat = new("aten::cat");
        public static readonly Op Stack = new("aten::stack");
        public static readonly Op Einsum = new("aten::einsum");
        public static readonly Op LayerNorm = new("aten::layer_norm");
        public static readonly Op BatchNorm = new("aten::batch_norm");
        public static readonly Op Gelu = new("aten::gelu");
        public static readonly Op Silu = new("aten::silu");
        public static readonly Op Dropout = new("aten::dropout");
        public static readonly Op Conv3d = new("aten::conv3d");
        public static readonly Op Conv2d = new("aten::conv2d");
        public static readonly Op Sdpa = new("aten::scaled_dot_product_attention");
        public static readonly Op Interpolate = new("aten::upsample_bicubic2d");
        public static readonly Op Trilinear = new("aten::upsample_trilinear3d");
        public static readonly Op Mse = new("aten::mse_loss");
        public static readonly Op L1 = new("aten::l1_loss");
        public static readonly Op SmoothL1 = new("aten::smooth_l1_loss");
        public static readonly Op CrossEntropy = new("aten::cross_entropy_loss");
        public static readonly Op Bernoulli = new("aten::bernoulli", "p");
        public static readonly Op Normalize = new("aten::linalg_vector_norm");
        public static readonly Op ForeachNorm = new("aten::_foreach_norm", "Scalar");
    }

    // ------------------------------------------------------------------ runtime

    /// <summary>The libtorch version the shim was built against, e.g. "1.13.0" or "2.5.1".</summary>
    public static string Version
    {
        get
        {
            NativeMethods.EnsureLoaded();
            return Marshal.PtrToStringUTF8(NativeMethods.vs_torch_version()) ?? "?";
        }
    }

    /// <summary>True when the shim was built against a CUDA libtorch.</summary>
    public static bool IsCudaBuild
    {
        get
        {
            NativeMethods.EnsureLoaded();
            return NativeMethods.vs_cuda_build() != 0;
        }
    }

    public static int CudaDeviceCount
    {
        get
        {
            NativeMethods.EnsureLoaded();
            return NativeMethods.vs_cuda_device_count();
        }
    }

    public static bool CudaIsAvailable => CudaDeviceCount > 0;

    /// <summary>libtorch's build description (compiler, BLAS, oneDNN, CUDA), as torch.__config__.show().</summary>
    public static string BuildConfig
    {
        get
        {
            NativeMethods.EnsureLoaded();
            var length = NativeMethods.vs_show_config(null, 0);
            var buffer = new byte[length + 1];
            fixed (byte* p = buffer)
            {
                NativeMethods.vs_show_config(p, buffer.Length);
            }
            return Encoding.UTF8.GetString(buffer, 0, (int)length);
        }
    }

    public static int NumThreads
    {
        get
        {
            NativeMethods.EnsureLoaded();
            return NativeMethods.vs_get_num_threads();
        }
        set
        {
            NativeMethods.EnsureLoaded();
            NativeMethods.Check(NativeMethods.vs_set_num_threads(value));
        }
    }

    /// <summary>Applies a config's `threads` key (libtorch intra-op threads): 0 keeps libtorch's default.</summary>
    public static void UseThreads(int threads)
    {
        if (threads > 0)
        {
            NumThreads = threads;
        }
    }

    /// <summary>True when the shim pinned OpenBLAS's own thread pool to one thread at load (Debian's libtorch; see
    /// vs_blas_threads_pinned): libtorch's threads are then the only ones doing CPU math.</summary>
    public static bool BlasThreadsPinned
    {
        get
        {
            NativeMethods.EnsureLoaded();
            return NativeMethods.vs_blas_threads_pinned() != 0;
        }
    }

    /// <summary>Seeds the CPU generator and every CUDA generator (torch.manual_seed).</summary>
    public static void ManualSeed(ulong seed)
    {
        NativeMethods.EnsureLoaded();
        NativeMethods.Check(NativeMethods.vs_manual_seed(seed));
    }

    /// <summary>Deterministic algorithms on, cuDNN benchmarking off (or the reverse).</summary>
    public static void SetDeterministic(bool deterministic)
    {
        NativeMethods.EnsureLoaded();
        NativeMethods.Check(NativeMethods.vs_set_deterministic(deterministic ? 1 : 0));
    }

    /// <summary>Allows TF32 for float32 matmul and convolution on Ampere and newer GPUs.</summary>
    public static void SetAllowTf32(bool allow)
    {
        NativeMethods.EnsureLoaded();
        NativeMethods.Check(NativeMethods.vs_set_allow_tf32(allow ? 1 : 0));
    }

    /// <summary>
    /// Lets scaled_dot_product_attention pick cuDNN's kernel on CUDA (libtorch's default on Hopper) or not; false
    /// when this libtorch has no such switch (1.13 has no SDPA; before 2.3 there is no cuDNN backend).
    /// </summary>
    public static bool SetCudnnAttention(bool enabled)
    {
        NativeMethods.EnsureLoaded();
        int applied;
        NativeMethods.Check(NativeMethods.vs_set_cudnn_attention(enabled ? 1 : 0, &applied));
        return applied != 0;
    }

    /// <summary>The state of a device's default generator as a uint8 tensor (for exact resume).</summary>
    public static Tensor GetRngState(Device? device = null)
    {
        NativeMethods.EnsureLoaded();
        var d = device ?? Device.CPU;
        IntPtr state;
        NativeMethods.Check(NativeMethods.vs_rng_get_state((sbyte)d.Type, (short)Math.Max(d.Index, 0), &state));
        return new Tensor(state);
    }

    public static void SetRngState(Tensor state, Device? device = null)
    {
        var d = device ?? Device.CPU;
        NativeMethods.Check(NativeMethods.vs_rng_set_state((sbyte)d.Type, (short)Math.Max(d.Index, 0), state.Handle));
    }

    public static void CudaSynchronize(int device = 0) => NativeMethods.Check(NativeMethods.vs_cuda_synchronize((short)device));

    public static void CudaEmptyCache() => NativeMethods.Check(NativeMethods.vs_cuda_empty_cache());

    /// <summary>Caching-allocator statistics of a CUDA device, in bytes (zeros on a CPU build).</summary>
    public static CudaMemoryStats CudaMemory(int device = 0, bool resetPeak = false)
    {
        NativeMethods.EnsureLoaded();
        var s = stackalloc long[4];
        NativeMethods.Check(NativeMethods.vs_cuda_memory_stats((short)device, s, resetPeak ? 1 : 0));
        return new CudaMemoryStats(s[0], s[1], s[2], s[3]);
    }

    // ------------------------------------------------------------------ modes (thread-local, as in libtorch)

    public static bool IsGradEnabled
    {
        get
        {
            NativeMethods.EnsureLoaded();
            return NativeMethods.vs_grad_enabled() != 0;
        }
    }

    /// <summary>torch.no_grad(): <c>using (Torch.NoGrad()) { ... }</c>.</summary>
    public static GradModeScope NoGrad() => new(false);

    public static GradModeScope EnableGrad() => new(true);

    /// <summary>torch.autocast(device, dtype): matmuls and convolutions run in dtype (bf16 by default).</summary>
    public static AutocastScope Autocast(Device device, ScalarType dtype = ScalarType.BFloat16) => new(device, dtype);

    public static DisposeScope NewScope() => DisposeScope.Enter();

    // ------------------------------------------------------------------ creation

    private static OpArg Shape(ReadOnlySpan<long> shape) => Ints(shape);

    private static OpArg DevArg(Device? device) => device is { } d ? Dev(d) : None;

    public static Tensor Zeros(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Zeros.Call(Shape(shape), I((long)dtype), Default, DevArg(device));

    public static Tensor Ones(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Ones.Call(Shape(shape), I((long)dtype), Default, DevArg(device));

    public static Tensor Full(ReadOnlySpan<long> shape, double value, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Full.Call(Shape(shape), D(value), I((long)dtype), Default, DevArg(device));

    public static Tensor Empty(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Empty.Call(Shape(shape), I((long)dtype), Default, DevArg(device));

    public static Tensor Arange(long start, long end, long step = 1, ScalarType dtype = ScalarType.Int64, Device? device = null) =>
        A.Arange.Call(I(start), I(end), I(step), I((long)dtype), Default, DevArg(device));

    public static Tensor Arange(long end, ScalarType dtype = ScalarType.Int64, Device? device = null) => Arange(0, end, 1, dtype, device);

    public static Tensor Arange(double start, double end, double step, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Arange.Call(D(start), D(end), D(step), I((long)dtype), Default, DevArg(device));

    public static Tensor Linspace(double start, double end, long steps, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Linspace.Call(D(start), D(end), I(steps), I((long)dtype), Default, DevArg(device));

    /// <summary>Uniform in [0, 1).</summary>
    public static Tensor Rand(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Rand.Call(Shape(shape), I((long)dtype), Default, DevArg(device));

    public static Tensor Randn(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        A.Randn.Call(Shape(shape), I((long)dtype), Default, DevArg(device));

    /// <summary>Integers uniform in [low, high).</summary>
    public static Tensor RandInt(long low, long high, ReadOnlySpan<long> shape, Device? device = null) =>
        A.RandInt.Call(I(low), I(high), Shape(shape), I((long)ScalarType.Int64), Default, DevArg(device));

    public static Tensor RandPerm(long n, Device? device = null) =>
        A.RandPerm.Call(I(n), I((long)ScalarType.Int64), Default, DevArg(device));

    public static Tensor ZerosLike(Tensor t) => A.ZerosLike.Call(T(t));

    public static Tensor OnesLike(Tensor t) => A.OnesLike.Call(T(t));

    public static Tensor RandnLike(Tensor t) => A.RandnLike.Call(T(t));

    /// <summary>A 0-d tensor holding one value.</summary>
    public static Tensor Scalar(double value, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Full([], value, dtype, device);

    public static Tensor Tensor(float[] data, params long[] shape) => VideoSSL.Torch.Tensor.From(data, shape);

    public static Tensor Tensor(long[] data, params long[] shape) => VideoSSL.Torch.Tensor.From(data, shape);

    // ------------------------------------------------------------------ joining

    public static Tensor Cat(IReadOnlyList<Tensor> tensors, long dim = 0) => A.Cat.Call(Tensors(tensors), I(dim));

    public static Tensor Stack(IReadOnlyList<Tensor> tensors, long dim = 0) => A.Stack.Call(Tensors(tensors), I(dim));

    public static Tensor Einsum(string equation, params Tensor[] operands) => A.Einsum.Call(Str(equation), Tensors(operands));

    // ------------------------------------------------------------------ neural-network functions

    /// <summary>x · Wᵀ + b, as torch.nn.functional.linear.</summary>
    public static unsafe Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        IntPtr result;
        NativeMethods.Check(NativeMethods.vs_linear(input.Handle, weight.Handle, bias?.Handle ?? IntPtr.Zero, &result));
        return new Tensor(result);
    }

    public static Tensor LayerNorm(Tensor input, long[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        // CUDA autocast runs layer_norm in fp32 (its fp32 list); libtorch 1.13's CPU autocast leaves it out and the CPU
        // kernel refuses a bf16 input with fp32 weights, so a CPU region gets the CUDA behaviour by hand.
        if (AutocastScope.Active is { Device.IsCuda: false } && input.Dtype is ScalarType.BFloat16 or ScalarType.Float16)
        {
            using var single = input.To(ScalarType.Float32);
            return A.LayerNorm.Call(T(single), Ints(normalizedShape), T(weight), T(bias), D(eps));
        }
        return A.LayerNorm.Call(T(input), Ints(normalizedShape), T(weight), T(bias), D(eps));
    }

    /// <summary>torch.nn.functional.batch_norm; updates running statistics in training mode.</summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias, bool training, double momentum = 0.1, double eps = 1e-5) =>
        A.BatchNorm.Call(T(input), T(weight), T(bias), T(runningMean), T(runningVar), B(training), D(momentum), D(eps), B(true));

    /// <summary>GELU; exact (erf) by default as in VideoMAE, or "tanh".</summary>
    public static Tensor Gelu(Tensor input, string approximate = "none") => A.Gelu.Call(T(input), Str(approximate));

    public static Tensor Silu(Tensor input) => A.Silu.Call(T(input));

    public static Tensor Dropout(Tensor input, double p, bool training) =>
        p == 0 || !training ? input.Share() : A.Dropout.Call(T(input), D(p), B(training));

    public static Tensor Conv3d(Tensor input, Tensor weight, Tensor? bias, long[] stride, long[]? padding = null) =>
        A.Conv3d.Call(T(input), T(weight), T(bias), Ints(stride), Ints(padding ?? [0, 0, 0]));

    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, long[] stride, long[]? padding = null) =>
        A.Conv2d.Call(T(input), T(weight), T(bias), Ints(stride), Ints(padding ?? [0, 0]));

    /// <summary>Bernoulli(p) samples shaped like input.</summary>
    public static Tensor Bernoulli(Tensor input, double p) => A.Bernoulli.Call(T(input), D(p));

    /// <summary>
    /// softmax(q·kᵀ·scale [+ mask]) · v over [..., L, E] inputs. libtorch 2.x picks a flash / memory-efficient
    /// kernel itself; 1.13 has no public SDPA, so the math is written out (same result, more memory).
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor query, Tensor key, Tensor value, Tensor? attnMask = null, double dropoutP = 0, bool isCausal = false, double? scale = null)
    {
        var headDim = query.Size(-1);
        var defaultScale = 1.0 / Math.Sqrt(headDim);
        // 2.0 and 2.1 have SDPA but no `scale` argument: keep the explicit path for a non-default scale there.
        var canUseNative = A.Sdpa.IsAvailable && !isCausal && (scale is null || Math.Abs(scale.Value - defaultScale) < 1e-12 || SdpaTakesScale);
        if (canUseNative)
        {
            return scale is { } s && Math.Abs(s - defaultScale) >= 1e-12
                ? A.Sdpa.Call(T(query), T(key), T(value), T(attnMask), D(dropoutP), B(false), D(s))
                : A.Sdpa.Call(T(query), T(key), T(value), T(attnMask), D(dropoutP), B(false));
        }
        using var scope = NewScope();
        // q is scaled before the product, as the official Attention does (q = q * self.scale; attn = q @ kᵀ):
        // [B, H, N, hd] is N/hd times smaller than the [B, H, N, N] scores, forward and backward (at the ViT-S
        // decoder, 6x less traffic for this op).
        Tensor scores;
        using (var keyT = key.Transpose(-2, -1))
        using (var scaled = query.Mul(scale ?? defaultScale))
        {
            scores = scaled.MatMul(keyT);
        }
        if (attnMask is not null)
        {
            scores = attnMask.Dtype == ScalarType.Bool ? scores.MaskedFill(attnMask.LogicalNot(), double.NegativeInfinity) : scores.Add(attnMask);
        }
        var weights = scores.Softmax(-1);
        if (dropoutP > 0)
        {
            weights = Dropout(weights, dropoutP, true);
        }
        return scope.MoveToOuter(weights.MatMul(value));
    }

    private static bool? s_sdpaTakesScale;

    private static bool SdpaTakesScale => s_sdpaTakesScale ??= A.Sdpa.IsAvailable && A.Sdpa.Schema.Contains("scale", StringComparison.Ordinal);

    /// <summary>True when this libtorch has a fused attention kernel (2.x).</summary>
    public static bool HasNativeAttention => A.Sdpa.IsAvailable;

    /// <summary>L2-normalises along dim (torch.nn.functional.normalize).</summary>
    public static Tensor Normalize(Tensor input, long dim = -1, double eps = 1e-12)
    {
        using var norm = input.Norm(2, [dim], keepDim: true);
        using var clamped = norm.ClampMin(eps);
        return input.Div(clamped);
    }

    /// <summary>Resizes the last two dims with bicubic interpolation (for position-embedding resizing).</summary>
    public static Tensor InterpolateBicubic(Tensor input, long height, long width, bool alignCorners = false) =>
        A.Interpolate.Call(T(input), Ints([height, width]), B(alignCorners));

    /// <summary>
    /// Trilinear resize of the last three dims. With <paramref name="scales"/> the source coordinates use them (as
    /// F.interpolate(scale_factor=...) passes them on) instead of output / input sizes.
    /// </summary>
    public static Tensor InterpolateTrilinear(Tensor input, long depth, long height, long width, bool alignCorners = false, (double D, double H, double W)? scales = null) =>
        scales is { } s
            ? A.Trilinear.Call(T(input), Ints([depth, height, width]), B(alignCorners), D(s.D), D(s.H), D(s.W))
            : A.Trilinear.Call(T(input), Ints([depth, height, width]), B(alignCorners));

    // ------------------------------------------------------------------ losses (mean reduction unless stated)

    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => A.Mse.Call(T(input), T(target), I((long)reduction));

    public static Tensor L1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => A.L1.Call(T(input), T(target), I((long)reduction));

    public static Tensor SmoothL1Loss(Tensor input, Tensor target, double beta = 1.0, Reduction reduction = Reduction.Mean) =>
        A.SmoothL1.Call(T(input), T(target), I((long)reduction), D(beta));

    /// <summary>Cross-entropy over class logits [N, C] with integer targets [N], optional label smoothing.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, double labelSmoothing = 0, Reduction reduction = Reduction.Mean, long ignoreIndex = -100) =>
        A.CrossEntropy.Call(T(logits), T(target), None, I((long)reduction), I(ignoreIndex), D(labelSmoothing));

    /// <summary>Cross-entropy with soft targets [N, C] (mixup/cutmix): mean over N of −Σ target·log_softmax.</summary>
    public static Tensor SoftTargetCrossEntropy(Tensor logits, Tensor target)
    {
        using var scope = NewScope();
        var loss = target.Neg().Mul(logits.LogSoftmax(-1)).Sum(-1).Mean();
        return scope.MoveToOuter(loss);
    }

    /// <summary>The global L2 norm of many tensors in one native call (for gradient clipping).</summary>
    public static Tensor ForeachNorm(IReadOnlyList<Tensor> tensors)
    {
        using var scope = NewScope();
        var norms = A.ForeachNorm.CallMany(tensors.Count, Tensors(tensors), D(2));
        var total = Stack(norms).Norm(2);
        return scope.MoveToOuter(total);
    }
}

public enum Reduction
{
    None = 0,
    Mean = 1,
    Sum = 2,
}

public readonly record struct CudaMemoryStats(long Allocated, long PeakAllocated, long Reserved, long PeakReserved);

/// <summary>Sets grad mode for the current thread and restores the previous mode on dispose.</summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly bool _previous;

    internal GradModeScope(bool enabled)
    {
        NativeMethods.EnsureLoaded();
        _previous = NativeMethods.vs_grad_enabled() != 0;
        NativeMethods.vs_set_grad_enabled(enabled ? 1 : 0);
    }

    public void Dispose() => NativeMethods.vs_set_grad_enabled(_previous ? 1 : 0);
}

/// <summary>An autocast region for one device type; nests, and restores the previous state on dispose.</summary>
public sealed unsafe class AutocastScope : IDisposable
{
    private readonly sbyte _deviceType;
    private readonly int _previousEnabled;
    private readonly sbyte _previousDtype;
    private bool _disposed;

    // The innermost autocast region of this thread (libtorch's autocast state is thread-local too), so code that
    // replays a forward later (activation checkpointing) can re-enter it.
    [ThreadStatic]
    private static (Device Device, ScalarType Dtype)? t_active;

    private readonly (Device Device, ScalarType Dtype)? _outer;

    /// <summary>The device and dtype of the autocast region this thread is in, or null.</summary>
    public static (Device Device, ScalarType Dtype)? Active => t_active;

    internal AutocastScope(Device device, ScalarType dtype)
    {
        NativeMethods.EnsureLoaded();
        _outer = t_active;
        t_active = (device, dtype);
        _deviceType = (sbyte)device.Type;
        int enabled;
        sbyte previous;
        NativeMethods.Check(NativeMethods.vs_autocast_enter(_deviceType, (sbyte)dtype, &enabled, &previous));
        _previousEnabled = enabled;
        _previousDtype = previous;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        t_active = _outer;
        NativeMethods.Check(NativeMethods.vs_autocast_exit(_deviceType, _previousEnabled, _previousDtype));
    }
}
