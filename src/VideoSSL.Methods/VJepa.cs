using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Methods;

// Inside VideoSSL.*, "Torch" names the namespace; this alias makes it name the functional API.
using Torch = VideoSSL.Torch.Torch;

// V-JEPA (facebookresearch/jepa: app/vjepa/train.py, src/masks/multiblock3d.py, src/models/predictor.py) and
// V-JEPA 2 (facebookresearch/vjepa2: src/masks/multiseq_multiblock3d.py, src/models/predictor.py with RoPE).
// Masks are drawn on the host from System.Random generators the caller seeds from (seed, step, micro-batch),
// so a resumed run masks exactly as an uninterrupted one; the official collator draws them in loader workers.

/// <summary>
/// One multiblock mask generator of a V-JEPA config (<c>cfgs_mask</c> entry). Ranges are [min, max]; an empty range
/// takes the official default (the config binder appends to non-empty default lists, so defaults live in <see cref="Resolved"/>).
/// </summary>
public sealed record MaskBlockSettings
{
    /// <summary>Spatial block scale range (fraction of H'·W'); default [0.15, 0.15].</summary>
    public double[] SpatialScale { get; init; } = [];
    /// <summary>Default [1, 1]: every block spans all T' slots.</summary>
    public double[] TemporalScale { get; init; } = [];
    /// <summary>Default [0.75, 1.5].</summary>
    public double[] AspectRatio { get; init; } = [];
    public int NumBlocks { get; init; } = 8;
    /// <summary>Context only from the first max_temporal_keep of the T' slots (1 = all).</summary>
    public double MaxTemporalKeep { get; init; } = 1.0;

    public MaskBlockSettings Resolved() => this with
    {
        SpatialScale = SpatialScale.Length > 0 ? SpatialScale : [0.15, 0.15],
        TemporalScale = TemporalScale.Length > 0 ? TemporalScale : [1.0, 1.0],
        AspectRatio = AspectRatio.Length > 0 ? AspectRatio : [0.75, 1.5],
    };
}

/// <summary>
/// The <c>vjepa</c> config section (V-JEPA and V-JEPA 2). Sizes left null come from <see cref="VJepa.PredictorSize"/>.
/// Defaults are the official ViT-L recipes (configs/pretrain/vitl16.yaml, methods.md §3).
/// </summary>
public sealed record VJepaSettings
{
    public int? PredEmbedDim { get; init; }
    public int? PredDepth { get; init; }
    public int? PredNumHeads { get; init; }

    /// <summary>Empty = the official short-range (8 blocks at 0.15) and long-range (2 blocks at 0.7) generators.</summary>
    public MaskBlockSettings[] Masks { get; init; } = [];

    /// <summary>EMA momentum, linear from [0] to [1] over the (scaled) planned steps; V-JEPA 2 keeps it constant.</summary>
    public double[] Ema { get; init; } = [0.998, 1.0];

    /// <summary>Gradient-norm clip of encoder and predictor (each separately), only after the warmup epochs; 0 = off.</summary>
    public double ClipGrad { get; init; } = 10.0;

    /// <summary>The loss is mean(|z − h|^loss_exp) / loss_exp (1 = L1, as every published recipe).</summary>
    public double LossExp { get; init; } = 1.0;

    /// <summary>A warning is printed when the logged mean per-dimension std of the targets falls under this.</summary>
    public double CollapseStdThreshold { get; init; } = 0.05;

    /// <summary>configs/pretrain/vit*16.yaml <c>mask</c>: 8 blocks at spatial scale 0.15, 2 at 0.7.</summary>
    public static MaskBlockSettings[] OfficialMasks =>
    [
        new MaskBlockSettings { SpatialScale = [0.15, 0.15], NumBlocks = 8 }.Resolved(),
        new MaskBlockSettings { SpatialScale = [0.7, 0.7], NumBlocks = 2 }.Resolved(),
    ];

    /// <summary>Every default spelled out (what a run's saved config shows).</summary>
    public VJepaSettings Resolved() => this with { Masks = Masks.Length > 0 ? [.. Masks.Select(m => m.Resolved())] : OfficialMasks };

