using VideoSSL.Torch.Native;
using VideoSSL.Torch.NN;
using static VideoSSL.Torch.Native.OpArg;

namespace VideoSSL.Torch.Optim;

/// <summary>
/// Parameters that share an lr scale and a weight decay: how layer-wise lr decay and no-decay lists
/// (biases, norms, position embeddings, tokens) are expressed, as in MAE's param_groups_lrd.
/// </summary>
public sealed record ParamGroup(IReadOnlyList<Parameter> Parameters, double WeightDecay, double LrScale = 1.0, string Name = "");

/// <summary>How <see cref="AdamW"/> updates a group; <see cref="Auto"/> picks per device, as torch does.</summary>
public enum AdamWKernel
{
    /// <summary>CUDA: fused when the libtorch has it (2.x) and <see cref="AdamW.AllowFused"/>, else foreach. CPU: per parameter.</summary>
    Auto,

    /// <summary>One _fused_adamw_ call per group (CUDA, libtorch ≥ 2.0).</summary>
    Fused,

    /// <summary>A handful of _foreach_* calls over all tensors of a group.</summary>
    Foreach,

    /// <summary>torch.optim.AdamW's single-tensor loop: each parameter's update finishes while it is in cache.</summary>
    PerParameter,
}

/// <summary>
/// AdamW (decoupled weight decay) as torch.optim.AdamW, with torch's choice of implementation per device:
/// on CUDA the fused kernel (libtorch 2.x) or _foreach_* calls over a whole group; on CPU the per-parameter
/// loop, which is torch's CPU default. On CPU the foreach path sweeps every parameter once per op and
/// _foreach_sqrt allocates denominators for the whole group at once: at ViT-S that measured ~13,000 extra
/// page faults and cache misses per step. The per-parameter path writes its denominators into one reused
/// scratch buffer, so a CPU step allocates nothing.
/// </summary>
public sealed class AdamW : IDisposable
{
    private static readonly Op s_mulScalar = new("aten::_foreach_mul_", "Scalar");
    private static readonly Op s_addList = new("aten::_foreach_add_", "List");
    private static readonly Op s_addScalar = new("aten::_foreach_add_", "Scalar");
    private static readonly Op s_addcmul = new("aten::_foreach_addcmul_", "Scalar");
    private static readonly Op s_addcdiv = new("aten::_foreach_addcdiv_", "Scalar");
    private static readonly Op s_sqrt = new("aten::_foreach_sqrt");
    private static readonly Op s_divScalar = new("aten::_foreach_div_", "Scalar");
    private static readonly Op s_fused = new("aten::_fused_adamw_");
    private static readonly Op s_mul_ = new("aten::mul_", "Scalar");
    private static readonly Op s_add_ = new("aten::add_", "Tensor");
    private static readonly Op s_addScalar_ = new("aten::add_", "Scalar");
    private static readonly Op s_addcmul_ = new("aten::addcmul_");
    private static readonly Op s_addcdiv_ = new("aten::addcdiv_");
    private static readonly Op s_div_ = new("aten::div_", "Scalar");
    private static readonly Op s_sqrtOut = new("aten::sqrt", "out");

    private readonly List<ParamGroup> _groups;
    private readonly Dictionary<Parameter, (Tensor ExpAvg, Tensor ExpAvgSq)> _state = [];
    private readonly Dictionary<Parameter, Tensor> _fusedSteps = [];

    // Per-parameter path: one flat buffer per dtype, as large as the largest parameter, and a view of it shaped
    // like each parameter (made once). Every denominator of a step is written there in turn.
    private readonly Dictionary<ScalarType, Tensor> _scratch = [];
    private readonly Dictionary<Parameter, Tensor> _denominators = [];

    public AdamW(IEnumerable<ParamGroup> groups, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        _groups = groups.Where(g => g.Parameters.Count > 0).ToList();
        Lr = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
    }

    public AdamW(IEnumerable<Parameter> parameters, double lr, double weightDecay = 0.01, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : this([new ParamGroup(parameters.ToList(), weightDecay)], lr, beta1, beta2, eps)
    {
    }

    /// <summary>The base learning rate; a group's rate is Lr × its LrScale. Schedules set this every step.</summary>
    public double Lr { get; set; }

    /// <summary>Multiplies every group's weight decay (for weight-decay schedules as in V-JEPA and DINO).</summary>
    public double WeightDecayScale { get; set; } = 1.0;

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }

    /// <summary>Completed optimizer steps (bias correction uses it).</summary>
    public long StepCount { get; private set; }

    /// <summary>Use the fused CUDA kernel when available (libtorch ≥ 2.0 on CUDA) under <see cref="AdamWKernel.Auto"/>.</summary>
    public bool AllowFused { get; set; } = true;

