using VideoSSL.Data.Transforms;

namespace VideoSSL.Training.Config;

// Typed configs of the evaluation commands (probe, finetune, eval). Defaults are VideoMAE ViT-B fine-tuning on
// K400 (methods.md §6) and MAE's linear probe, so an experiment file states only what differs.

/// <summary>`videossl finetune`: VideoMAE's run_class_finetuning recipe.</summary>
public sealed record FinetuneConfig
{
    public string Name { get; init; } = "finetune";
    public long Seed { get; init; }
    public ClassifierSection Model { get; init; } = new();
    /// <summary>Weights to start from: a pretraining checkpoint (encoder only), a fine-tuned one, or an official .pth; "" = random init.</summary>
    public string Init { get; init; } = "";
    /// <summary>kinetics (dense sampling, flips allowed) or ssv2 (segment sampling, never flipped).</summary>
    public string Protocol { get; init; } = "kinetics";
    /// <summary>The training split, and the clip geometry every split shares.</summary>
    public DataSection Data { get; init; } = new();
    public SplitSection Val { get; init; } = new();
    /// <summary>
    /// A held-out split other than val (e.g. a slice of the training videos) on which the best epoch is chosen; blank
    /// annotations = none: the final epoch is tested and reported, as choosing an epoch on val would select on the test data.
    /// </summary>
    public SplitSection Select { get; init; } = new();
    public TestSection Test { get; init; } = new();
    public FinetuneOptimSection Train { get; init; } = new();
    public AugmentSection Aug { get; init; } = new();
    public LogSection Log { get; init; } = new();

    /// <summary>What `videossl eval` needs of a fine-tune config, so one file serves both commands.</summary>
    public EvalConfig ToEvalConfig() => new()
    {
        Name = Name,
        Seed = Seed,
        Model = Model,
        Protocol = Protocol,
        Data = Data,
        Val = Val,
        Test = Test,
        Device = Train.Device,
        Bf16 = Train.Bf16,
        Threads = Train.Threads,
    };
}

/// <summary>`videossl probe`: a frozen encoder with a linear (MAE), attentive (V-JEPA) or ridge head.</summary>
public sealed record ProbeConfig
{
    public string Name { get; init; } = "probe";
    public long Seed { get; init; }
    public ClassifierSection Model { get; init; } = new() { DropPath = 0 };
    /// <summary>Encoder weights (pretraining or fine-tuned checkpoint, or an official .pth); "" = random init (a baseline).</summary>
    public string Init { get; init; } = "";
    public string Protocol { get; init; } = "kinetics";
    public DataSection Data { get; init; } = new();
    public SplitSection Val { get; init; } = new();
    /// <summary>Views the validation split is scored with every epoch (1 × 1 for a quick number).</summary>
    public TestSection Test { get; init; } = new() { Clips = 1, Crops = 1 };
    public ProbeSection Probe { get; init; } = new();
    public ProbeOptimSection Train { get; init; } = new();
    public LogSection Log { get; init; } = new();
}

/// <summary>`videossl eval`: multi-view testing of a fine-tuned checkpoint. A fine-tune config is accepted too.</summary>
public sealed record EvalConfig
{
    public string Name { get; init; } = "eval";
    public long Seed { get; init; }
    public ClassifierSection Model { get; init; } = new();
    public string Protocol { get; init; } = "kinetics";
    public DataSection Data { get; init; } = new();
    public SplitSection Val { get; init; } = new();
    public TestSection Test { get; init; } = new();
    public string Device { get; init; } = "cpu";
    public bool Bf16 { get; init; } = true;
    public int Threads { get; init; }
}

