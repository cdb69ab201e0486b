using VideoSSL.Data.Pipelines;
using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Methods;

// Inside VideoSSL.*, "Torch" names the namespace; this alias makes it name the functional API.
using Torch = VideoSSL.Torch.Torch;

// SVT (kahnchana/svt): self-distillation of a student into an EMA teacher across global and local views of one
// clip, with DINO's head and loss (train_ssl.py DINOLoss, train_one_epoch; vision_transformer.py DINOHead and
// utils.py MultiCropWrapper, clip_gradients, cancel_gradients_last_layer, get_params_groups from facebookresearch/dino).

/// <summary>
/// The <c>svt</c> config section. Defaults are the official recipe (train_ssl.py argparse defaults and
/// scripts/train.sh; views: methods.md §5).
/// </summary>
public sealed record SvtSettings
{
    /// <summary>DINOHead out_dim (train.sh: 65536).</summary>
    public int OutDim { get; init; } = 65536;
    public int HiddenDim { get; init; } = 2048;
    public int BottleneckDim { get; init; } = 256;
    /// <summary>DINOHead nlayers: Linear layers before the bottleneck's L2 normalisation.</summary>
    public int HeadLayers { get; init; } = 3;
    /// <summary>Weight-normalised last layer with weight_g fixed at 1 (else weight_g is trained).</summary>
    public bool NormLastLayer { get; init; } = true;
    /// <summary>Teacher EMA momentum at step 0, raised to 1 with a cosine over the run (momentum_teacher).</summary>
    public double MomentumTeacher { get; init; } = 0.996;
    public double WarmupTeacherTemp { get; init; } = 0.04;
    public double TeacherTemp { get; init; } = 0.04;
    /// <summary>Epochs of linear teacher-temperature warm-up from warmup_teacher_temp (0 = teacher_temp throughout).</summary>
    public int WarmupTeacherTempEpochs { get; init; }
    public double StudentTemp { get; init; } = 0.1;
    public double CenterMomentum { get; init; } = 0.9;
    /// <summary>Epochs during which the head's last layer gets no update (its gradients are dropped before the step).</summary>
    public int FreezeLastLayer { get; init; } = 1;
    /// <summary>
    /// DINO's clip_gradients: EACH student parameter's gradient norm is clipped to this on its own (0 = off). This is
    /// not train.clip_grad (a global norm), which SVT recipes leave at 0.
    /// </summary>
    public double ClipGrad { get; init; } = 3.0;
    /// <summary>Clip feature of a joint space-time encoder (no CLS token there): mean of its normalised tokens. The divided backbone always gives CLS.</summary>
    public string Pool { get; init; } = "mean";
    // kahnchana/svt datasets/decoder.py (RAND_FR): the first global view takes 4 frames of [0, L-5], the second 8 of [5, L].
    public int[] GlobalFrames { get; init; } = [4, 8];
    public int GlobalSize { get; init; } = 224;
    public double[] GlobalScale { get; init; } = [0.4, 1.0];
    public int[] LocalFrames { get; init; } = [2, 2, 4, 4, 8, 8, 16, 16];
    public int LocalSize { get; init; } = 96;
    public double[] LocalScale { get; init; } = [0.05, 0.4];
    /// <summary>A warning is printed when the logged KL of the teacher's distributions from their batch mean falls under this.</summary>
    public double CollapseKlThreshold { get; init; } = 0.01;

    public MultiViewSpec Views() =>
        MultiViewSpec.Svt(GlobalFrames, GlobalSize, (GlobalScale[0], GlobalScale[1]), LocalFrames, LocalSize, (LocalScale[0], LocalScale[1]));

    public void Validate()
    {
        if (OutDim < 1 || HiddenDim < 1 || BottleneckDim < 1 || HeadLayers < 1)
        {
            throw new ArgumentException($"svt head sizes must be positive (out_dim {OutDim}, hidden_dim {HiddenDim}, bottleneck_dim {BottleneckDim}, head_layers {HeadLayers})");
        }
        if (GlobalFrames.Length < 2)
        {
            throw new ArgumentException($"svt.global_frames: the loss needs at least 2 global views, got {GlobalFrames.Length}");
        }
        if (GlobalScale.Length != 2 || LocalScale.Length != 2)
        {
            throw new ArgumentException("svt.global_scale and svt.local_scale take [min, max]");
        }
        if (Pool != "mean")
        {
            throw new ArgumentException($"svt.pool must be mean (a joint encoder has no CLS token; *_divst encoders read theirs), got '{Pool}'");
        }
    }
}

