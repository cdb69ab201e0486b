using VideoSSL.Data.Synthetic;
using VideoSSL.Methods;
using VideoSSL.Models;

namespace VideoSSL.Training.Config;

// Typed configs bound from experiments/*.json (snake_case keys). Defaults are VideoMAE ViT-B on K400
// (methods.md §1) so an experiment file states only what differs; the quick-start configs override sizes.

public sealed record PretrainConfig
{
    public string Name { get; init; } = "pretrain";
    public long Seed { get; init; }
    /// <summary>A name from the method registry: videomae, videomae_v2, vjepa, vjepa2, svt, supervised.</summary>
    public string Method { get; init; } = "videomae";
    public ModelSection Model { get; init; } = new();
    /// <summary>VideoMAE / V2 masks.</summary>
    public MaskSection Mask { get; init; } = new();
    /// <summary>V-JEPA / V-JEPA 2 (predictor, multiblock masks, EMA); null = the method's defaults.</summary>
    public VJepaSettings? Vjepa { get; init; }
    /// <summary>SVT (DINO head and loss, EMA teacher, views); null = the method's defaults.</summary>
    public SvtSettings? Svt { get; init; }
    /// <summary>Supervised pretraining (classes, label smoothing); null = the method's defaults.</summary>
    public SupervisedSettings? Supervised { get; init; }
    public DataSection Data { get; init; } = new();
    public OptimSection Train { get; init; } = new();
    public LogSection Log { get; init; } = new();
}

public sealed record ModelSection
{
    /// <summary>Encoder from the model registry: vit_micro, vit_tiny, vit_small, vit_base, vit_large, vit_huge, vit_giant.</summary>
    public string Encoder { get; init; } = "vit_base";
    /// <summary>Width, blocks, heads and MLP ratio overriding the encoder's registry entry (0 = the entry's): any official size can be built.</summary>
    public int EmbedDim { get; init; }
    public int Depth { get; init; }
    public int NumHeads { get; init; }
    public double MlpRatio { get; init; }
    public int DecoderDim { get; init; } = 384;
    public int DecoderDepth { get; init; } = 4;
    public int DecoderHeads { get; init; } = 6;
    public int ImgSize { get; init; } = 224;
    public int Frames { get; init; } = 16;
    public int Tubelet { get; init; } = 2;
    public int Patch { get; init; } = 16;
    public double DropPath { get; init; }
    /// <summary>Recompute each encoder block in backward instead of keeping its activations (the official ViT-H/g recipes' use_activation_checkpointing).</summary>
    public bool GradCheckpointing { get; init; }
    /// <summary>Normalised-pixel target (per-patch mean/std), as the published runs; false = raw pixels.</summary>
    public bool NormPixLoss { get; init; } = true;
    /// <summary>sinusoid1d, sincos3d, rope3d or none; null = the method's (VideoMAE sinusoid1d, V-JEPA sincos3d, V-JEPA 2 rope3d).</summary>
    public PositionEmbedding? PosEmbed { get; init; }
    /// <summary>qv (VideoMAE), qkv (jepa) or none; null = the method's.</summary>
    public QkvBiasStyle? QkvBias { get; init; }
    /// <summary>3-D RoPE pairing: official (vjepa2's, default) or textbook.</summary>
    public RopePairing? Rope { get; init; }
}

public sealed record MaskSection
{
    public double Ratio { get; init; } = 0.9;
    /// <summary>VideoMAE V2's running-cell decoder mask ratio (used by videomae_v2).</summary>
    public double DecoderRatio { get; init; } = 0.5;
}

public sealed record DataSection
{
    /// <summary>kinetics (official CSV), list (VideoMAE "path label" file), ssv2 (labels + split JSON), synthetic or procedural.</summary>
    public string Format { get; init; } = "kinetics";
    /// <summary>Folder that holds the videos (flat or one folder per class).</summary>
    public string Root { get; init; } = "";
    /// <summary>CSV, list file or split JSON.</summary>
    public string Annotations { get; init; } = "";
    /// <summary>SSv2 labels JSON (something-something-v2-labels.json).</summary>
    public string Labels { get; init; } = "";
    public int NumFrames { get; init; } = 16;
    public int SamplingRate { get; init; } = 4;
    public int InputSize { get; init; } = 224;
    public bool Flip { get; init; }
    /// <summary>Smallest area fraction of the fine-tune random resized crop (0.08 as VideoMAE/torchvision; raise it for small objects).</summary>
    public double MinCropScale { get; init; } = 0.08;
    /// <summary>Pretraining crop: multi_scale (VideoMAE) or random_resized (V-JEPA, scale min_crop_scale–1, aspect crop_aspect).</summary>
    public VideoSSL.Data.Pipelines.PretrainCrop Crop { get; init; } = VideoSSL.Data.Pipelines.PretrainCrop.MultiScale;
    /// <summary>Aspect-ratio range of the random resized crop (V-JEPA: 0.75–1.35).</summary>
    public double[] CropAspect { get; init; } = [3.0 / 4, 4.0 / 3];
    /// <summary>
    /// Repeated augmentation: clips cut from each decoded video (VideoMAE V2's --num_sample). The lr scaling
    /// counts videos, not clips, as the official code does.
    /// </summary>
    public int NumSample { get; init; } = 1;
    public int Workers { get; init; } = 2;
    public int Prefetch { get; init; } = 4;
    /// <summary>Share of unreadable videos tolerated before the run stops.</summary>
    public double MaxFailedShare { get; init; } = 0.05;
    public SyntheticSection Synthetic { get; init; } = new();
    public ProceduralSection Procedural { get; init; } = new();
}