public sealed record ClassifierSection
{
    /// <summary>Encoder from the model registry (vit_micro ... vit_giant).</summary>
    public string Encoder { get; init; } = "vit_base";
    /// <summary>Width, blocks, heads and MLP ratio overriding the encoder's registry entry (0 = the entry's): any official size can be built.</summary>
    public int EmbedDim { get; init; }
    public int Depth { get; init; }
    public int NumHeads { get; init; }
    public double MlpRatio { get; init; }
    public int ImgSize { get; init; } = 224;
    public int Frames { get; init; } = 16;
    public int Tubelet { get; init; } = 2;
    public int Patch { get; init; } = 16;
    /// <summary>sinusoid1d (VideoMAE, default), sincos3d (V-JEPA: loads its pos_embed), rope3d (V-JEPA 2) or none.</summary>
    public VideoSSL.Models.PositionEmbedding? PosEmbed { get; init; }
    /// <summary>qv (VideoMAE, default) or qkv (V-JEPA).</summary>
    public VideoSSL.Models.QkvBiasStyle? QkvBias { get; init; }
    /// <summary>3-D RoPE pairing for rope3d: official (default) or textbook.</summary>
    public VideoSSL.Models.RopePairing? Rope { get; init; }
    /// <summary>Stochastic depth (linearly increasing over the blocks); VideoMAE fine-tuning uses 0.1 for ViT-B.</summary>
    public double DropPath { get; init; } = 0.1;
    /// <summary>Recompute each encoder block in backward instead of keeping its activations (fine-tuning large encoders).</summary>
    public bool GradCheckpointing { get; init; }
    /// <summary>Classes of the head; 0 = the training split's class count.</summary>
    public int NumClasses { get; init; }
    /// <summary>Head weights start as trunc_normal(0.02) × this (VideoMAE's init_scale).</summary>
    public double HeadInitScale { get; init; } = 0.001;
    /// <summary>Dropout before the head (VideoMAE's fc_drop_rate).</summary>
    public double HeadDrop { get; init; }
}

/// <summary>Where a split lives when it is not the training split; blank fields follow `data` (synthetic: root/val.csv).</summary>
public sealed record SplitSection
{
    public string Root { get; init; } = "";
    public string Annotations { get; init; } = "";
    /// <summary>Kinetics: a class index JSON saved from training (blank = classes of this CSV); SSv2: the labels JSON (blank = data.labels).</summary>
    public string Labels { get; init; } = "";
}

/// <summary>Multi-view testing: K400 5 clips × 3 crops, SSv2 2 × 3 (segment offsets 0 and ½).</summary>
public sealed record TestSection
{
    public int Clips { get; init; } = 5;
    public int Crops { get; init; } = 3;
    /// <summary>Videos per batch (each carries clips × crops views).</summary>
    public int BatchSize { get; init; } = 4;
}

public sealed record FinetuneOptimSection
{
    public int Epochs { get; init; } = 75;
    /// <summary>Stop after this many optimizer steps (0 = run all epochs): for quick checks.</summary>
    public long MaxSteps { get; init; }
    /// <summary>Videos per loader batch; a step sees batch_size × accum_steps videos and lr = base_lr × that / 256 (repeated-augmentation views do not count, as in VideoMAE).</summary>
    public int BatchSize { get; init; } = 8;
    public int AccumSteps { get; init; } = 1;
    public double BaseLr { get; init; } = 1e-3;
    public double MinLr { get; init; } = 1e-6;
    public double WarmupEpochs { get; init; } = 5;
    public double WeightDecay { get; init; } = 0.05;
    public double[] Betas { get; init; } = [0.9, 0.999];
    /// <summary>Layer-wise lr decay: block i gets decay^(depth − i), patch embedding decay^(depth + 1).</summary>
    public double LayerDecay { get; init; } = 0.75;
    public double ClipGrad { get; init; }
    /// <summary>Validate (one view per video) every N epochs; 0 = only at the end.</summary>
    public int ValEveryEpochs { get; init; } = 1;
    public string Device { get; init; } = "cpu";
    public bool Bf16 { get; init; } = true;
    public int Threads { get; init; }

    /// <summary>The shared loop's section: VideoMAE's fine-tuning schedule is pretraining's (scaled lr, warmup from 0, cosine, constant weight decay).</summary>
    public OptimSection ToOptim() => new()
    {
        Epochs = Epochs,
        MaxSteps = MaxSteps,
        BatchSize = BatchSize,
        AccumSteps = AccumSteps,
        BaseLr = BaseLr,
        ScaleLr = true,
        StartLr = 0,
        MinLr = MinLr,
        WarmupEpochs = WarmupEpochs,
        WeightDecay = WeightDecay,
        WeightDecayEnd = null,
        ScheduleScale = 1,
        IterationsPerEpoch = 0,
        Betas = Betas,
        ClipGrad = ClipGrad,
        Device = Device,
        Bf16 = Bf16,
        Threads = Threads,
    };
}

