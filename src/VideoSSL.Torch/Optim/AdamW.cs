using VideoSSL.Torch.Native;
using VideoSSL.Torch.NN;
using static VideoSSL.Torch.Native.OpArg;

namespace VideoSSL.Torch.Optim;

/// <summary>
/// Parameters that share an lr scale and a weight decay: how layer-wise lr decay and no-decay lists
/// (biases, norms, position embeddings, tokens) are expressed, as in MAE's param_groups_lrd.
/// </summary>
public sealed record ParamGroup(IReadOnlyList<Parameter> Parameters, double WeightDecay, double LrScale = 1.0, string Name = "");

/// <summary>
/// AdamW (decoupled weight decay) as torch.optim.AdamW. Each group is updated with a handful of
/// _foreach_* calls over all its tensors; on CUDA with libtorch 2.x the single fused kernel
/// (_fused_adamw_) is used instead.
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

    private readonly List<ParamGroup> _groups;
    private readonly Dictionary<Parameter, (Tensor ExpAvg, Tensor ExpAvgSq)> _state = [];
    private readonly Dictionary<Parameter, Tensor> _fusedSteps = [];

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

    /// <summary>Use the fused CUDA kernel when available (libtorch ≥ 2.0 on CUDA).</summary>
    public bool AllowFused { get; set; } = true;

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
            if (AllowFused && s_fused.IsAvailable && parameters[0].Device.IsCuda)
            {
                FusedStep(owners, parameters, grads, expAvgs, expAvgSqs, lr, wd);
            }
            else
            {
                ForeachStep(parameters, grads, expAvgs, expAvgSqs, lr, wd);
            }
        }
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

    public void ZeroGrad()
    {
        foreach (var p in _groups.SelectMany(g => g.Parameters))
        {
            p.Value.Grad = null;
        }
    }

    public void Dispose()
    {
        foreach (var (m, v) in _state.Values)
        {
            m.Dispose();
            v.Dispose();
        }
        foreach (var s in _fusedSteps.Values)
        {
            s.Dispose();
        }
        _state.Clear();
        _fusedSteps.Clear();
    }
}