/// <summary>
/// DINO's projection head (dino vision_transformer.py DINOHead, use_bn False): <c>mlp</c> = Linear, GELU, …, Linear to
/// the bottleneck (names mlp.0, mlp.2, mlp.4; mlp itself when nlayers is 1), L2 normalisation, then the weight-normalised
/// <c>last_layer</c> (weight_g [out, 1] filled with 1 and frozen with norm_last_layer, weight_v [out, bottleneck]).
/// </summary>
public sealed class DinoHead : Module
{
    private readonly List<Linear> _layers = [];

    public DinoHead(int inDim, int outDim, bool normLastLayer = true, int layers = 3, int hiddenDim = 2048, int bottleneckDim = 256)
    {
        if (layers == 1)
        {
            _layers.Add(Child("mlp", new Linear(inDim, bottleneckDim)));
        }
        else
        {
            var mlp = Child("mlp", new Sequential());
            var dims = new List<int> { inDim };
            dims.AddRange(Enumerable.Repeat(hiddenDim, layers - 1));
            dims.Add(bottleneckDim);
            for (var i = 0; i < layers; i++)
            {
                // nn.Sequential numbering: a GELU after every Linear but the last takes the odd indices.
                _layers.Add(mlp.Add((2 * i).ToString(System.Globalization.CultureInfo.InvariantCulture), new Linear(dims[i], dims[i + 1])));
            }
        }
        ModelInit.TruncNormalLinears(this, 0.02); // self.apply(_init_weights) runs before last_layer exists
        LastLayer = Child("last_layer", new WeightNormLinear(bottleneckDim, outDim));
        LastLayer.WeightG.Value.RequiresGrad = !normLastLayer;
    }

    public WeightNormLinear LastLayer { get; }

    /// <summary>[N, in] → [N, out].</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        for (var i = 0; i < _layers.Count; i++)
        {
            x = _layers[i].Forward(x);
            if (i < _layers.Count - 1)
            {
                x = Torch.Gelu(x);
            }
        }
        x = Torch.Normalize(x, -1);
        return scope.MoveToOuter(LastLayer.Forward(x));
    }

    /// <summary>An nn.Sequential holding only the layers with parameters, under their Sequential indices.</summary>
    private sealed class Sequential : Module
    {
        public T Add<T>(string name, T module)
            where T : Module => Child(name, module);
    }
}

/// <summary>
/// nn.utils.weight_norm(nn.Linear(in, out, bias=False)): weight = weight_v · weight_g / ‖weight_v‖ per output row.
/// weight_v keeps nn.Linear's default init; weight_g starts at 1 (DINOHead fills it after weight_norm).
/// </summary>
public sealed class WeightNormLinear : Module
{
    public WeightNormLinear(int inFeatures, int outFeatures)
    {
        var bound = 1.0 / Math.Sqrt(inFeatures);
        using var noGrad = Torch.NoGrad();
        WeightG = Param("weight_g", Torch.Ones([outFeatures, 1]));
        WeightV = Param("weight_v", Torch.Empty([outFeatures, inFeatures]).Uniform_(-bound, bound));
    }

    public Parameter WeightG { get; }
    public Parameter WeightV { get; }

    public Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        // torch._weight_norm on CPU: v * (g / norm_except_dim(v, 2, 0)).
        var v = WeightV.Value;
        var weight = v * (WeightG.Value / v.Norm(2, [1], keepDim: true));
        return scope.MoveToOuter(Torch.Linear(x, weight.To(x.Dtype)));
    }
}

/// <summary>The DINO loss of one step and the teacher's collapse statistics.</summary>
public sealed record DinoLossOutput(Tensor Loss, Tensor TeacherEntropy, Tensor KlTeacherCentre);