/// <summary>Fine-tuning augmentation on top of the loader's random resized crop (and flip where `data.flip`).</summary>
public sealed record AugmentSection
{
    /// <summary>Mixup Beta(α, α); 0 = off.</summary>
    public double Mixup { get; init; } = 0.8;
    /// <summary>Cutmix Beta(α, α); 0 = off.</summary>
    public double Cutmix { get; init; } = 1.0;
    public double MixupProb { get; init; } = 1.0;
    public double SwitchProb { get; init; } = 0.5;
    public double LabelSmoothing { get; init; } = 0.1;
    /// <summary>RandAugment in timm's form, on the decoded frames before the crop; "" or "none" = off. VideoMAE: rand-m7-n4-mstd0.5-inc1.</summary>
    public string AutoAugment { get; init; } = RandAugmentPolicy.VideoMae;
    /// <summary>Random erasing probability (cube mode, per-pixel noise).</summary>
    public double Reprob { get; init; } = 0.25;
    /// <summary>Repeated augmentation: augmented clips per decoded video (VideoMAE: 2).</summary>
    public int NumSample { get; init; } = 2;
}

public sealed record ProbeSection
{
    /// <summary>linear (MAE: BatchNorm without affine + Linear), attentive (V-JEPA cross-attention pooling), ridge (closed form) or knn (SVT/DINO weighted kNN).</summary>
    public string Kind { get; init; } = "linear";
    /// <summary>Linear and ridge: mean (token mean of the final output) or last_k (token means of the last k blocks).</summary>
    public string Pooling { get; init; } = "mean";
    public int LastK { get; init; } = 4;
    /// <summary>How the last k blocks combine: concatenate ([k·D]) or average ([D]).</summary>
    public string BlockPooling { get; init; } = "concatenate";
    /// <summary>Attentive: 1 = V-JEPA's single cross-attention block; V-JEPA 2 uses 4 (3 self-attention blocks first).</summary>
    public int AttentiveDepth { get; init; } = 1;
    /// <summary>Attentive: vjepa (cross-attention with output projection) or vjepa2.</summary>
    public string AttentiveVariant { get; init; } = "vjepa";
    /// <summary>Attentive: heads of the probe; 0 = the encoder's.</summary>
    public int AttentiveHeads { get; init; }
    /// <summary>Attentive: 0 = the tokens after the final norm; K = the raw tokens out of encoder block K (from 1).</summary>
    public int AttentiveBlock { get; init; }
    /// <summary>Extract features once (one centre view per training video) and train the head from the cache.</summary>
    public bool CacheFeatures { get; init; } = true;
    /// <summary>Where caches go; blank = the run folder's features/.</summary>
    public string CacheDir { get; init; } = "";
    /// <summary>Ridge: λ relative to the per-sample feature scale.</summary>
    public double RidgeLambda { get; init; } = 1e-3;
    /// <summary>kNN: neighbour counts (SVT/DINO --nb_knn); the first is the probe's result, the benchmark picks one on its dev split.</summary>
    public int[] KnnK { get; init; } = [10, 20, 100, 200];
    /// <summary>kNN: vote weight exp(similarity / T) (SVT/DINO --temperature).</summary>
    public double KnnTemperature { get; init; } = 0.07;
}

public sealed record ProbeOptimSection
{
    public int Epochs { get; init; } = 90;
    public int BatchSize { get; init; } = 64;
    /// <summary>lr = base_lr × batch_size / 256 (MAE), or base_lr itself when scale_lr is false (V-JEPA states absolute rates).</summary>
    public double BaseLr { get; init; } = 0.1;
    public bool ScaleLr { get; init; } = true;
    public double MinLr { get; init; }
    public double WarmupEpochs { get; init; } = 10;
    public double WeightDecay { get; init; }
    public double[] Betas { get; init; } = [0.9, 0.999];
    public double LabelSmoothing { get; init; }
    public string Device { get; init; } = "cpu";
    public bool Bf16 { get; init; } = true;
    public int Threads { get; init; }
}