    /// <summary>True when this libtorch has the fused CUDA kernel (_fused_adamw_, 2.x).</summary>
    public static bool FusedKernelAvailable => s_fused.IsAvailable;

    /// <summary>The update implementation; all give the same result up to float rounding.</summary>
    public AdamWKernel Kernel { get; set; } = AdamWKernel.Auto;

    public IReadOnlyList<ParamGroup> Groups => _groups;

    public void Step()
    {
        StepCount++;
        using var noGrad = Torch.NoGrad();
        using var scope = Torch.NewScope();
        foreach (var group in _groups)
        {
            var parameters = new List<Tensor>();
            var grads = new List<Tensor>();
            var expAvgs = new List<Tensor>();
            var expAvgSqs = new List<Tensor>();
            var owners = new List<Parameter>();
            foreach (var p in group.Parameters)
            {
                var grad = p.Value.Grad;
                if (grad is null)
                {
                    continue;
                }
                var (m, v) = StateOf(p);
                parameters.Add(p.Value);
                grads.Add(grad);
                expAvgs.Add(m);
                expAvgSqs.Add(v);
                owners.Add(p);
            }
            if (parameters.Count == 0)
            {
                continue;
            }
            var lr = Lr * group.LrScale;
            var wd = group.WeightDecay * WeightDecayScale;
            switch (KernelFor(parameters[0].Device))
            {
                case AdamWKernel.Fused:
                    FusedStep(owners, parameters, grads, expAvgs, expAvgSqs, lr, wd);
                    break;
                case AdamWKernel.Foreach:
                    ForeachStep(parameters, grads, expAvgs, expAvgSqs, lr, wd);
                    break;
                default:
                    PerParameterStep(owners, parameters, grads, expAvgs, expAvgSqs, lr, wd);
                    break;
            }
        }
    }

    private AdamWKernel KernelFor(Device device) => Kernel switch
    {
        AdamWKernel.Auto when device.IsCuda => AllowFused && s_fused.IsAvailable ? AdamWKernel.Fused : AdamWKernel.Foreach,
        AdamWKernel.Auto => AdamWKernel.PerParameter,
        AdamWKernel.Fused when !(s_fused.IsAvailable && device.IsCuda) =>
            throw new NotSupportedException($"the fused AdamW kernel needs CUDA and libtorch >= 2.0 (this is {Torch.Version} on {device})"),
        var k => k,
    };

    // torch.optim.adamw._single_tensor_adamw (non-capturable), op for op, so results match it bit for bit.
    private void PerParameterStep(List<Parameter> owners, List<Tensor> parameters, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double wd)
    {
        var biasCorrection1 = 1 - Math.Pow(Beta1, StepCount);
        var biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
        var stepSize = lr / biasCorrection1;
        for (var i = 0; i < parameters.Count; i++)
        {
            var (p, g, m, v) = (parameters[i], grads[i], expAvgs[i], expAvgSqs[i]);
            if (wd != 0)
            {
                s_mul_.CallVoid(T(p), D(1 - lr * wd));
            }
            s_mul_.CallVoid(T(m), D(Beta1));
            s_add_.CallVoid(T(m), T(g), D(1 - Beta1));
            s_mul_.CallVoid(T(v), D(Beta2));
            s_addcmul_.CallVoid(T(v), T(g), T(g), D(1 - Beta2));
            var denominator = DenominatorOf(owners[i]);
            s_sqrtOut.CallVoid(T(v), T(denominator));
            s_div_.CallVoid(T(denominator), D(biasCorrection2Sqrt));
            s_addScalar_.CallVoid(T(denominator), D(Eps));
            s_addcdiv_.CallVoid(T(p), T(m), T(denominator), D(-stepSize));
        }
    }

    private Tensor DenominatorOf(Parameter p)
    {
        if (_denominators.TryGetValue(p, out var view))
        {
            return view;
        }
        var value = p.Value;
        var dtype = value.Dtype;
        if (!_scratch.TryGetValue(dtype, out var scratch))
        {
            var largest = _groups.SelectMany(g => g.Parameters).Where(q => q.Value.Dtype == dtype).Max(q => q.Numel);
            scratch = Torch.Empty([largest], dtype, value.Device).DetachFromScope();
            _scratch[dtype] = scratch;
        }
        using (var flat = scratch.Narrow(0, 0, value.Numel))
        {
            view = flat.View(value.Shape).DetachFromScope();
        }
        _denominators[p] = view;
        return view;
    }