    public void Validate()
    {
        if (Masks.Length == 0)
        {
            throw new ArgumentException("vjepa.masks: need at least one mask generator");
        }
        foreach (var (m, i) in Masks.Select((m, i) => (m, i)))
        {
            if (m.SpatialScale.Length != 2 || m.TemporalScale.Length != 2 || m.AspectRatio.Length != 2 || m.NumBlocks <= 0)
            {
                throw new ArgumentException($"vjepa.masks.{i}: spatial_scale, temporal_scale and aspect_ratio take [min, max]; num_blocks must be positive");
            }
        }
        if (Ema.Length != 2 || Ema.Any(e => e is < 0 or > 1))
        {
            throw new ArgumentException($"vjepa.ema: need [start, end] in [0, 1], got [{string.Join(", ", Ema)}]");
        }
        if (LossExp <= 0)
        {
            throw new ArgumentException($"vjepa.loss_exp must be positive, got {LossExp}");
        }
    }
}

/// <summary>Context and target token indices of one generator for a batch: [B, Nctx] and [B, Ntgt], ascending per sample.</summary>
public sealed record MultiblockMasks(long[][] Context, long[][] Targets)
{
    public int Batch => Context.Length;

    public (Tensor Context, Tensor Targets) ToTensors(Device device)
    {
        static Tensor Stack(long[][] rows, Device device)
        {
            var n = rows[0].Length;
            var flat = new long[rows.Length * n];
            for (var b = 0; b < rows.Length; b++)
            {
                rows[b].CopyTo(flat, b * n);
            }
            var host = Tensor.From<long>(flat, [rows.Length, n]);
            return device.IsCuda ? host.To(device) : host;
        }
        return (Stack(Context, device), Stack(Targets, device));
    }
}

/// <summary>
/// jepa's multiblock 3-D <c>_MaskGenerator</c> (src/masks/multiblock3d.py): ONE block size per batch (from the
/// size generator), per sample <c>num_blocks</c> block positions (top, left, start), the masked region is their
/// union, context = the rest; a sample with an empty context is redrawn; then every sample's lists are cut to
/// the batch minimum, keeping the LOWEST indices (the official quirk: it biases the context towards early frames
/// and top rows, and the ratio depends on the batch size; published checkpoints were trained with it).
/// </summary>
public sealed class MultiblockMaskGenerator
{
    public MultiblockMaskGenerator(TokenGrid grid, MaskBlockSettings settings)
    {
        Grid = grid;
        Settings = settings.Resolved();
        MaxContextDuration = Math.Max(1, (int)(grid.Frames * Settings.MaxTemporalKeep));
    }

    public TokenGrid Grid { get; }
    public MaskBlockSettings Settings { get; }
    public int MaxContextDuration { get; }

    /// <summary>_sample_block_size: three uniform draws (temporal scale, spatial scale, aspect ratio).</summary>
    public (int T, int H, int W) BlockSize(Func<double> uniform)
    {
        var s = Settings;
        var temporal = s.TemporalScale[0] + uniform() * (s.TemporalScale[1] - s.TemporalScale[0]);
        var t = Math.Max(1, (int)(Grid.Frames * temporal));
        var spatial = s.SpatialScale[0] + uniform() * (s.SpatialScale[1] - s.SpatialScale[0]);
        var keep = (int)(Grid.Height * Grid.Width * spatial);
        var aspect = s.AspectRatio[0] + uniform() * (s.AspectRatio[1] - s.AspectRatio[0]);
        // Python's round() is round-half-to-even, as Math.Round's default.
        var h = (int)Math.Round(Math.Sqrt(keep * aspect));
        var w = (int)Math.Round(Math.Sqrt(keep / aspect));
        // At least 1 × 1: on grids too small for the scale (int(H'W'·scale) = 0) the official code masks nothing and
        // its loss is the mean of an empty tensor (NaN); on every grid where it works, this changes nothing.
        return (t, Math.Clamp(h, 1, Grid.Height), Math.Clamp(w, 1, Grid.Width));
    }