/// <summary>The nuisance-rich pool rendered on the fly from (seed, index): no files, no decoding.</summary>
public sealed record ProceduralSection
{
    public int Seed { get; init; }
    public int Clips { get; init; } = 20000;
    public int Size { get; init; } = 64;
    public int Frames { get; init; } = 16;
    public int Classes { get; init; } = 10;
    /// <summary>default (the benchmark's pool and labeled set) or transfer (the transfer set's nuisance statistics).</summary>
    public string Stats { get; init; } = "default";
    /// <summary>Round-trip each clip through 8-bit YUV 4:2:0, the chroma blur the labeled H.264/VP9 files carry.</summary>
    public bool Yuv420 { get; init; }

    public ProceduralOptions ToOptions() => new()
    {
        Seed = Seed,
        Clips = Clips,
        Size = Size,
        Frames = Frames,
        Classes = Classes,
        Stats = Stats == "transfer" ? NuisanceStats.Transfer : NuisanceStats.Default,
        Yuv420 = Yuv420,
    };
}

/// <summary>The built-in motion dataset, generated into `root` on first use.</summary>
public sealed record SyntheticSection
{
    public int Classes { get; init; } = 12;
    public int TrainPerClass { get; init; } = 48;
    public int ValPerClass { get; init; } = 16;
    public int Size { get; init; } = 64;
    public int Frames { get; init; } = 16;
    public int Fps { get; init; } = 8;
    public int Seed { get; init; } = 1234;

    public SyntheticDatasetOptions ToDatasetOptions() => new()
    {
        Clip = new SyntheticClipOptions(Size, Size, Frames, Fps),
        TrainPerClass = TrainPerClass,
        ValPerClass = ValPerClass,
        Seed = Seed,
        ClassIds = [.. Enumerable.Range(0, Math.Min(Classes, SyntheticVideo.Classes.Count))],
    };
}

public sealed record OptimSection
{
    public int Epochs { get; init; } = 800;
    /// <summary>Stop after this many optimizer steps (0 = run all epochs): for quick checks.</summary>
    public long MaxSteps { get; init; }
    /// <summary>
    /// Videos per forward pass. One optimizer step sees batch_size × accum_steps videos (on one GPU, a
    /// recipe's per-GPU batch × GPUs), and the lr scales with that: lr = base_lr × batch_size × accum_steps / 256.
    /// </summary>
    public int BatchSize { get; init; } = 32;
    public int AccumSteps { get; init; } = 1;
    public double BaseLr { get; init; } = 1.5e-4;
    /// <summary>Scale base_lr and min_lr by the effective batch / 256 (VideoMAE); false = absolute rates (V-JEPA's lr, final_lr).</summary>
    public bool ScaleLr { get; init; } = true;
    /// <summary>The warmup starts here (× batch/256 when scale_lr): 0 in VideoMAE, start_lr in V-JEPA.</summary>
    public double StartLr { get; init; }
    public double MinLr { get; init; } = 1e-5;
    public double WarmupEpochs { get; init; } = 40;
    public double WeightDecay { get; init; } = 0.05;
    /// <summary>Cosine weight-decay schedule from weight_decay to this (V-JEPA 0.04 → 0.4); null = constant.</summary>
    public double? WeightDecayEnd { get; init; }
    /// <summary>
    /// jepa's ipe_scale: lr, weight-decay and EMA schedules are laid over schedule_scale × the planned steps (1.25 in
    /// the V-JEPA recipes, so they never reach their final values).
    /// </summary>
    public double ScheduleScale { get; init; } = 1.0;
    /// <summary>
    /// jepa's ipe: when set, an "epoch" of epochs / warmup_epochs is this many optimizer steps (the V-JEPA recipes
    /// say 300), whatever the dataset size; 0 = one pass over the data.
    /// </summary>
    public int IterationsPerEpoch { get; init; }
    public double[] Betas { get; init; } = [0.9, 0.95];
    /// <summary>Global gradient-norm clip (0 = off, as VideoMAE).</summary>
    public double ClipGrad { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>bf16 autocast on CUDA.</summary>
    public bool Bf16 { get; init; } = true;
    /// <summary>
    /// bf16 autocast on CPU (oneDNN's bf16 matmuls): 1.5-1.7x the fp32 step of the V-JEPA quick start on a CPU with
    /// AVX512-BF16; without those instructions bf16 is emulated (likely slower, not measured), so off unless a recipe asks.
    /// </summary>
    public bool CpuBf16 { get; init; }
    /// <summary>
    /// cuDNN's attention kernel on CUDA: auto = off for methods whose token counts change every step (V-JEPA: cuDNN
    /// plans each new shape: 32-43% slower steps on an H200), libtorch's default (on) otherwise.
    /// </summary>
    public string CudnnAttention { get; init; } = "auto";
    /// <summary>The values <see cref="CudnnAttention"/> takes.</summary>
    public static readonly string[] CudnnAttentionValues = ["auto", "on", "off"];
    /// <summary>libtorch intra-op threads (0 = its default).</summary>
    public int Threads { get; init; }
}

public sealed record LogSection
{
    public int EverySteps { get; init; } = 10;
    public int CheckpointEverySteps { get; init; } = 500;
    /// <summary>Keep a numbered checkpoint every N steps besides last.safetensors (0 = only last).</summary>
    public int KeepEverySteps { get; init; }
    public int ReconstructionEverySteps { get; init; } = 500;
}