/// <summary>
/// train_ssl.py DINOLoss: the teacher's outputs are centred and sharpened, softmax((t − center) / τ_t); the student's are
/// log-softmax(s / τ_s); the cross-entropy is averaged over the batch for every (teacher global view, student view)
/// pair of different views and then over the pairs; after the loss, center ← m·center + (1 − m)·mean of the teacher
/// outputs. <c>center</c> [1, out] is a buffer (saved as <c>dino_loss.center</c>, the official checkpoint's entry).
/// </summary>
public sealed class DinoLoss : Module
{
    public DinoLoss(int outDim, double studentTemp = 0.1, double centerMomentum = 0.9)
    {
        StudentTemp = studentTemp;
        CenterMomentum = centerMomentum;
        Buffer("center", Torch.Zeros([1, outDim]));
    }

    public double StudentTemp { get; }
    public double CenterMomentum { get; }

    /// <summary>Looked up by name: <see cref="Module.To"/> and checkpoint loads replace buffers.</summary>
    public Tensor Center => NamedBuffers().First(b => b.Key == "center").Value;

    /// <summary>
    /// Loss for student outputs [V·B, out] (views in order, the first <paramref name="globalViews"/> being the
    /// teacher's) and teacher outputs [G·B, out] at teacher temperature <paramref name="teacherTemp"/>; then updates
    /// the centre. Computed in float32.
    /// </summary>
    public DinoLossOutput Forward(Tensor student, Tensor teacher, int views, int globalViews, double teacherTemp)
    {
        using var scope = Torch.NewScope();
        var studentOut = (student.Float() / StudentTemp).Chunk(views);
        Tensor teacherProbs;
        using (Torch.NoGrad())
        {
            teacherProbs = ((teacher.Float() - Center) / teacherTemp).Softmax(-1);
        }
        var teacherOut = teacherProbs.Chunk(globalViews);
        Tensor? total = null;
        var terms = 0;
        for (var iq = 0; iq < teacherOut.Length; iq++)
        {
            for (var v = 0; v < studentOut.Length; v++)
            {
                if (v == iq)
                {
                    continue; // the student never matches the teacher on the same view
                }
                var term = (teacherOut[iq].Neg() * studentOut[v].LogSoftmax(-1)).Sum([-1]).Mean();
                total = total is null ? term : total + term;
                terms++;
            }
        }
        var loss = total!.Div(terms);
        Tensor entropy;
        Tensor kl;
        using (Torch.NoGrad())
        {
            (entropy, kl) = CollapseStatistics(teacherProbs);
            UpdateCenter(teacher);
        }
        return new DinoLossOutput(scope.MoveToOuter(loss), scope.MoveToOuter(entropy), scope.MoveToOuter(kl));
    }

    /// <summary>Data parallelism: the batch centre is summed over these ranks before the update (null: one process).</summary>
    public DistributedContext? Ranks { get; set; }

    /// <summary>
    /// center ← m·center + (1 − m)·mean over the rows of every rank's teacher outputs (DINOLoss.update_center:
    /// dist.all_reduce(batch_center), then / (len(teacher_output) · world_size)), so the centre stays the same on all ranks.
    /// </summary>
    public void UpdateCenter(Tensor teacher)
    {
        using var scope = Torch.NewScope();
        using var noGrad = Torch.NoGrad();
        var batchCenter = teacher.Float().Sum([0], keepDim: true);
        var world = 1;
        if (Ranks is { IsDistributed: true } ranks)
        {
            ranks.SumInPlace(batchCenter);
            world = ranks.WorldSize;
        }
        Center.Mul_(CenterMomentum).Add_(batchCenter / (teacher.Size(0) * world), 1 - CenterMomentum);
    }