    /// <summary>
    /// One batch. <paramref name="randInt"/>(low, high) draws an integer in [low, high) as torch.randint, in the
    /// official order per block: top, left, start.
    /// </summary>
    public MultiblockMasks Next(int batch, Func<double> uniform, Func<int, int, int> randInt)
    {
        var (bt, bh, bw) = BlockSize(uniform);
        var g = Grid;
        var contexts = new List<long[]>(batch);
        var targets = new List<long[]>(batch);
        var minContext = g.Count;
        var minTarget = g.Count;
        var keep = new bool[g.Count];
        for (var b = 0; b < batch; b++)
        {
            while (true)
            {
                Array.Fill(keep, true);
                for (var k = 0; k < Settings.NumBlocks; k++)
                {
                    var top = randInt(0, g.Height - bh + 1);
                    var left = randInt(0, g.Width - bw + 1);
                    var start = randInt(0, g.Frames - bt + 1);
                    for (var t = 0; t < g.Frames; t++)
                    {
                        var inBlockT = t >= start && t < start + bt;
                        for (var h = 0; h < g.Height; h++)
                        {
                            for (var w = 0; w < g.Width; w++)
                            {
                                var inBlock = inBlockT && h >= top && h < top + bh && w >= left && w < left + bw;
                                if (inBlock || t >= MaxContextDuration)
                                {
                                    keep[(t * g.PerFrame) + (h * g.Width) + w] = false;
                                }
                            }
                        }
                    }
                }
                var context = Enumerable.Range(0, g.Count).Where(n => keep[n]).Select(n => (long)n).ToArray();
                if (context.Length == 0)
                {
                    continue; // empty context: redraw this sample, as the official loop
                }
                var target = Enumerable.Range(0, g.Count).Where(n => !keep[n]).Select(n => (long)n).ToArray();
                minContext = Math.Min(minContext, context.Length);
                minTarget = Math.Min(minTarget, target.Length);
                contexts.Add(context);
                targets.Add(target);
                break;
            }
        }
        return new MultiblockMasks(
            contexts.Select(c => c[..minContext]).ToArray(),
            targets.Select(t => t[..minTarget]).ToArray());
    }
}

/// <summary>jepa's learned mask tokens, a ParameterList: <c>mask_tokens.0</c>, <c>mask_tokens.1</c>, … each [1, 1, D], zero init.</summary>
public sealed class MaskTokens : Module
{
    private readonly List<Parameter> _tokens = [];

    public MaskTokens(int count, int dim)
    {
        for (var i = 0; i < count; i++)
        {
            _tokens.Add(Param(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Torch.Zeros([1, 1, dim])));
        }
    }

    public int Count => _tokens.Count;

    public Parameter this[int index] => _tokens[index];
}

/// <summary>
/// jepa's VisionTransformerPredictor with its official names: <c>predictor_embed</c>, <c>mask_tokens.*</c>,
/// <c>predictor_pos_embed</c> (3-D sincos, in the state_dict; none with RoPE), <c>predictor_blocks</c>,
/// <c>predictor_norm</c>, <c>predictor_proj</c>. Input = [embed(ctx) + pos[ctx], mask_token + pos[tgt]]; with
/// <see cref="SortTokens"/> (V-JEPA 2) tokens are put in index order before the blocks and back after.
/// </summary>
public sealed class VJepaPredictor : Module
{
    private const string PosEmbedName = "predictor_pos_embed";

    public VJepaPredictor(VideoViTConfig encoder, int dim, int depth, int heads, int numMaskTokens, bool sortTokens)
    {
        Config = encoder;
        SortTokens = sortTokens;
        PredictorEmbed = Child("predictor_embed", new Linear(encoder.EmbedDim, dim));
        Tokens = Child("mask_tokens", new MaskTokens(numMaskTokens, dim));
        if (encoder.PosEmbed == PositionEmbedding.Sincos3d)
        {
            Buffer(PosEmbedName, Tensor.From(PositionTables.Sincos3d(encoder.Grid, dim, encoder.UniformPower), 1, encoder.NumTokens, dim));
        }
        // The official predictor never receives the grid size: its RoPE assumes a square img_size/patch grid.
        var side = encoder.ImgSize / encoder.PatchSize;
        var blocks = Enumerable.Range(0, depth)
            .Select(_ => VideoViTEncoder.CreateBlock(dim, heads, (int)(dim * encoder.MlpRatio), encoder, 0, side, side)).ToList();
        PredictorBlocks = Child("predictor_blocks", new ModuleList<Block>(blocks));
        PredictorNorm = Child("predictor_norm", new LayerNorm(dim, encoder.LayerNormEps));
        PredictorProj = Child("predictor_proj", new Linear(dim, encoder.EmbedDim));
        ModelInit.Jepa(this, PredictorBlocks);
        using var noGrad = Torch.NoGrad();
        foreach (var (_, p) in Tokens.NamedParameters())
        {
            p.Value.Zero_(); // zero_init_mask_tokens: True in every official config
        }
    }

