using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Transforms;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Torch;

namespace VideoSSL.Training.Config;

/// <summary>
/// What one config key means and accepts. <see cref="Section"/> null matches the property on any record (keys shared by
/// several sections, such as <c>device</c>); a rule for a section property (e.g. <c>data.synthetic</c>) applies to its keys.
/// </summary>
public sealed record ConfigKey
{
    public required Type? Section { get; init; }

    public required string Property { get; init; }

    public required string Description { get; init; }

    /// <summary>Smallest value (of a number, or of each item of a list).</summary>
    public double? Min { get; init; }

    /// <summary>Largest value (of a number, or of each item of a list).</summary>
    public double? Max { get; init; }

    /// <summary>The value must be strictly greater than <see cref="Min"/>.</summary>
    public bool MinExclusive { get; init; }

    /// <summary>The value must be strictly below <see cref="Max"/>.</summary>
    public bool MaxExclusive { get; init; }

    public IReadOnlyCollection<string>? OneOf { get; init; }

    /// <summary>Items a list must hold.</summary>
    public int? Count { get; init; }

    /// <summary>A further check of the value: the problem, or null when it is fine.</summary>
    public Func<object?, string?>? Check { get; init; }

    /// <summary>Whether the key means anything for this resolved config (the root record); null = always.</summary>
    public Func<object, bool>? AppliesTo { get; init; }

    /// <summary>When it applies, in words (for `config show`).</summary>
    public string? AppliesWhen { get; init; }

    public string Constraint
    {
        get
        {
            var parts = new List<string>();
            if (Count is int n)
            {
                parts.Add($"{n} values");
            }
            if (Min is double min && Max is double max)
            {
                parts.Add($"{(MinExclusive ? "(" : "[")}{Format(min)}, {Format(max)}{(MaxExclusive ? ")" : "]")}");
            }
            else if (Min is double lo)
            {
                parts.Add($"{(MinExclusive ? ">" : ">=")} {Format(lo)}");
            }
            else if (Max is double hi)
            {
                parts.Add($"{(MaxExclusive ? "<" : "<=")} {Format(hi)}");
            }
            if (OneOf is not null)
            {
                parts.Add(string.Join(" | ", OneOf));
            }
            return string.Join(", ", parts);
        }
    }

    internal static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}

/// <summary>One leaf key of a resolved config, as <see cref="ConfigSchema.Walk"/> finds it.</summary>
public sealed record ConfigEntry(string Key, string BinderPath, Type Type, object? Value, ConfigKey? Rule, bool Applies);

/// <summary>
/// The one source of every config key's meaning, constraint and applicability: `videossl config show` prints it, and
/// <see cref="ConfigLoader.Load{T}"/> validates every resolved value against it, naming the key and where the value came from.
/// </summary>
public static class ConfigSchema
{
    /// <summary>Every `data.format` a config may name: the real layouts plus the built-in synthetic motion set.</summary>
    public static readonly IReadOnlyList<string> DataFormats = [.. DatasetFactory.Formats, "synthetic", "procedural"];

    /// <summary>Every `method` a pretraining config may name: the method registry's.</summary>
    public static IReadOnlyCollection<string> Methods => MethodRegistry.Names;