    /// <summary>
    /// Collapse monitors of the teacher's centred, sharpened distributions p [N, K]: their mean entropy (0 when one
    /// dimension dominates, log K when uniform) and the mean KL(p_i ‖ p̄) of each from the batch's mean distribution
    /// p̄, the target the centre tracks (0 when every clip gets the same target, whatever its shape).
    /// </summary>
    public static (Tensor Entropy, Tensor Kl) CollapseStatistics(Tensor probs)
    {
        using var scope = Torch.NewScope();
        var logP = probs.ClampMin(1e-30).Log();
        var entropy = (probs * logP).Sum([-1]).Mean().Neg();
        var mean = probs.Mean([0], keepDim: true);
        var kl = (probs * (logP - mean.ClampMin(1e-30).Log())).Sum([-1]).Mean();
        return (scope.MoveToOuter(entropy), scope.MoveToOuter(kl));
    }
}

/// <summary>
/// utils.py MultiCropWrapper: <c>backbone</c> and <c>head</c>. Consecutive views of the same WIDTH go through the
/// backbone together (the official grouping); the clip features of all views are concatenated and the head runs
/// once. Views of one width but different frame counts cannot be concatenated (the official torch.cat would fail),
/// so such a run is split further by frame count; features do not depend on the grouping.
/// </summary>
public sealed class SvtNetwork : Module
{
    private readonly Func<Tensor, Tensor> _features;

    public SvtNetwork(VideoViTConfig encoder, SvtSettings settings)
    {
        Backbone = Child("backbone", ModelRegistry.CreateBackbone(encoder));
        _features = Backbone switch
        {
            DividedViT divided => divided.Forward,
            VideoViTEncoder joint when settings.Pool == "mean" => clip => joint.ForwardAnySize(clip).Mean([1]),
            _ => throw new ArgumentException($"svt.pool = {settings.Pool}: the joint encoder '{encoder.Name}' has no CLS token; use mean or a *_divst encoder"),
        };
        Head = Child("head", new DinoHead(encoder.EmbedDim, settings.OutDim, settings.NormLastLayer, settings.HeadLayers, settings.HiddenDim, settings.BottleneckDim));
    }

    public VideoEncoder Backbone { get; }
    public DinoHead Head { get; }

    /// <summary>The clip feature [B, D] the head reads (CLS of the divided backbone, pooled tokens of the joint one).</summary>
    public Tensor Features(Tensor clip) => _features(clip);

    /// <summary>Head outputs [ΣB, out] for the views in order.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> views)
    {
        using var scope = Torch.NewScope();
        var features = new List<Tensor>();
        var start = 0;
        while (start < views.Count)
        {
            var end = start + 1;
            while (end < views.Count && views[end].Size(-1) == views[start].Size(-1) && views[end].Size(2) == views[start].Size(2))
            {
                end++;
            }
            var group = views.Skip(start).Take(end - start).ToList();
            features.Add(_features(group.Count == 1 ? group[0] : Torch.Cat(group, 0)));
            start = end;
        }
        return scope.MoveToOuter(Head.Forward(features.Count == 1 ? features[0] : Torch.Cat(features, 0)));
    }
}

/// <summary>
/// The SVT model: <c>student.*</c> and <c>teacher.*</c> (each <c>backbone.*</c> + <c>head.*</c>, the official
/// checkpoint's entries without <c>module.</c>) and <c>dino_loss.center</c>. The teacher starts as a copy of the
/// student, gets no gradients and is never put in eval mode (its drop path stays active, as the official loop).
/// </summary>
public sealed class SvtModel : Module
{
    public SvtModel(VideoViTConfig encoder, SvtSettings settings)
    {
        settings.Validate();
        Settings = settings;
        Student = Child("student", new SvtNetwork(encoder, settings));
        Teacher = Child("teacher", new SvtNetwork(encoder, settings));
        DinoLoss = Child("dino_loss", new DinoLoss(settings.OutDim, settings.StudentTemp, settings.CenterMomentum));
        Teacher.LoadStateDict(Student.StateDict());
        foreach (var p in Teacher.Parameters())
        {
            p.Value.RequiresGrad = false;
        }
    }

    public SvtSettings Settings { get; }
    public SvtNetwork Student { get; }
    public SvtNetwork Teacher { get; }
    public DinoLoss DinoLoss { get; }