    public VideoViTConfig Config { get; }
    public bool SortTokens { get; }
    public Linear PredictorEmbed { get; }
    public MaskTokens Tokens { get; }
    public ModuleList<Block> PredictorBlocks { get; }
    public LayerNorm PredictorNorm { get; }
    public Linear PredictorProj { get; }

    public Tensor? PosEmbed => NamedBuffers().FirstOrDefault(b => b.Key == PosEmbedName).Value;

    /// <summary>Predictions [B, Ntgt, D] for context features [B, Nctx, D] at context indices [B, Nctx] and target indices [B, Ntgt].</summary>
    public Tensor Forward(Tensor context, Tensor contextIndices, Tensor targetIndices, int maskIndex)
    {
        using var scope = Torch.NewScope();
        var x = PredictorEmbed.Forward(context);
        var (b, nContext, nTarget) = (x.Size(0), x.Size(1), targetIndices.Size(1));
        var token = Tokens[maskIndex % Tokens.Count].Value;
        var targets = token.To(x.Dtype).Expand(b, nTarget, x.Size(2));
        if (PosEmbed is { } pos)
        {
            pos = (pos.Dtype == x.Dtype ? pos : pos.To(x.Dtype)).Expand(b, pos.Size(1), pos.Size(2));
            x = x + VideoViTEncoder.GatherTokens(pos, contextIndices);
            targets = targets + VideoViTEncoder.GatherTokens(pos, targetIndices);
        }
        x = Torch.Cat([x, targets], 1);
        var positions = Torch.Cat([contextIndices, targetIndices], 1);
        Tensor? order = null;
        if (SortTokens)
        {
            order = positions.ArgSort(1);
            positions = positions.Gather(1, order);
            x = VideoViTEncoder.GatherTokens(x, order);
        }
        using var ropeTables = new RopeTables();
        foreach (var block in PredictorBlocks)
        {
            x = block.Forward(x, positions, ropeTables);
        }
        x = PredictorNorm.Forward(x);
        if (order is not null)
        {
            x = VideoViTEncoder.GatherTokens(x, order.ArgSort(1));
        }
        return scope.MoveToOuter(PredictorProj.Forward(x.Slice(1, nContext)));
    }
}

/// <summary>The loss, per-generator predictions and targets, and the collapse statistics of a V-JEPA step.</summary>
public sealed record VJepaOutput(Tensor Loss, Tensor[] Predictions, Tensor[] Targets, Tensor TargetStd, Tensor PooledCosine);

/// <summary>
/// The V-JEPA / V-JEPA 2 model: <c>encoder.*</c>, <c>predictor.*</c>, <c>target_encoder.*</c> (the official
/// checkpoint's three state_dicts without <c>module.</c>). The target encoder is an EMA copy and gets no gradients.
/// </summary>
public sealed class VJepaModel : Module
{
    public VJepaModel(VideoViTConfig encoder, VJepaSettings settings, bool v2)
    {
        settings = settings.Resolved();
        settings.Validate();
        Settings = settings;
        V2 = v2;
        var (dim, depth, heads) = VJepa.PredictorSize(encoder, settings, v2);
        Encoder = Child("encoder", new VideoViTEncoder(encoder));
        // V-JEPA 2 picks mask tokens by clip-length group (one group here: mask_tokens[0] for every generator);
        // V-JEPA has one token per mask generator.
        Predictor = Child("predictor", new VJepaPredictor(encoder, dim, depth, heads, v2 ? 1 : settings.Masks.Length, sortTokens: v2));
        TargetEncoder = Child("target_encoder", new VideoViTEncoder(encoder));
        TargetEncoder.LoadStateDict(Encoder.StateDict()); // copy.deepcopy(encoder)
        foreach (var p in TargetEncoder.Parameters())
        {
            p.Value.RequiresGrad = false;
        }
        Generators = settings.Masks.Select(m => new MultiblockMaskGenerator(encoder.Grid, m)).ToArray();
    }