    private void ForeachStep(List<Tensor> parameters, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double wd)
    {
        if (wd != 0)
        {
            s_mulScalar.CallVoid(Tensors(parameters), D(1 - lr * wd));
        }
        s_mulScalar.CallVoid(Tensors(expAvgs), D(Beta1));
        s_addList.CallVoid(Tensors(expAvgs), Tensors(grads), D(1 - Beta1));
        s_mulScalar.CallVoid(Tensors(expAvgSqs), D(Beta2));
        s_addcmul.CallVoid(Tensors(expAvgSqs), Tensors(grads), Tensors(grads), D(1 - Beta2));
        var biasCorrection1 = 1 - Math.Pow(Beta1, StepCount);
        var biasCorrection2 = 1 - Math.Pow(Beta2, StepCount);
        var denominators = s_sqrt.CallMany(parameters.Count, Tensors(expAvgSqs));
        s_divScalar.CallVoid(Tensors(denominators), D(Math.Sqrt(biasCorrection2)));
        s_addScalar.CallVoid(Tensors(denominators), D(Eps));
        s_addcdiv.CallVoid(Tensors(parameters), Tensors(expAvgs), Tensors(denominators), D(-lr / biasCorrection1));
    }

    private void FusedStep(List<Parameter> owners, List<Tensor> parameters, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double wd)
    {
        // The fused kernel keeps one float32 step counter per parameter, on the device, incremented by the caller.
        var steps = new List<Tensor>(owners.Count);
        foreach (var p in owners)
        {
            if (!_fusedSteps.TryGetValue(p, out var step))
            {
                step = Torch.Full([], StepCount - 1, ScalarType.Float32, p.Value.Device).DetachFromScope();
                _fusedSteps[p] = step;
            }
            step.Add_(1.0);
            steps.Add(step);
        }
        s_fused.CallVoid(Tensors(parameters), Tensors(grads), Tensors(expAvgs), Tensors(expAvgSqs), Tensors([]), Tensors(steps),
            D(lr), D(Beta1), D(Beta2), D(wd), D(Eps), B(false), B(false));
    }

    private (Tensor, Tensor) StateOf(Parameter p)
    {
        if (!_state.TryGetValue(p, out var state))
        {
            state = (Torch.ZerosLike(p.Value).DetachFromScope(), Torch.ZerosLike(p.Value).DetachFromScope());
            _state[p] = state;
        }
        return state;
    }

    /// <summary>Optimizer state for a checkpoint: moments named by parameter position ("3.exp_avg"), plus the step.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var index = 0;
        foreach (var p in _groups.SelectMany(g => g.Parameters))
        {
            if (_state.TryGetValue(p, out var s))
            {
                result[$"{index}.exp_avg"] = s.ExpAvg;
                result[$"{index}.exp_avg_sq"] = s.ExpAvgSq;
            }
            index++;
        }
        return result;
    }

    /// <summary>Restores moments saved by <see cref="StateDict"/> (copied, so the source may be disposed).</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        StepCount = stepCount;
        var index = 0;
        using var noGrad = Torch.NoGrad();
        foreach (var p in _groups.SelectMany(g => g.Parameters))
        {
            if (state.TryGetValue($"{index}.exp_avg", out var m) && state.TryGetValue($"{index}.exp_avg_sq", out var v))
            {
                var (ownM, ownV) = StateOf(p);
                ownM.Copy_(m);
                ownV.Copy_(v);
            }
            index++;
        }
        foreach (var step in _fusedSteps.Values)
        {
            step.Fill_(stepCount);
        }
    }

    /// <summary>
    /// optimizer.zero_grad(set_to_none). By default gradients are zeroed in place on CPU (torch 1.13's default:
    /// freeing ~100 MB of ViT-S gradients each step made glibc hand the pages back and the next backward fault
    /// them in again, ~1/3 of the step) and reset to undefined on CUDA (torch 2.x's default: the caching
    /// allocator reuses the memory at no cost, and activations can use it until backward). Pass
    /// <paramref name="setToNone"/> to choose; in place, a parameter without a gradient in the next backward is
    /// stepped with a zero gradient, as in torch.
    /// </summary>
    public unsafe void ZeroGrad(bool? setToNone = null)
    {
        var parameters = _groups.SelectMany(g => g.Parameters).Select(p => p.Value).ToList();
        if (parameters.Count == 0)
        {
            return;
        }
        var toNone = setToNone ?? parameters[0].Device.IsCuda;
        var handles = new IntPtr[parameters.Count];
        for (var k = 0; k < handles.Length; k++)
        {
            handles[k] = parameters[k].Handle;
        }
        fixed (IntPtr* h = handles)
        {
            NativeMethods.Check(NativeMethods.vs_zero_grads(h, handles.Length, toNone ? 1 : 0));
        }
        GC.KeepAlive(parameters);
    }

    public void Dispose()
    {
        foreach (var (m, v) in _state.Values)
        {
            m.Dispose();
            v.Dispose();
        }
        foreach (var s in _fusedSteps.Values.Concat(_denominators.Values).Concat(_scratch.Values))
        {
            s.Dispose();
        }
        _state.Clear();
        _fusedSteps.Clear();
        _denominators.Clear();
        _scratch.Clear();
    }
}