    /// <summary>
    /// The step's loss: the student sees every view, the teacher only the first <paramref name="globalViews"/>
    /// (without gradients); DINO loss at teacher temperature <paramref name="teacherTemp"/>, then the centre update.
    /// </summary>
    public DinoLossOutput Loss(IReadOnlyList<Tensor> views, int globalViews, double teacherTemp)
    {
        using var scope = Torch.NewScope();
        Tensor student, teacher;
        using (Profiling.Phase("student"))
        {
            student = Student.Forward(views);
        }
        using (Torch.NoGrad())
        using (Profiling.Phase("teacher"))
        {
            teacher = Teacher.Forward(views.Take(globalViews).ToList());
        }
        using var lossPhase = Profiling.Phase("loss");
        var output = DinoLoss.Forward(student, teacher, views.Count, globalViews, teacherTemp);
        return new DinoLossOutput(scope.MoveToOuter(output.Loss), scope.MoveToOuter(output.TeacherEntropy), scope.MoveToOuter(output.KlTeacherCentre));
    }

    /// <summary>
    /// Loads an official SVT checkpoint (train_ssl.py save_dict: <c>student</c> with <c>module.</c>, <c>teacher</c>,
    /// <c>dino_loss</c> with the centre; <c>args</c>, an argparse.Namespace, and the optimizer are read as data and
    /// not used) into student, teacher and centre. Every entry must match this model exactly.
    /// </summary>
    public void LoadOfficial(string path)
    {
        foreach (var (key, target) in new (string, Module)[] { ("student", Student), ("teacher", Teacher) })
        {
            // The reader drops module.backbone. / module.; backbone. goes here, so both networks read backbone names bare.
            OfficialCheckpoint.LoadEntry(path, key, target, "backbone.", name => name.StartsWith("head.", StringComparison.Ordinal) ? name : "backbone." + name);
        }
        OfficialCheckpoint.LoadEntry(path, "dino_loss", DinoLoss, stripPrefix: null);
    }
}

/// <summary>
/// SVT as a pretraining task. Batches carry the views of <see cref="Views"/> by name; teacher temperature and EMA
/// momentum are schedules the loop logs; before each optimizer step every student gradient is clipped on its own and,
/// in the first <c>freeze_last_layer</c> epochs, the head's last layer loses its gradients (so AdamW skips it
/// altogether, as with the official <c>p.grad = None</c>); after it the teacher follows the student.
/// </summary>
public sealed class SvtTask : IPretrainTask
{
    public const string MomentumName = "teacher_momentum";
    public const string TeacherTempName = "teacher_temp";

    private readonly SvtModel _model;
    private readonly MultiViewSpec _views;
    private ScalarSchedule _teacherTemp;

    public SvtTask(VideoViTConfig encoder, SvtSettings settings)
    {
        _model = new SvtModel(encoder, settings);
        _views = settings.Views();
        _teacherTemp = TeacherTemperature(settings, new SchedulePlan(1, 1, 0));
    }

    public Module Model => _model;

    public SvtModel Network => _model;

    public MultiViewSpec? Views => _views;

    /// <summary>dino utils.get_params_groups over the student: biases and 1-D tensors without weight decay, the rest (tokens and tables included) with it.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay)
    {
        var decay = new List<Parameter>();
        var noDecay = new List<Parameter>();
        foreach (var (name, p) in _model.Student.NamedParameters())
        {
            if (!p.Value.RequiresGrad)
            {
                continue;
            }
            (name.EndsWith(".bias", StringComparison.Ordinal) || p.Shape.Length == 1 ? noDecay : decay).Add(p);
        }
        return [new ParamGroup(decay, weightDecay, 1.0, "decay"), new ParamGroup(noDecay, 0, 1.0, "no_decay")];
    }

    public PretrainOutput Loss(PretrainBatch batch)
    {
        var views = _views.Views.Select(v => batch.Views.TryGetValue(v.Name, out var t)
            ? t
            : throw new KeyNotFoundException($"svt: the batch has no view '{v.Name}' ({string.Join(", ", batch.Views.Keys)})")).ToList();
        var globals = _views.Views.Count(v => v.Global);
        var output = _model.Loss(views, globals, _teacherTemp.At(batch.Step));
        return new PretrainOutput(output.Loss, new Dictionary<string, Tensor>
        {
            ["collapse/teacher_entropy"] = output.TeacherEntropy,
            ["collapse/kl_teacher_centre"] = output.KlTeacherCentre,
        });
    }