    public VJepaSettings Settings { get; }
    public bool V2 { get; }
    public VideoViTEncoder Encoder { get; }
    public VJepaPredictor Predictor { get; }
    public VideoViTEncoder TargetEncoder { get; }
    public MultiblockMaskGenerator[] Generators { get; }

    /// <summary>The official checkpoint's model entries, in the order the loader reads them.</summary>
    public static readonly string[] CheckpointKeys = ["encoder", "predictor", "target_encoder"];

    /// <summary>
    /// Loads an official V-JEPA <c>.pth.tar</c> or V-JEPA 2 <c>.pt</c> (dict with <c>encoder</c>, <c>predictor</c>,
    /// <c>target_encoder</c>, …) through the restricted unpickler: names lose <c>module.</c> and <c>backbone.</c>
    /// (V-JEPA 2's loader strips both); every entry must match this model exactly.
    /// </summary>
    public void LoadOfficial(string path)
    {
        foreach (var key in CheckpointKeys)
        {
            var target = key switch { "encoder" => (Module)Encoder, "predictor" => Predictor, _ => TargetEncoder };
            OfficialCheckpoint.LoadEntry(path, key, target, stripPrefix: "backbone.");
        }
    }

    /// <summary>
    /// train.py's step: targets = layer_norm (no affine, eps 1e-5) of the target encoder on the full clip at each
    /// generator's target indices; predictions = predictor(encoder(clip at context)); loss = mean over generators
    /// of mean(|z − h|^p) / p.
    /// </summary>
    public VJepaOutput Loss(Tensor clips, IReadOnlyList<(Tensor Context, Tensor Targets)> masks)
    {
        using var scope = Torch.NewScope();
        Tensor h;
        Tensor targetStd;
        Tensor pooledCosine;
        using (Torch.NoGrad())
        using (Profiling.Phase("target"))
        {
            var raw = TargetEncoder.Forward(clips).Float();
            h = Torch.LayerNorm(raw, [raw.Size(-1)], eps: 1e-5);
            (targetStd, pooledCosine) = VJepa.CollapseStatistics(h, raw);
        }
        var predictions = new Tensor[masks.Count];
        var targets = new Tensor[masks.Count];
        Tensor? loss = null;
        for (var i = 0; i < masks.Count; i++)
        {
            var (context, target) = masks[i];
            Tensor z, p;
            using (Profiling.Phase("encoder"))
            {
                z = Encoder.Forward(clips, context);
            }
            using (Profiling.Phase("predictor"))
            {
                p = Predictor.Forward(z, context, target, i).Float();
            }
            using var lossPhase = Profiling.Phase("loss");
            var hi = VideoViTEncoder.GatherTokens(h, target);
            var diff = (p - hi).Abs();
            var term = Settings.LossExp == 1 ? diff.Mean() : diff.Pow(Settings.LossExp).Mean().Div(Settings.LossExp);
            loss = loss is null ? term : loss + term;
            predictions[i] = scope.MoveToOuter(p);
            targets[i] = scope.MoveToOuter(hi);
        }
        loss = loss!.Div(masks.Count);
        return new VJepaOutput(scope.MoveToOuter(loss), predictions, targets, scope.MoveToOuter(targetStd), scope.MoveToOuter(pooledCosine));
    }
}