    private static readonly List<ConfigKey> s_keys =
    [
        // ---- shared by several records -------------------------------------------------------------------
        Any("Name", "run name: the run folder is runs/NAME-TIMESTAMP"),
        Any("Seed", "seed of weights init, masks, loader order and augmentation", min: 0),
        Any("Init", "weights to start from: a pretraining or fine-tuned checkpoint, or an official .pth; \"\" = random init"),
        Any("Protocol", "sampling and testing protocol: kinetics (dense clips, flips allowed) or ssv2 (segments, never flipped)", oneOf: ["kinetics", "ssv2"]),
        Any("Device", "cpu, cuda or cuda:N", check: CheckDevice),
        Any("Bf16", "bf16 autocast", applies: IsCuda, when: "device is cuda"),
        Any("Threads", "libtorch intra-op threads (0 = its default)", min: 0),
        Any("Epochs", "passes over the training split", min: 1),
        Any("MaxSteps", "stop after this many optimizer steps; the schedules span them (0 = run all epochs)", min: 0),
        Any("BatchSize", "videos per forward pass", min: 1),
        Any("AccumSteps", "batches per optimizer step (VideoMAE's --update_freq); lr scales with batch_size x accum_steps", min: 1),
        Any("BaseLr", "lr before scaling: lr = base_lr x batch_size x accum_steps / 256", min: 0, minExclusive: true),
        Any("MinLr", "final lr of the cosine schedule", min: 0),
        Any("WarmupEpochs", "linear lr warm-up, in epochs", min: 0),
        Any("WeightDecay", "AdamW weight decay (not applied to biases, norms and tokens)", min: 0),
        Any("Betas", "AdamW (beta1, beta2)", count: 2, min: 0, max: 1, maxExclusive: true),
        Any("ClipGrad", "global gradient-norm clip (0 = off)", min: 0),
        Any("LabelSmoothing", "label smoothing of the cross-entropy", min: 0, max: 1, maxExclusive: true),

        // ---- pretrain ---------------------------------------------------------------------------------------
        Any("EmbedDim", "encoder width overriding the registry entry (0 = the entry's): any official size can be built", min: 0),
        Any("Depth", "encoder blocks overriding the registry entry (0 = the entry's)", min: 0),
        Any("NumHeads", "encoder heads overriding the registry entry (0 = the entry's; must divide the width)", min: 0),
        Any("MlpRatio", "encoder MLP ratio overriding the registry entry (0 = the entry's)", min: 0),
        Key<OptimSection>(nameof(OptimSection.IterationsPerEpoch), "optimizer steps per epoch whatever the dataset size (jepa ipe, 300); 0 = one pass over the data", min: 0),
        Key<DataSection>(nameof(DataSection.Crop), "pretraining crop: multi_scale (VideoMAE) or random_resized (V-JEPA: scale min_crop_scale..1, aspect crop_aspect)"),
        Key<DataSection>(nameof(DataSection.CropAspect), "aspect-ratio range of the random resized crop (V-JEPA 0.75..1.35)", count: 2, min: 0, minExclusive: true),
        Key<FinetuneConfig>(nameof(FinetuneConfig.Select), "a held-out split other than val to choose the best epoch on; blank annotations = none (the final epoch is reported)"),
        Key<PretrainConfig>(nameof(PretrainConfig.Method), "videomae (tube masking), videomae_v2 (dual masking), vjepa (latent prediction, multiblock masks, EMA target), vjepa2 (V-JEPA with 3-D RoPE), svt (self-distillation across global and local views, EMA teacher) or supervised (the data's labels: a yardstick)", oneOf: MethodRegistry.Names),
        Key<PretrainConfig>(nameof(PretrainConfig.Model), "encoder and decoder"),
        Key<PretrainConfig>(nameof(PretrainConfig.Mask), "VideoMAE masking", applies: IsVideoMae, when: "method is videomae or videomae_v2"),
        Key<PretrainConfig>(nameof(PretrainConfig.Vjepa), "V-JEPA predictor, multiblock masks, EMA and loss (null = the method's defaults)", applies: IsVJepa, when: "method is vjepa or vjepa2"),
        Key<VJepaSettings>(nameof(VJepaSettings.PredEmbedDim), "predictor width (null = the method's size for the encoder)", min: 1),
        Key<VJepaSettings>(nameof(VJepaSettings.PredDepth), "predictor blocks (null = the method's)", min: 1),
        Key<VJepaSettings>(nameof(VJepaSettings.PredNumHeads), "predictor heads (null = the method's)", min: 1),
        Key<VJepaSettings>(nameof(VJepaSettings.Masks), "multiblock mask generators (jepa cfgs_mask): spatial_scale, temporal_scale, aspect_ratio, num_blocks, max_temporal_keep"),
        Key<VJepaSettings>(nameof(VJepaSettings.Ema), "EMA momentum [start, end], linear over the scaled schedule (jepa ema)", count: 2, min: 0, max: 1),
        Key<VJepaSettings>(nameof(VJepaSettings.ClipGrad), "grad-norm clip of encoder and predictor after warmup (0 = off)", min: 0),
        Key<VJepaSettings>(nameof(VJepaSettings.LossExp), "loss = mean(|z - h|^loss_exp) / loss_exp (1 = L1)", min: 0, minExclusive: true),
        Key<VJepaSettings>(nameof(VJepaSettings.CollapseStdThreshold), "warn when the targets' mean per-dimension std falls under this", min: 0),
        Key<PretrainConfig>(nameof(PretrainConfig.Supervised), "supervised pretraining's head and loss", applies: IsSupervised, when: "method is supervised"),
        Key<SupervisedSettings>(nameof(SupervisedSettings.NumClasses), "classes of the training labels (the procedural pool: data.procedural.classes)", min: 1),
        Key<PretrainConfig>(nameof(PretrainConfig.Svt), "SVT head, loss, teacher and views (null = the method's defaults: the official recipe)", applies: IsSvt, when: "method is svt"),
        Key<SvtSettings>(nameof(SvtSettings.OutDim), "DINO head output dimensions (out_dim, 65536)", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.HiddenDim), "DINO head MLP width (2048)", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.BottleneckDim), "DINO head bottleneck before the L2 normalisation (256)", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.HeadLayers), "Linear layers of the DINO head MLP (nlayers, 3)", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.NormLastLayer), "weight-normalised last layer with weight_g fixed at 1 (norm_last_layer); false = weight_g trained"),
        Key<SvtSettings>(nameof(SvtSettings.MomentumTeacher), "teacher EMA momentum at the start, cosine to 1 over the run (momentum_teacher)", min: 0, max: 1),
        Key<SvtSettings>(nameof(SvtSettings.WarmupTeacherTemp), "teacher temperature at the start of its warm-up (warmup_teacher_temp)", min: 0, minExclusive: true),
        Key<SvtSettings>(nameof(SvtSettings.TeacherTemp), "teacher temperature after the warm-up (teacher_temp)", min: 0, minExclusive: true),
        Key<SvtSettings>(nameof(SvtSettings.WarmupTeacherTempEpochs), "epochs of linear teacher-temperature warm-up (warmup_teacher_temp_epochs; 0 = none)", min: 0),
        Key<SvtSettings>(nameof(SvtSettings.StudentTemp), "student temperature (0.1)", min: 0, minExclusive: true),
        Key<SvtSettings>(nameof(SvtSettings.CenterMomentum), "momentum of the teacher centre (0.9)", min: 0, max: 1),
        Key<SvtSettings>(nameof(SvtSettings.FreezeLastLayer), "epochs during which the head's last layer is not updated (freeze_last_layer)", min: 0),
        Key<SvtSettings>(nameof(SvtSettings.ClipGrad), "clip of EACH student gradient's norm on its own (dino clip_gradients, 3; 0 = off); leave train.clip_grad at 0", min: 0),
        Key<SvtSettings>(nameof(SvtSettings.Pool), "clip feature of a joint encoder: mean of its tokens (divided *_divst encoders read their CLS token)", oneOf: ["mean"]),
        Key<SvtSettings>(nameof(SvtSettings.GlobalFrames), "frames of each global view (the teacher sees these); at least 2 views", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.GlobalSize), "side of the global views in pixels (224)", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.GlobalScale), "area range of the global views' random resized crop (global_crops_scale)", count: 2, min: 0, max: 1, minExclusive: true),
        Key<SvtSettings>(nameof(SvtSettings.LocalFrames), "frames of each local view (student only); [] = none", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.LocalSize), "side of the local views in pixels (96)", min: 1),
        Key<SvtSettings>(nameof(SvtSettings.LocalScale), "area range of the local views' random resized crop (local_crops_scale)", count: 2, min: 0, max: 1, minExclusive: true),
        Key<SvtSettings>(nameof(SvtSettings.CollapseKlThreshold), "warn when the logged KL of the teacher's targets from their batch mean falls under this", min: 0),
        Key<PretrainConfig>(nameof(PretrainConfig.Data), "the training split and clip geometry"),
        Key<PretrainConfig>(nameof(PretrainConfig.Train), "optimizer and schedule"),
        Key<PretrainConfig>(nameof(PretrainConfig.Log), "logging and checkpoint intervals"),
        Key<ModelSection>(nameof(ModelSection.Encoder), "encoder from the model registry", oneOf: ModelRegistry.Names),
        Key<ModelSection>(nameof(ModelSection.DecoderDim), "decoder width", min: 1, applies: IsVideoMae, when: "method is videomae or videomae_v2"),
        Key<ModelSection>(nameof(ModelSection.DecoderDepth), "decoder blocks", min: 1, applies: IsVideoMae, when: "method is videomae or videomae_v2"),
        Key<ModelSection>(nameof(ModelSection.DecoderHeads), "decoder attention heads (must divide decoder_dim)", min: 1, applies: IsVideoMae, when: "method is videomae or videomae_v2"),
        Key<ModelSection>(nameof(ModelSection.ImgSize), "input side in pixels (= data.input_size)", min: 1),
        Key<ModelSection>(nameof(ModelSection.Frames), "frames per clip (= data.num_frames)", min: 1),
        Key<ModelSection>(nameof(ModelSection.Tubelet), "frames per patch (tubelet size)", min: 1),
        Key<ModelSection>(nameof(ModelSection.Patch), "patch side in pixels", min: 1),
        Key<ModelSection>(nameof(ModelSection.DropPath), "stochastic depth of the encoder", min: 0, max: 1, maxExclusive: true),
        Key<ModelSection>(nameof(ModelSection.GradCheckpointing), "activation checkpointing per encoder block: recompute in backward, keep one block's activations (memory for time; the official ViT-H/g recipes)"),
        Key<ModelSection>(nameof(ModelSection.NormPixLoss), "per-patch normalised pixel target (VideoMAE's --normlize_target); false = raw pixels", applies: IsVideoMae, when: "method is videomae or videomae_v2"),
        Any("PosEmbed", "position embedding: sinusoid1d (VideoMAE), sincos3d (V-JEPA), rope3d (V-JEPA 2) or none; null = the method's"),
        Any("QkvBias", "qkv bias: qv (VideoMAE), qkv (jepa) or none; null = the method's"),
        Any("Rope", "3-D RoPE pairing: official (vjepa2 RoPEAttention) or textbook; null = official"),
        Key<MaskSection>(nameof(MaskSection.Ratio), "share of tokens the encoder never sees", min: 0, max: 1, minExclusive: true, maxExclusive: true),
        Key<MaskSection>(nameof(MaskSection.DecoderRatio), "VideoMAE V2 running-cell decoder mask ratio", min: 0, max: 1, maxExclusive: true,
            applies: root => root is PretrainConfig { Method: "videomae_v2" }, when: "method = videomae_v2"),
        Key<OptimSection>(nameof(OptimSection.Epochs), "passes over the training split (the lr schedule spans them)", min: 1),
        Key<OptimSection>(nameof(OptimSection.ScaleLr), "scale base_lr, min_lr and start_lr by the effective batch / 256 (VideoMAE); false = absolute rates (V-JEPA)"),
        Key<OptimSection>(nameof(OptimSection.StartLr), "lr at the start of the warmup (0 in VideoMAE, jepa start_lr)", min: 0),
        Key<OptimSection>(nameof(OptimSection.WeightDecayEnd), "cosine weight decay from weight_decay to this (jepa final_weight_decay, DINO/SVT weight_decay_end); null = constant. V-JEPA steps it, and the lr, as jepa's schedulers: iteration i runs with the value after i + 1 steps", min: 0),
        Key<OptimSection>(nameof(OptimSection.CpuBf16), "bf16 autocast on CPU: oneDNN bf16 matmuls, 1.5-1.7x the fp32 step on CPUs with AVX512-BF16 or AMX (videossl env says); without them bf16 is emulated and likely slower (not measured); layer_norm stays fp32 as under CUDA autocast",
            applies: root => !IsCuda(root), when: "device is cpu"),
        Key<OptimSection>(nameof(OptimSection.CudnnAttention), "cuDNN's attention kernel on CUDA: auto (off for methods whose token counts change every step, V-JEPA's masks, where cuDNN plans each new shape; on otherwise), on or off",
            oneOf: OptimSection.CudnnAttentionValues, applies: IsCuda, when: "device is cuda"),
        Key<OptimSection>(nameof(OptimSection.ScheduleScale), "schedules span this x the planned steps (jepa ipe_scale, 1.25)", min: 1),

        // ---- data -------------------------------------------------------------------------------------------
        Key<DataSection>(nameof(DataSection.Format), "kinetics (official CSV), list (VideoMAE \"path label\" file), ssv2 (labels + split JSON), synthetic (the built-in motion set, written to data.root) or procedural (nuisance-rich clips rendered from (seed, index), pretraining only)", oneOf: DataFormats),
        Key<DataSection>(nameof(DataSection.Root), "folder that holds the videos (synthetic: where the set is generated)", applies: root => FormatOf(root) != "procedural", when: "data.format is not procedural"),
        Key<DataSection>(nameof(DataSection.Annotations), "Kinetics CSV, list file or SSv2 split JSON", applies: root => FormatOf(root) is not ("synthetic" or "procedural"), when: "data.format is not synthetic or procedural"),
        Key<DataSection>(nameof(DataSection.Labels), "SSv2 labels JSON, or a Kinetics class index JSON", applies: root => FormatOf(root) is "ssv2" or "kinetics", when: "data.format is ssv2 or kinetics"),
        Key<DataSection>(nameof(DataSection.NumFrames), "frames per clip (VideoMAE's --num_frames); methods with views (SVT) cut them from a window of num_frames x sampling_rate frames at 30 fps (SVT's DATA.NUM_FRAMES x DATA.SAMPLING_RATE = 8 x 32)", min: 1),
        Key<DataSection>(nameof(DataSection.SamplingRate), "frame stride of dense sampling (--sampling_rate); with views, the window's second factor (see data.num_frames)", min: 1),
        Key<DataSection>(nameof(DataSection.InputSize), "crop side in pixels (--input_size)", min: 1),
        Key<DataSection>(nameof(DataSection.Flip), "random horizontal flip (never for ssv2); for svt the per-view flips of the official views (p 0.5 each; the official recipe: true)"),
        Key<DataSection>(nameof(DataSection.MinCropScale), "smallest area share of the random resized crop", min: 0, max: 1, minExclusive: true),
        Key<DataSection>(nameof(DataSection.NumSample), "clips cut from each decoded video (repeated augmentation, VideoMAE V2's --num_sample)", min: 1),
        Key<DataSection>(nameof(DataSection.Workers), "decoding threads", min: 1),
        Key<DataSection>(nameof(DataSection.Prefetch), "batches decoded ahead", min: 1),
        Key<DataSection>(nameof(DataSection.MaxFailedShare), "share of videos that may be missing or unreadable before the run stops", min: 0, max: 1),
        Key<DataSection>(nameof(DataSection.Synthetic), "the built-in motion dataset, generated into data.root on first use",
            applies: root => FormatOf(root) == "synthetic", when: "data.format = synthetic"),
        Key<DataSection>(nameof(DataSection.Procedural), "the nuisance-rich pool, rendered on the fly from (seed, index) with the decoded clips' sampling and augmentation",
            applies: root => FormatOf(root) == "procedural", when: "data.format = procedural"),
        Key<ProceduralSection>(nameof(ProceduralSection.Seed), "seed of the pool: clip i is rendered from (seed, i)", min: 0),
        Key<ProceduralSection>(nameof(ProceduralSection.Clips), "distinct clips in the pool (one epoch)", min: 1),
        Key<ProceduralSection>(nameof(ProceduralSection.Size), "frame side in pixels of a rendered clip", min: 8),
        Key<ProceduralSection>(nameof(ProceduralSection.Frames), "frames per rendered clip", min: 2),
        Key<ProceduralSection>(nameof(ProceduralSection.Classes), "motion classes drawn (clip i has class i mod classes; pretraining ignores labels)", min: 1, max: NuisanceVideo.Classes.Count),
        Key<ProceduralSection>(nameof(ProceduralSection.Stats), "nuisance statistics: default (the benchmark's) or transfer (other palettes, textures, backgrounds, more distractors and camera jitter)", oneOf: ["default", "transfer"]),
        Key<ProceduralSection>(nameof(ProceduralSection.Yuv420), "round-trip each rendered clip through 8-bit YUV 4:2:0 (BT.601, chroma averaged over 2 x 2 and upsampled bilinearly), the chroma blur the labeled mp4/webm files carry; frame side must be even"),
        Key<SyntheticSection>(nameof(SyntheticSection.Classes), "motion classes", min: 1, max: 64),
        Key<SyntheticSection>(nameof(SyntheticSection.TrainPerClass), "training videos per class", min: 1),
        Key<SyntheticSection>(nameof(SyntheticSection.ValPerClass), "validation videos per class", min: 1),
        Key<SyntheticSection>(nameof(SyntheticSection.Size), "frame side in pixels", min: 8),
        Key<SyntheticSection>(nameof(SyntheticSection.Frames), "frames per video", min: 1),
        Key<SyntheticSection>(nameof(SyntheticSection.Fps), "frames per second written to the files", min: 1),
        Key<SyntheticSection>(nameof(SyntheticSection.Seed), "seed of the generated set", min: 0),

        // ---- logging ----------------------------------------------------------------------------------------
        Key<LogSection>(nameof(LogSection.EverySteps), "write metrics every N optimizer steps", min: 1),
        Key<LogSection>(nameof(LogSection.CheckpointEverySteps), "write checkpoints/last.safetensors every N steps (and at each epoch end)", min: 1),
        Key<LogSection>(nameof(LogSection.KeepEverySteps), "also keep a numbered checkpoint every N steps (0 = only last)", min: 0),
        Key<LogSection>(nameof(LogSection.ReconstructionEverySteps), "draw a masked-reconstruction grid every N steps", min: 1,
            applies: root => root is PretrainConfig, when: "the verb is pretrain"),

        // ---- evaluation -------------------------------------------------------------------------------------
        Key<FinetuneConfig>(nameof(FinetuneConfig.Model), "the classifier"),
        Key<FinetuneConfig>(nameof(FinetuneConfig.Data), "the training split, and the clip geometry every split shares"),
        Key<FinetuneConfig>(nameof(FinetuneConfig.Val), "the validation split (blank fields follow data)"),
        Key<FinetuneConfig>(nameof(FinetuneConfig.Test), "multi-view testing"),
        Key<FinetuneConfig>(nameof(FinetuneConfig.Train), "optimizer and schedule"),
        Key<FinetuneConfig>(nameof(FinetuneConfig.Aug), "fine-tuning augmentation"),
        Key<FinetuneConfig>(nameof(FinetuneConfig.Log), "logging and checkpoint intervals"),
        Key<ProbeConfig>(nameof(ProbeConfig.Model), "the frozen encoder"),
        Key<ProbeConfig>(nameof(ProbeConfig.Data), "the training split, and the clip geometry every split shares"),
        Key<ProbeConfig>(nameof(ProbeConfig.Val), "the validation split (blank fields follow data)"),
        Key<ProbeConfig>(nameof(ProbeConfig.Test), "views the validation split is scored with every epoch"),
        Key<ProbeConfig>(nameof(ProbeConfig.Probe), "the probe head"),
        Key<ProbeConfig>(nameof(ProbeConfig.Train), "optimizer and schedule of the head", applies: root => root is ProbeConfig { Probe.Kind: not ("ridge" or "knn") }, when: "probe.kind is linear or attentive"),
        Key<ProbeConfig>(nameof(ProbeConfig.Log), "logging and checkpoint intervals"),
        Key<EvalConfig>(nameof(EvalConfig.Model), "the classifier"),
        Key<EvalConfig>(nameof(EvalConfig.Data), "clip geometry (and the split when val is blank)"),
        Key<EvalConfig>(nameof(EvalConfig.Val), "the split to test (blank fields follow data)"),
        Key<EvalConfig>(nameof(EvalConfig.Test), "multi-view testing"),
        Key<ClassifierSection>(nameof(ClassifierSection.Encoder), "encoder from the model registry", oneOf: ModelRegistry.Names),
        Key<ClassifierSection>(nameof(ClassifierSection.ImgSize), "input side in pixels (= data.input_size)", min: 1),
        Key<ClassifierSection>(nameof(ClassifierSection.Frames), "frames per clip (= data.num_frames)", min: 1),
        Key<ClassifierSection>(nameof(ClassifierSection.Tubelet), "frames per patch (tubelet size)", min: 1),
        Key<ClassifierSection>(nameof(ClassifierSection.Patch), "patch side in pixels", min: 1),
        Key<ClassifierSection>(nameof(ClassifierSection.DropPath), "stochastic depth, increasing linearly over the blocks (VideoMAE --drop_path)", min: 0, max: 1, maxExclusive: true),
        Key<ClassifierSection>(nameof(ClassifierSection.GradCheckpointing), "activation checkpointing per encoder block (recompute in backward; fine-tuning large encoders)"),
        Key<ClassifierSection>(nameof(ClassifierSection.NumClasses), "classes of the head; 0 = the training split's class count", min: 0),
        Key<ClassifierSection>(nameof(ClassifierSection.HeadInitScale), "head weights start as trunc_normal(0.02) x this (--init_scale)", min: 0),
        Key<ClassifierSection>(nameof(ClassifierSection.HeadDrop), "dropout before the head (--fc_drop_rate)", min: 0, max: 1, maxExclusive: true),
        Key<SplitSection>(nameof(SplitSection.Root), "video folder; blank = data.root"),
        Key<SplitSection>(nameof(SplitSection.Annotations), "the split's CSV, list or JSON (synthetic: blank = root/val.csv)"),
        Key<SplitSection>(nameof(SplitSection.Labels), "Kinetics: class index JSON from training; SSv2: labels JSON (blank = data.labels)"),
        Key<TestSection>(nameof(TestSection.Clips), "temporal views per video (K400 5, SSv2 2; --test_num_segment)", min: 1),
        Key<TestSection>(nameof(TestSection.Crops), "spatial crops per view (3; --test_num_crop)", min: 1),
        Key<TestSection>(nameof(TestSection.BatchSize), "videos per test batch (each carries clips x crops views)", min: 1),
        Key<FinetuneOptimSection>(nameof(FinetuneOptimSection.LayerDecay), "layer-wise lr decay: block i gets decay^(depth - i) (--layer_decay)", min: 0, max: 1, minExclusive: true),
        Key<FinetuneOptimSection>(nameof(FinetuneOptimSection.ValEveryEpochs), "validate (one view per video) every N epochs; 0 = only at the end", min: 0),
        Key<AugmentSection>(nameof(AugmentSection.Mixup), "mixup Beta(a, a); 0 = off (--mixup)", min: 0),
        Key<AugmentSection>(nameof(AugmentSection.Cutmix), "cutmix Beta(a, a); 0 = off (--cutmix)", min: 0),
        Key<AugmentSection>(nameof(AugmentSection.MixupProb), "chance a batch is mixed (--mixup_prob)", min: 0, max: 1,
            applies: root => root is FinetuneConfig f && (f.Aug.Mixup > 0 || f.Aug.Cutmix > 0), when: "aug.mixup or aug.cutmix > 0"),
        Key<AugmentSection>(nameof(AugmentSection.SwitchProb), "chance cutmix replaces mixup when both are on (--mixup_switch_prob)", min: 0, max: 1,
            applies: root => root is FinetuneConfig f && f.Aug.Mixup > 0 && f.Aug.Cutmix > 0, when: "aug.mixup and aug.cutmix > 0"),
        Key<AugmentSection>(nameof(AugmentSection.LabelSmoothing), "label smoothing (--smoothing)", min: 0, max: 1, maxExclusive: true),
        Key<AugmentSection>(nameof(AugmentSection.AutoAugment), "RandAugment policy in timm's form (--aa, VideoMAE rand-m7-n4-mstd0.5-inc1); \"\" or none = off", check: CheckRandAugment),
        Key<AugmentSection>(nameof(AugmentSection.Reprob), "random erasing probability (--reprob)", min: 0, max: 1),
        Key<AugmentSection>(nameof(AugmentSection.NumSample), "augmented clips per decoded video (--num_sample; VideoMAE 2)", min: 1),
        Key<ProbeSection>(nameof(ProbeSection.Kind), "linear (MAE: BatchNorm + Linear), attentive (V-JEPA cross-attention pooling), ridge (closed form) or knn (SVT/DINO weighted k-NN on L2-normalised features)", oneOf: ["linear", "attentive", "ridge", "knn"]),
        Key<ProbeSection>(nameof(ProbeSection.Pooling), "mean (token mean of the final output) or last_k (token means of the last k blocks)", oneOf: ["mean", "last_k"],
            applies: root => ProbeOf(root)?.Kind != "attentive", when: "probe.kind is linear, ridge or knn"),
        Key<ProbeSection>(nameof(ProbeSection.LastK), "blocks pooled by last_k", min: 1,
            applies: root => ProbeOf(root) is { Kind: not "attentive", Pooling: "last_k" }, when: "probe.pooling = last_k"),
        Key<ProbeSection>(nameof(ProbeSection.BlockPooling), "how the last k blocks combine: concatenate or average", oneOf: ["concatenate", "average"],
            applies: root => ProbeOf(root) is { Kind: not "attentive", Pooling: "last_k" }, when: "probe.pooling = last_k"),
        Key<ProbeSection>(nameof(ProbeSection.AttentiveDepth), "1 = V-JEPA's single cross-attention block; V-JEPA 2 uses 4", min: 1,
            applies: root => ProbeOf(root)?.Kind == "attentive", when: "probe.kind = attentive"),
        Key<ProbeSection>(nameof(ProbeSection.AttentiveVariant), "vjepa (cross-attention with output projection) or vjepa2", oneOf: ["vjepa", "vjepa2"],
            applies: root => ProbeOf(root)?.Kind == "attentive", when: "probe.kind = attentive"),
        Key<ProbeSection>(nameof(ProbeSection.AttentiveHeads), "heads of the attentive probe; 0 = the encoder's", min: 0,
            applies: root => ProbeOf(root)?.Kind == "attentive", when: "probe.kind = attentive"),
        Key<ProbeSection>(nameof(ProbeSection.AttentiveBlock), "tokens the attentive probe reads: 0 = after the encoder's final norm; K = the raw output of block K (from 1)", min: 0,
            applies: root => ProbeOf(root)?.Kind == "attentive", when: "probe.kind = attentive"),
        Key<ProbeSection>(nameof(ProbeSection.CacheFeatures), "extract features once (one centre view per training video) and train from the cache",
            applies: root => ProbeOf(root)?.Kind is not ("ridge" or "knn"), when: "probe.kind is linear or attentive (ridge and knn always cache)"),
        Key<ProbeSection>(nameof(ProbeSection.CacheDir), "where feature caches go; blank = the run folder's features/"),
        Key<ProbeSection>(nameof(ProbeSection.KnnK), "k-NN neighbour counts (SVT/DINO --nb_knn 10 20 100 200); the first is the probe's result (videossl benchmark chooses k on its dev split)", min: 1,
            applies: root => ProbeOf(root)?.Kind == "knn", when: "probe.kind = knn"),
        Key<ProbeSection>(nameof(ProbeSection.KnnTemperature), "k-NN vote weight exp(cosine similarity / T) (SVT/DINO --temperature 0.07)", min: 0, minExclusive: true,
            applies: root => ProbeOf(root)?.Kind == "knn", when: "probe.kind = knn"),
        Key<ProbeSection>(nameof(ProbeSection.RidgeLambda), "ridge: lambda relative to the per-sample feature scale", min: 0, minExclusive: true,
            applies: root => ProbeOf(root)?.Kind == "ridge", when: "probe.kind = ridge"),
        Key<ProbeOptimSection>(nameof(ProbeOptimSection.BaseLr), "lr = base_lr x batch_size / 256, or base_lr itself when scale_lr is false", min: 0, minExclusive: true),
        Key<ProbeOptimSection>(nameof(ProbeOptimSection.ScaleLr), "scale base_lr by batch_size / 256 (MAE); false: absolute rates (V-JEPA)"),
    ];

    public static IReadOnlyList<ConfigKey> Keys => s_keys;

    /// <summary>The rule of a property: the one declared for its record, else the shared one.</summary>
    public static ConfigKey? Find(Type section, string property) =>
        s_keys.FirstOrDefault(k => k.Section == section && k.Property == property)
        ?? s_keys.FirstOrDefault(k => k.Section is null && k.Property == property);

    /// <summary>Every leaf key of a config (numbers, strings, booleans, lists), in declaration order.</summary>
    public static IEnumerable<ConfigEntry> Walk(object root) => Walk(root, root, "", "", true);

    private static IEnumerable<ConfigEntry> Walk(object root, object? node, string prefix, string binderPrefix, bool applies)
    {
        if (node is null)
        {
            yield break;
        }
        foreach (var property in node.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var key = prefix + ConfigLoader.ToSnake(property.Name);
            var binderPath = binderPrefix + property.Name;
            var rule = Find(node.GetType(), property.Name);
            var here = applies && (rule?.AppliesTo is null || rule.AppliesTo(root));
            var value = property.GetValue(node);
            if (IsLeaf(property.PropertyType))
            {
                yield return new ConfigEntry(key, binderPath, property.PropertyType, value, rule, here);
                continue;
            }
            foreach (var entry in Walk(root, value, key + ".", binderPath + ":", here))
            {
                yield return entry;
            }
        }
    }

    /// <summary>
    /// Checks every value of a resolved config against its rule. <paramref name="origin"/> says where a binder path
    /// (`Train:AccumSteps`, list items `Train:Betas:0`) got its value (a file, a --set), null for a default.
    /// </summary>
    public static void Validate(object root, Func<string, string?> origin)
    {
        foreach (var entry in Walk(root))
        {
            if (entry.Rule is null || Problem(entry.Rule, entry.Value) is not string problem)
            {
                continue;
            }
            var from = origin(entry.BinderPath) ?? origin(entry.BinderPath + ":0");
            throw new ConfigException($"{entry.Key} = {Show(entry.Value)} ({(from is null ? "default" : $"from {from}")}): {problem}");
        }
    }

    /// <summary>The value as JSON (how configs write it).</summary>
    public static string Show(object? value) => value switch
    {
        double d when !double.IsFinite(d) => d.ToString(CultureInfo.InvariantCulture),
        double[] items when items.Any(d => !double.IsFinite(d)) => $"[{string.Join(",", items.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]",
        _ => JsonSerializer.Serialize(value, ConfigLoader.JsonOptions).Replace("\n", "", StringComparison.Ordinal).Replace("  ", "", StringComparison.Ordinal),
    };

    /// <summary>The key's type in words.</summary>
    public static string TypeName(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) => "integer",
        _ when type == typeof(double) || type == typeof(float) => "number",
        _ when type == typeof(bool) => "bool",
        _ when type == typeof(string) => "string",
        _ when type.IsArray => $"list of {TypeName(type.GetElementType()!)}",
        _ => type.Name,
    };

    private static string? Problem(ConfigKey rule, object? value)
    {
        if (value is Array array)
        {
            if (rule.Count is int count && array.Length != count)
            {
                return $"needs exactly {count} values, got {array.Length}";
            }
            for (var i = 0; i < array.Length; i++)
            {
                if (Problem(rule with { Count = null }, array.GetValue(i)) is string itemProblem)
                {
                    return $"item {i}: {itemProblem}";
                }
            }
            return null;
        }
        if (value is int or long or double or float)
        {
            var number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (!double.IsFinite(number))
            {
                return "must be a finite number";
            }
            if (rule.Min is double min && (rule.MinExclusive ? number <= min : number < min))
            {
                return rule.Max is null ? $"must be {(rule.MinExclusive ? ">" : ">=")} {ConfigKey.Format(min)}" : $"must lie in {rule.Constraint}";
            }
            if (rule.Max is double max && (rule.MaxExclusive ? number >= max : number > max))
            {
                return rule.Min is null ? $"must be {(rule.MaxExclusive ? "<" : "<=")} {ConfigKey.Format(max)}" : $"must lie in {rule.Constraint}";
            }
        }
        if (rule.OneOf is not null && value is string text && !rule.OneOf.Contains(text))
        {
            return $"must be one of {string.Join(", ", rule.OneOf)}";
        }
        return rule.Check?.Invoke(value);
    }

    private static string? CheckDevice(object? value)
    {
        try
        {
            Device.Parse((string)value!);
            return null;
        }
        catch (FormatException)
        {
            return "must be cpu, cuda or cuda:N";
        }
    }

    private static string? CheckRandAugment(object? value)
    {
        try
        {
            RandAugmentPolicy.Parse((string)value!, "aug.auto_augment");
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    private static bool IsCuda(object root) => root switch
    {
        PretrainConfig p => p.Train.Device.StartsWith("cuda", StringComparison.Ordinal),
        FinetuneConfig f => f.Train.Device.StartsWith("cuda", StringComparison.Ordinal),
        ProbeConfig p => p.Train.Device.StartsWith("cuda", StringComparison.Ordinal),
        EvalConfig e => e.Device.StartsWith("cuda", StringComparison.Ordinal),
        _ => true,
    };

    private static string? FormatOf(object root) => root switch
    {
        PretrainConfig p => p.Data.Format,
        FinetuneConfig f => f.Data.Format,
        ProbeConfig p => p.Data.Format,
        EvalConfig e => e.Data.Format,
        _ => null,
    };

    private static ProbeSection? ProbeOf(object root) => (root as ProbeConfig)?.Probe;

    private static bool IsVideoMae(object root) => root is PretrainConfig { Method: "videomae" or "videomae_v2" };

    private static bool IsVJepa(object root) => root is PretrainConfig { Method: "vjepa" or "vjepa2" };

    private static bool IsSvt(object root) => root is PretrainConfig { Method: "svt" };

    private static bool IsSupervised(object root) => root is PretrainConfig { Method: SupervisedTask.MethodName };

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type.IsArray
        || (type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type))
        || Nullable.GetUnderlyingType(type) is not null;

    private static ConfigKey Key<TSection>(string property, string description, double? min = null, double? max = null, bool minExclusive = false,
        bool maxExclusive = false, IReadOnlyCollection<string>? oneOf = null, int? count = null, Func<object?, string?>? check = null,
        Func<object, bool>? applies = null, string? when = null) => new()
        {
            Section = typeof(TSection),
            Property = property,
            Description = description,
            Min = min,
            Max = max,
            MinExclusive = minExclusive,
            MaxExclusive = maxExclusive,
            OneOf = oneOf,
            Count = count,
            Check = check,
            AppliesTo = applies,
            AppliesWhen = when,
        };

    private static ConfigKey Any(string property, string description, double? min = null, double? max = null, bool minExclusive = false,
        bool maxExclusive = false, IReadOnlyCollection<string>? oneOf = null, int? count = null, Func<object?, string?>? check = null,
        Func<object, bool>? applies = null, string? when = null) =>
        Key<object>(property, description, min, max, minExclusive, maxExclusive, oneOf, count, check, applies, when) with { Section = null };
}