    public IReadOnlyDictionary<string, ScalarSchedule> Schedules(SchedulePlan plan)
    {
        _teacherTemp = TeacherTemperature(_model.Settings, plan);
        var start = _model.Settings.MomentumTeacher;
        var total = Math.Max(1, plan.TotalSteps);
        return new Dictionary<string, ScalarSchedule>
        {
            // utils.cosine_scheduler(momentum_teacher, 1, epochs, niter_per_ep): 1 + (m0 − 1)·(1 + cos(π·it / total)) / 2.
            [MomentumName] = new($"cosine {start:G6} -> 1 over {total} steps", step => 1 + (0.5 * (start - 1) * (1 + Math.Cos(Math.PI * Math.Min(step, total) / total)))),
            [TeacherTempName] = _teacherTemp,
        };
    }

    /// <summary>DINOLoss.teacher_temp_schedule, indexed by EPOCH: linspace(warmup, final, warmup_epochs) then final.</summary>
    public static ScalarSchedule TeacherTemperature(SvtSettings s, SchedulePlan plan)
    {
        var perEpoch = Math.Max(1, plan.StepsPerEpoch);
        var warm = s.WarmupTeacherTempEpochs;
        return new($"{s.WarmupTeacherTemp:G4} -> {s.TeacherTemp:G4} linear over {warm} epochs, then constant", step =>
        {
            var epoch = step / perEpoch;
            return epoch >= warm ? s.TeacherTemp
                : warm == 1 ? s.WarmupTeacherTemp
                : s.WarmupTeacherTemp + ((s.TeacherTemp - s.WarmupTeacherTemp) * epoch / (warm - 1));
        });
    }

    public void BeforeOptimizerStep(OptimizerStepContext context)
    {
        if (_model.Settings.ClipGrad > 0)
        {
            ClipEachGradient(_model.Student, _model.Settings.ClipGrad);
        }
        var epoch = context.Step / Math.Max(1, context.Plan.StepsPerEpoch);
        if (epoch < _model.Settings.FreezeLastLayer)
        {
            foreach (var (name, p) in _model.Student.NamedParameters())
            {
                if (name.Contains("last_layer", StringComparison.Ordinal))
                {
                    p.Value.Grad = null;
                }
            }
        }
    }

    /// <summary>
    /// dino utils.clip_gradients: each gradient is scaled by clip / (‖g‖ + 1e-6) when that is below 1. The official
    /// coefficient is a 0-d tensor (Python's float / tensor is reciprocal · float); clamping it at 1 and always
    /// multiplying gives the same values without its per-parameter host read (a device sync on CUDA).
    /// </summary>
    public static void ClipEachGradient(Module module, double clip)
    {
        using var noGrad = Torch.NoGrad();
        foreach (var p in module.Parameters())
        {
            using var grad = p.Value.Grad;
            if (grad is null)
            {
                continue;
            }
            using var scope = Torch.NewScope();
            grad.Mul_(grad.Norm(2).Add(1e-6).Reciprocal().Mul(clip).Clamp(max: 1.0));
        }
    }

    public void JoinRanks(DistributedContext dist, int rowsPerVideo) => _model.DinoLoss.Ranks = dist;

    public void AfterOptimizerStep(OptimizerStepContext context) =>
        Ema.Update(_model.Teacher, _model.Student, context.Scalars[MomentumName]);

    public string? Check(IReadOnlyDictionary<string, double> loggedMetrics) =>
        loggedMetrics.TryGetValue("collapse/kl_teacher_centre", out var kl) && kl < _model.Settings.CollapseKlThreshold
            ? $"warning: the teacher's targets differ from their batch mean by KL {kl:G3} < svt.collapse_kl_threshold={_model.Settings.CollapseKlThreshold:G3}: every clip gets the same target, the representation may be collapsing (see collapse/teacher_entropy: 0 = one dimension dominates, log(out_dim) = uniform)"
            : null;

    public void Dispose() => _model.Dispose();
}