/// <summary>V-JEPA sizes and statistics.</summary>
public static class VJepa
{
    /// <summary>
    /// Predictor width/depth/heads: the config's, else the official recipes' 384 wide and 12 deep, with the
    /// encoder's head count in V-JEPA (init_video_model passes num_heads=encoder.num_heads) and 12 in V-JEPA 2.
    /// The micro/tiny encoders (ours, for tests and CPU runs) get a predictor of half their width and depth 2.
    /// </summary>
    public static (int Dim, int Depth, int Heads) PredictorSize(VideoViTConfig encoder, VJepaSettings settings, bool v2)
    {
        var small = encoder.EmbedDim < 384;
        var dim = settings.PredEmbedDim ?? (small ? Math.Max(encoder.EmbedDim / 2, 2 * encoder.NumHeads) : 384);
        var depth = settings.PredDepth ?? (small ? 2 : 12);
        var heads = settings.PredNumHeads ?? (small ? encoder.NumHeads : v2 ? 12 : encoder.NumHeads);
        if (dim <= 0 || depth <= 0 || heads <= 0 || dim % heads != 0)
        {
            throw new ArgumentException($"vjepa predictor {dim} wide with {heads} heads and depth {depth}: need positive sizes and width divisible by heads");
        }
        return (dim, depth, heads);
    }

    /// <summary>
    /// Collapse monitor: mean over tokens and dims of the per-dimension std across the batch of the normalised
    /// targets (0 when every clip maps to the same features), and the mean pairwise cosine similarity of the
    /// token-averaged raw target features (1 when they all point the same way).
    /// </summary>
    public static (Tensor TargetStd, Tensor PooledCosine) CollapseStatistics(Tensor normalized, Tensor raw)
    {
        using var scope = Torch.NewScope();
        var b = raw.Size(0);
        var std = normalized.Std([0], unbiased: false).Mean();
        var pooled = raw.Mean(1);
        pooled = pooled / pooled.Pow(2).Sum([-1], keepDim: true).Sqrt().ClampMin(1e-12);
        var gram = pooled.MatMul(pooled.Transpose(0, 1));
        // Off-diagonal mean; with one clip there is no pair, and the value is the self-similarity 1.
        var cosine = b > 1 ? (gram.Sum() - pooled.Pow(2).Sum()).Div(b * (b - 1)) : gram.Mean();
        return (scope.MoveToOuter(std), scope.MoveToOuter(cosine));
    }
}

/// <summary>
/// V-JEPA / V-JEPA 2 as a pretraining task. Masks for (step, micro-batch) come from generators seeded by
/// (seed, step, micro-batch); the EMA momentum is a schedule the loop logs; the target encoder is updated after
/// each optimizer step, and encoder and predictor gradients are clipped separately once warmup is over.
/// </summary>
public sealed class VJepaTask : IPretrainTask
{
    public const string EmaMomentum = "ema_momentum";

    private readonly VJepaModel _model;
    private readonly long _seed;

    public VJepaTask(VideoViTConfig encoder, VJepaSettings settings, bool v2, long seed)
    {
        _model = new VJepaModel(encoder, settings, v2);
        _seed = seed;
    }

    /// <summary>lr and weight decay as jepa's schedulers give them: stepped before each iteration (app/vjepa/train.py).</summary>
    public bool JepaSchedules => true;

    /// <summary>Context and target counts follow the multiblock masks (truncated to the batch minimum), new on most steps.</summary>
    public bool ShapesVaryPerStep => true;

    public Module Model => _model;

    public VJepaModel Network => _model;

    /// <summary>
    /// The data-parallel rank: each rank draws its own masks for its own clips, as every rank's collator does in
    /// jepa; rank 0 draws what one process draws.
    /// </summary>
    public int Rank { get; set; }

    public void JoinRanks(DistributedContext dist, int rowsPerVideo) => Rank = dist.Rank;

