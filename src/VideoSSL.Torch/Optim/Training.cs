using VideoSSL.Torch.Native;
using VideoSSL.Torch.NN;
using static VideoSSL.Torch.Native.OpArg;

namespace VideoSSL.Torch.Optim;

public static class GradClip
{
    private static readonly Op s_mulScalar = new("aten::_foreach_mul_", "Scalar");

    /// <summary>
    /// Scales all gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_);
    /// returns the norm before clipping. One host sync per call, which a training step logs anyway.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = Torch.NewScope();
        var grads = parameters.Select(p => p.Value.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0)
        {
            return 0;
        }
        var total = Torch.ForeachNorm(grads).Item();
        var coefficient = maxNorm / (total + 1e-6);
        if (coefficient < 1)
        {
            using var noGrad = Torch.NoGrad();
            s_mulScalar.CallVoid(Tensors(grads), D(coefficient));
        }
        return total;
    }
}

/// <summary>teacher ← m·teacher + (1 − m)·student over all parameters, in two native calls, without autograd.</summary>
public static class Ema
{
    private static readonly Op s_mulScalar = new("aten::_foreach_mul_", "Scalar");
    private static readonly Op s_addList = new("aten::_foreach_add_", "List");

    public static void Update(Module teacher, Module student, double momentum)
    {
        var t = teacher.Parameters().Select(p => p.Value).ToList();
        var s = student.Parameters().Select(p => p.Value).ToList();
        if (t.Count != s.Count)
        {
            throw new ArgumentException($"teacher has {t.Count} parameters, student {s.Count}");
        }
        using var noGrad = Torch.NoGrad();
        s_mulScalar.CallVoid(Tensors(t), D(momentum));
        s_addList.CallVoid(Tensors(t), Tensors(s), D(1 - momentum));
    }
}

/// <summary>Per-step schedules for lr, weight decay and EMA momentum.</summary>
public static class Schedule
{
    /// <summary>
    /// Linear warmup from warmupStart to peak over warmupSteps, then half-cosine from peak to final at
    /// totalSteps (MAE/VideoMAE's cosine_scheduler, evaluated per step). Past totalSteps it stays at final.
    /// The warmup is np.linspace(start, peak, warmupSteps), which includes its end point: step i gets
    /// start + (peak − start)·i/(warmupSteps − 1), so the last warmup step already runs at the peak
    /// (MCG-NJU/VideoMAE utils.py cosine_scheduler; the same function in facebookresearch/dino utils.py).
    /// </summary>
    public static double WarmupCosine(long step, double peak, double final, long warmupSteps, long totalSteps, double warmupStart = 0)
    {
        if (step < warmupSteps)
        {
            return warmupSteps == 1 ? warmupStart : warmupStart + (peak - warmupStart) * step / (warmupSteps - 1);
        }
        var decaySteps = Math.Max(1, totalSteps - warmupSteps);
        var progress = Math.Min(1.0, (double)(step - warmupSteps) / decaySteps);
        return final + 0.5 * (peak - final) * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Linear from start to end over totalSteps (V-JEPA's EMA momentum), clamped after.</summary>
    public static double Linear(long step, double start, double end, long totalSteps) =>
        start + (end - start) * Math.Min(1.0, (double)step / Math.Max(1, totalSteps));

    /// <summary>Constant after a linear warmup.</summary>
    public static double WarmupConstant(long step, double value, long warmupSteps) =>
        step < warmupSteps ? value * step / warmupSteps : value;
}

/// <summary>A named per-step scalar (lr, weight decay, EMA momentum, temperature): a description for logs and its value at a step.</summary>
public sealed record ScalarSchedule(string Description, Func<long, double> At)
{
    public static ScalarSchedule Constant(double value) => new($"constant {value:G4}", _ => value);

    /// <summary>
    /// jepa's WarmupCosineSchedule (src/utils/schedulers.py) as app/vjepa/train.py uses it: stepped before every
    /// iteration, so iteration i runs at _step = i + 1: linear from start over warmupSteps, then cosine to final at
    /// horizon (T_max), floored at final. Unlike <see cref="Schedule.WarmupCosine"/> the progress is not clamped past
    /// the horizon, as in the official code (train.schedule_scale ≥ 1 keeps a run inside it).
    /// </summary>
    public static ScalarSchedule JepaWarmupCosine(string description, double start, double peak, double final, long warmupSteps, long horizon) => new(description, step =>
    {
        var s = step + 1.0;
        if (s < warmupSteps)
        {
            return start + (s / Math.Max(1, warmupSteps) * (peak - start));
        }
        var progress = (s - warmupSteps) / Math.Max(1, horizon - warmupSteps);
        return Math.Max(final, final + ((peak - final) * 0.5 * (1.0 + Math.Cos(Math.PI * progress))));
    });

    /// <summary>
    /// jepa's CosineWDSchedule (src/utils/schedulers.py), called once before every iteration, so iteration i sees
    /// progress (i + 1) / horizon; clamped at the final value.
    /// </summary>
    public static ScalarSchedule JepaCosine(double start, double final, long horizon) => new($"cosine {start:G4} -> {final:G4} over {horizon} steps", step =>
    {
        var progress = (step + 1.0) / Math.Max(1, horizon);
        var value = final + (start - final) * 0.5 * (1 + Math.Cos(Math.PI * progress));
        return final <= start ? Math.Max(final, value) : Math.Min(final, value);
    });
}