    /// <summary>
    /// app/vjepa/utils.py init_opt: weight decay on every encoder/predictor parameter except biases and 1-D
    /// tensors (the mask tokens, [1, 1, D], DO get weight decay there; pos_embed is frozen and not optimised).
    /// </summary>
    public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay)
    {
        var decay = new List<Parameter>();
        var noDecay = new List<Parameter>();
        foreach (var module in (Module[])[_model.Encoder, _model.Predictor])
        {
            foreach (var (name, p) in module.NamedParameters())
            {
                if (!p.Value.RequiresGrad)
                {
                    continue;
                }
                (name.Contains("bias", StringComparison.Ordinal) || p.Shape.Length == 1 ? noDecay : decay).Add(p);
            }
        }
        return [new ParamGroup(decay, weightDecay, 1.0, "decay"), new ParamGroup(noDecay, 0, 1.0, "no_decay")];
    }

    /// <summary>Each generator's masks for this batch; its own random streams from (seed, step, micro-batch, generator).</summary>
    public MultiblockMasks[] DrawMasks(int batch, long step, int microBatch)
    {
        var result = new MultiblockMasks[_model.Generators.Length];
        for (var i = 0; i < result.Length; i++)
        {
            var random = StepRandom.For(_seed, (((step * 64) + microBatch) * 8) + i, Rank);
            result[i] = _model.Generators[i].Next(batch, random.NextDouble, random.Next);
        }
        return result;
    }

    public PretrainOutput Loss(PretrainBatch batch)
    {
        var clips = batch.Clips;
        using var scope = Torch.NewScope();
        List<(Tensor Context, Tensor Targets)> masks;
        using (Profiling.Phase("masks"))
        {
            masks = DrawMasks((int)clips.Size(0), batch.Step, batch.MicroBatch).Select(m => m.ToTensors(clips.Device)).ToList();
        }
        var output = _model.Loss(clips, masks);
        var metrics = new Dictionary<string, Tensor>
        {
            ["collapse/target_std"] = scope.MoveToOuter(output.TargetStd),
            ["collapse/pooled_cosine"] = scope.MoveToOuter(output.PooledCosine),
        };
        for (var i = 0; i < masks.Count; i++)
        {
            metrics[$"mask/context_tokens_{i}"] = scope.MoveToOuter(Torch.Scalar(masks[i].Context.Size(1)));
        }
        return new PretrainOutput(scope.MoveToOuter(output.Loss), metrics);
    }

    public IReadOnlyDictionary<string, ScalarSchedule> Schedules(SchedulePlan plan)
    {
        // train.py: ema[0] + i·(ema[1] − ema[0]) / (ipe·num_epochs·ipe_scale) for optimizer step i; the plan's total
        // is already the scaled horizon (train.schedule_scale).
        var (start, end) = (_model.Settings.Ema[0], _model.Settings.Ema[1]);
        var horizon = Math.Max(1, plan.TotalSteps);
        return new Dictionary<string, ScalarSchedule>
        {
            [EmaMomentum] = new($"linear {start:G6} -> {end:G6} over {horizon} steps", step => Math.Min(Math.Max(start, end), start + (step * (end - start) / horizon))),
        };
    }

    public void BeforeOptimizerStep(OptimizerStepContext context)
    {
        var clip = _model.Settings.ClipGrad;
        var plan = context.Plan;
        // train.py: `if (epoch > warmup) and (clip_grad is not None)`, warmup counted in epochs.
        var epoch = context.Step / Math.Max(1, plan.StepsPerEpoch);
        var warmupEpochs = plan.WarmupSteps / Math.Max(1, plan.StepsPerEpoch);
        if (clip > 0 && epoch > warmupEpochs)
        {
            GradClip.ClipGradNorm(_model.Encoder.Parameters(), clip);
            GradClip.ClipGradNorm(_model.Predictor.Parameters(), clip);
        }
    }

    public void AfterOptimizerStep(OptimizerStepContext context) =>
        Ema.Update(_model.TargetEncoder, _model.Encoder, context.Scalars[EmaMomentum]);

    public string? Check(IReadOnlyDictionary<string, double> loggedMetrics) =>
        loggedMetrics.TryGetValue("collapse/target_std", out var std) && std < _model.Settings.CollapseStdThreshold
            ? $"warning: target feature std {std:G3} is under vjepa.collapse_std_threshold={_model.Settings.CollapseStdThreshold:G3}: the representation may be collapsing (lower the lr, raise the EMA momentum, or probe the last good checkpoint)"
            : null;

    public MaskPicture? Masks(PretrainBatch batch)
    {
        var grid = _model.Encoder.Config.Grid;
        var masks = DrawMasks((int)batch.Clips.Size(0), batch.Step, batch.MicroBatch);
        var roles = masks.Select(m =>
        {
            var role = new byte[grid.Count];
            foreach (var n in m.Context[0])
            {
                role[n] = 1;
            }
            foreach (var n in m.Targets[0])
            {
                role[n] = 2;
            }
            return role;
        }).ToList();
        return new MaskPicture(grid.Frames, grid.Height, grid.Width, roles);
    }

    public void Dispose() => _model.Dispose();
}
