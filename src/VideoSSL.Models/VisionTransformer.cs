using VideoSSL.Torch;
using VideoSSL.Torch.NN;

namespace VideoSSL.Models;

// Inside VideoSSL.*, "Torch" names the namespace; this alias makes it name the functional API.
using Torch = VideoSSL.Torch.Torch;

// Video Vision Transformer as in MCG-NJU/VideoMAE (modeling_finetune.py, modeling_pretrain.py) and
// OpenGVLab/VideoMAEv2. Parameter names are the official ones, so official checkpoints load without renaming.
// File order as in timm: configuration, blocks, models, factory, named variants.

/// <summary>How the attention's qkv projection carries its bias.</summary>
public enum QkvBiasStyle
{
    /// <summary>VideoMAE: qkv Linear without bias, separate <c>q_bias</c> and <c>v_bias</c>, no bias on k.</summary>
    QV,

    /// <summary>One bias over all of q, k and v (<c>qkv.bias</c>), as timm and V-JEPA.</summary>
    Full,

    None,
}

/// <summary>The token grid T' × H' × W' of a clip; tokens are numbered t-major, then h, then w.</summary>
public readonly record struct TokenGrid(int Frames, int Height, int Width)
{
    public int Count => Frames * Height * Width;

    public int PerFrame => Height * Width;
}

/// <summary>Shape of a video ViT. Defaults are ViT-B/16 on 16 × 224 × 224 clips with VideoMAE's choices.</summary>
public sealed record VideoViTConfig
{
    public string Name { get; init; } = "vit_base";
    public int EmbedDim { get; init; } = 768;
    public int Depth { get; init; } = 12;
    public int NumHeads { get; init; } = 12;
    public double MlpRatio { get; init; } = 4.0;
    public int PatchSize { get; init; } = 16;
    public int TubeletSize { get; init; } = 2;
    public int ImgSize { get; init; } = 224;
    public int NumFrames { get; init; } = 16;
    public int InChannels { get; init; } = 3;
    public QkvBiasStyle QkvBias { get; init; } = QkvBiasStyle.QV;

    /// <summary>Stochastic depth at the last block; rates rise linearly from 0 at the first (0 in pretraining).</summary>
    public double DropPathRate { get; init; }

    public double LayerNormEps { get; init; } = 1e-6;

    /// <summary>Classifier only: mean-pool tokens then <c>fc_norm</c> (no final <c>norm</c>), as VideoMAE fine-tuning.</summary>
    public bool UseMeanPooling { get; init; } = true;

    public TokenGrid Grid => new(NumFrames / TubeletSize, ImgSize / PatchSize, ImgSize / PatchSize);

    public int NumTokens => Grid.Count;

    public int HeadDim => EmbedDim / NumHeads;

    /// <summary>int(dim · mlp_ratio) as the official code computes it (ViT-g: 1408 · 48/11 = 6144).</summary>
    public int MlpHiddenDim => (int)(EmbedDim * MlpRatio);

    /// <summary>Values per token of a tubelet patch: channels · tubelet · patch².</summary>
    public int PatchValues => InChannels * TubeletSize * PatchSize * PatchSize;

    public void Validate()
    {
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException($"model '{Name}': {message}");
            }
        }
        Require(EmbedDim > 0 && Depth > 0 && NumHeads > 0, "embed dim, depth and heads must be positive");
        Require(EmbedDim % NumHeads == 0, $"embed dim {EmbedDim} is not divisible by {NumHeads} heads");
        Require(PatchSize > 0 && TubeletSize > 0, "patch and tubelet sizes must be positive");
        Require(ImgSize % PatchSize == 0, $"image size {ImgSize} is not a multiple of patch size {PatchSize}");
        Require(NumFrames % TubeletSize == 0, $"frame count {NumFrames} is not a multiple of tubelet size {TubeletSize}");
        Require(MlpRatio > 0, "mlp ratio must be positive");
        Require(DropPathRate is >= 0 and < 1, $"drop path rate {DropPathRate} is outside [0, 1)");
    }
}

/// <summary>Tubelet embedding: Conv3d with kernel = stride = (tubelet, patch, patch), flattened to [B, N, D].</summary>
public sealed class PatchEmbed3d : Module
{
    private readonly VideoViTConfig _config;

    public PatchEmbed3d(VideoViTConfig config)
    {
        _config = config;
        long[] kernel = [config.TubeletSize, config.PatchSize, config.PatchSize];
        Proj = Child("proj", new Conv3d(config.InChannels, config.EmbedDim, kernel, kernel));
    }

    public Conv3d Proj { get; }

    /// <summary>[B, C, T, H, W] → [B, T'·H'·W', D], t-major token order.</summary>
    public Tensor Forward(Tensor clip)
    {
        var shape = clip.Shape;
        if (shape.Length != 5 || shape[1] != _config.InChannels || shape[2] != _config.NumFrames || shape[3] != _config.ImgSize || shape[4] != _config.ImgSize)
        {
            throw new ArgumentException(
                $"model '{_config.Name}' expects clips [B, {_config.InChannels}, {_config.NumFrames}, {_config.ImgSize}, {_config.ImgSize}], got [{string.Join(", ", shape)}]");
        }
        using var scope = Torch.NewScope();
        var x = Proj.Forward(clip).Flatten(2).Transpose(1, 2);
        return scope.MoveToOuter(x);
    }
}

/// <summary>Multi-head self-attention with VideoMAE's bias layout (see <see cref="QkvBiasStyle"/>).</summary>
public sealed class Attention : Module
{
    private readonly int _numHeads;

    public Attention(int dim, int numHeads, QkvBiasStyle biasStyle)
    {
        _numHeads = numHeads;
        Qkv = Child("qkv", new Linear(dim, 3 * dim, bias: biasStyle == QkvBiasStyle.Full));
        if (biasStyle == QkvBiasStyle.QV)
        {
            QBias = Param("q_bias", Torch.Zeros([dim]));
            VBias = Param("v_bias", Torch.Zeros([dim]));
        }
        Proj = Child("proj", new Linear(dim, dim));
    }

    public Linear Qkv { get; }
    public Parameter? QBias { get; }
    public Parameter? VBias { get; }
    public Linear Proj { get; }

    /// <summary>[B, N, C] → [B, N, C].</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var (b, n, c) = (x.Size(0), x.Size(1), x.Size(2));
        var bias = QBias is not null && VBias is not null
            ? Torch.Cat([QBias.Value, Torch.ZerosLike(VBias.Value), VBias.Value]) // k gets no bias, as the official code
            : Qkv.Bias?.Value;
        var qkv = Torch.Linear(x, Qkv.Weight, bias).Reshape(b, n, 3, _numHeads, c / _numHeads).Permute(2, 0, 3, 1, 4); // [3, B, H, N, hd]
        var attended = Torch.ScaledDotProductAttention(qkv.Select(0, 0), qkv.Select(0, 1), qkv.Select(0, 2)); // [B, H, N, hd]
        var y = Proj.Forward(attended.Transpose(1, 2).Reshape(b, n, c));
        return scope.MoveToOuter(y);
    }
}

/// <summary>fc1 → exact GELU → fc2.</summary>
public sealed class Mlp : Module
{
    public Mlp(int dim, int hidden)
    {
        Fc1 = Child("fc1", new Linear(dim, hidden));
        Fc2 = Child("fc2", new Linear(hidden, dim));
    }

    public Linear Fc1 { get; }
    public Linear Fc2 { get; }

    public Tensor Forward(Tensor x)
    {
        using var scope = Torch.NewScope();
        var y = Fc2.Forward(Torch.Gelu(Fc1.Forward(x)));
        return scope.MoveToOuter(y);
    }
}

/// <summary>Pre-norm transformer block: x += drop_path(attn(norm1(x))); x += drop_path(mlp(norm2(x))).</summary>
public sealed class Block : Module
{
    public Block(int dim, int numHeads, int mlpHidden, QkvBiasStyle biasStyle, double dropPath, double eps)
    {
        Norm1 = Child("norm1", new LayerNorm(dim, eps));
        Attn = Child("attn", new Attention(dim, numHeads, biasStyle));
        DropPath = Child("drop_path", new DropPath(dropPath));
        Norm2 = Child("norm2", new LayerNorm(dim, eps));
        Mlp = Child("mlp", new Mlp(dim, mlpHidden));
    }

    public LayerNorm Norm1 { get; }
    public Attention Attn { get; }
    public DropPath DropPath { get; }
    public LayerNorm Norm2 { get; }
    public Mlp Mlp { get; }

    public Tensor Forward(Tensor x)
    {
        // A scope per block frees the temporaries autograd does not keep as soon as the block is done.
        using var scope = Torch.NewScope();
        var h = x + DropPath.Forward(Attn.Forward(Norm1.Forward(x)));
        h = h + DropPath.Forward(Mlp.Forward(Norm2.Forward(h)));
        return scope.MoveToOuter(h);
    }
}

/// <summary>Fixed position tables.</summary>
public static class PositionTables
{
    /// <summary>
    /// VideoMAE's 1-D sinusoid table over the flat token index, [n, d] float32:
    /// angle(pos, j) = pos / 10000^(2·floor(j/2)/d); even j → sin, odd j → cos (interleaved). Computed in
    /// double, then rounded to float, as the official numpy code.
    /// </summary>
    public static float[] Sinusoid1d(int n, int d)
    {
        var table = new float[(long)n * d];
        for (var pos = 0; pos < n; pos++)
        {
            for (var j = 0; j < d; j++)
            {
                var angle = pos / Math.Pow(10000, 2.0 * (j / 2) / d);
                table[((long)pos * d) + j] = (float)(j % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle));
            }
        }
        return table;
    }

    /// <summary>The sinusoid table as a [1, n, d] tensor.</summary>
    public static Tensor Sinusoid1dTensor(int n, int d) => Tensor.From(Sinusoid1d(n, d), 1, n, d);
}

/// <summary>
/// The video ViT backbone: <c>patch_embed</c>, fixed sinusoid position table (not saved), <c>blocks</c>, and a
/// final <c>norm</c> (the pretraining encoder has it; the mean-pooling classifier has <c>fc_norm</c> instead).
/// Runs on all tokens or on a visible subset given by ascending indices [B, Nvis].
/// </summary>
public class VideoViTEncoder : Module
{
    private const string PosEmbedName = "pos_embed";

    public VideoViTEncoder(VideoViTConfig config)
        : this(config, finalNorm: true)
    {
    }

    protected VideoViTEncoder(VideoViTConfig config, bool finalNorm)
    {
        config.Validate();
        Config = config;
        PatchEmbed = Child("patch_embed", new PatchEmbed3d(config));
        Buffer(PosEmbedName, PositionTables.Sinusoid1dTensor(config.NumTokens, config.EmbedDim), persistent: false);
        var blocks = new List<Block>(config.Depth);
        for (var i = 0; i < config.Depth; i++)
        {
            blocks.Add(new Block(config.EmbedDim, config.NumHeads, config.MlpHiddenDim, config.QkvBias, DropPathRate(config, i), config.LayerNormEps));
        }
        Blocks = Child("blocks", new ModuleList<Block>(blocks));
        Norm = finalNorm ? Child("norm", new LayerNorm(config.EmbedDim, config.LayerNormEps)) : null;
        ModelInit.XavierLinears(this);
    }

    public VideoViTConfig Config { get; }
    public PatchEmbed3d PatchEmbed { get; }
    public ModuleList<Block> Blocks { get; }
    public LayerNorm? Norm { get; }

    public int EmbedDim => Config.EmbedDim;

    /// <summary>The fixed position table [1, N, D] (looked up by name: <see cref="Module.To"/> replaces buffers).</summary>
    public Tensor PosEmbed => NamedBuffers().First(b => b.Key == PosEmbedName).Value;

    /// <summary>Stochastic depth of block i: linspace(0, rate, depth)[i].</summary>
    public static double DropPathRate(VideoViTConfig config, int block) =>
        config.Depth <= 1 ? 0 : config.DropPathRate * block / (config.Depth - 1);

    /// <summary>Patch embedding plus position table, optionally gathered at visible indices: [B, N or Nvis, D].</summary>
    public Tensor Embed(Tensor clip, Tensor? visibleIndices = null)
    {
        using var scope = Torch.NewScope();
        var x = PatchEmbed.Forward(clip);
        var pos = PosEmbed;
        x = x + (pos.Dtype == x.Dtype ? pos : pos.To(x.Dtype));
        if (visibleIndices is not null)
        {
            x = GatherTokens(x, visibleIndices);
        }
        return scope.MoveToOuter(x);
    }

    /// <summary>Token features after the blocks and the final norm (if any): [B, N or Nvis, D].</summary>
    public Tensor Forward(Tensor clip, Tensor? visibleIndices = null) => ForwardIntermediates(clip, 0, visibleIndices).Output;

    /// <summary>
    /// Forward that also returns the raw outputs (before the final norm) of the last <paramref name="lastBlocks"/>
    /// blocks, in block order, for probes that read several layers.
    /// </summary>
    public (Tensor Output, Tensor[] Blocks) ForwardIntermediates(Tensor clip, int lastBlocks, Tensor? visibleIndices = null)
    {
        if (lastBlocks < 0 || lastBlocks > Blocks.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(lastBlocks), $"asked for the last {lastBlocks} blocks of {Blocks.Count}");
        }
        var x = Embed(clip, visibleIndices);
        var kept = new List<Tensor>(lastBlocks);
        for (var i = 0; i < Blocks.Count; i++)
        {
            var next = Blocks[i].Forward(x);
            // Autograd keeps what backward needs; dropping our handle lets eval runs free each activation at once.
            if (!kept.Contains(x))
            {
                x.Dispose();
            }
            x = next;
            if (i >= Blocks.Count - lastBlocks)
            {
                kept.Add(x);
            }
        }
        var output = Norm is null ? (kept.Contains(x) ? x.Share() : x) : Norm.Forward(x);
        if (Norm is not null && !kept.Contains(x))
        {
            x.Dispose();
        }
        return (output, kept.ToArray());
    }

    /// <summary>x[b, idx[b, i], :] for idx [B, K] → [B, K, D].</summary>
    public static Tensor GatherTokens(Tensor x, Tensor indices)
    {
        using var scope = Torch.NewScope();
        var index = indices.Unsqueeze(-1).Expand(indices.Size(0), indices.Size(1), x.Size(-1));
        return scope.MoveToOuter(x.Gather(1, index));
    }
}

/// <summary>
/// The fine-tuning model of VideoMAE: the backbone without the <c>encoder.</c> prefix, mean pooling,
/// <c>fc_norm</c>, dropout and <c>head</c> (names as official fine-tuned checkpoints). Without mean pooling it
/// keeps <c>norm</c> and classifies the first token, as the official code does.
/// </summary>
public sealed class VideoViTClassifier : VideoViTEncoder
{
    private readonly double _headDropRate;

    public VideoViTClassifier(VideoViTConfig config, int numClasses, double initScale = 0.001, double headDropRate = 0)
        : base(config, finalNorm: !config.UseMeanPooling)
    {
        if (numClasses <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(numClasses), $"need at least one class, got {numClasses}");
        }
        NumClasses = numClasses;
        _headDropRate = headDropRate;
        FcNorm = config.UseMeanPooling ? Child("fc_norm", new LayerNorm(config.EmbedDim, config.LayerNormEps)) : null;
        Head = Child("head", new Linear(config.EmbedDim, numClasses));
        // modeling_finetune.VisionTransformer: every Linear trunc_normal(0.02) with bias 0, then the head scaled.
        ModelInit.TruncNormalLinears(this, 0.02);
        using (Torch.NoGrad())
        {
            Head.Weight.Value.Mul_(initScale);
            Head.Bias!.Value.Mul_(initScale);
        }
    }

    public int NumClasses { get; }
    public LayerNorm? FcNorm { get; }
    public Linear Head { get; }

    /// <summary>The pooled, normalised clip feature [B, D] (what the head sees).</summary>
    public Tensor PooledFeatures(Tensor clip)
    {
        using var scope = Torch.NewScope();
        var tokens = Forward(clip);
        var pooled = FcNorm is not null ? FcNorm.Forward(tokens.Mean(1)) : tokens.Select(1, 0);
        return scope.MoveToOuter(pooled);
    }

    /// <summary>Class logits [B, classes].</summary>
    public Tensor Classify(Tensor clip)
    {
        using var scope = Torch.NewScope();
        var logits = Head.Forward(Torch.Dropout(PooledFeatures(clip), _headDropRate, Training));
        return scope.MoveToOuter(logits);
    }

    /// <summary>
    /// Loads a pretraining checkpoint's encoder into this classifier as run_class_finetuning.py does: strips
    /// <c>encoder.</c> / <c>backbone.</c>, ignores the decoder and the encoder's final <c>norm</c>, and leaves
    /// <c>fc_norm</c> and <c>head</c> as initialised. Throws if a backbone weight is missing or mis-shaped.
    /// </summary>
    public StateDictReport LoadPretrainedEncoder(IReadOnlyDictionary<string, Tensor> state)
    {
        var renamed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in state)
        {
            var key = name.StartsWith("encoder.", StringComparison.Ordinal) ? name["encoder.".Length..]
                : name.StartsWith("backbone.", StringComparison.Ordinal) ? name["backbone.".Length..]
                : name;
            renamed[key] = tensor;
        }
        var report = LoadStateDict(renamed, strict: false);
        var backboneMissing = report.Missing.Where(n => !n.StartsWith("fc_norm.", StringComparison.Ordinal) && !n.StartsWith("head.", StringComparison.Ordinal)).ToList();
        if (backboneMissing.Count > 0 || report.ShapeMismatched.Count > 0)
        {
            throw new StateDictMismatchException(new StateDictReport(backboneMissing, report.Unexpected, report.ShapeMismatched));
        }
        return report;
    }
}

/// <summary>Weight initialisation of the official models, applied over a module tree.</summary>
public static class ModelInit
{
    /// <summary>VideoMAE pretraining: Linear xavier_uniform with bias 0; LayerNorm weight 1, bias 0.</summary>
    public static void XavierLinears(Module root)
    {
        foreach (var (_, module) in root.NamedModules())
        {
            if (module is Linear linear)
            {
                Init.XavierUniform_(linear.Weight);
                if (linear.Bias is not null)
                {
                    Init.Zeros_(linear.Bias);
                }
            }
            else if (module is LayerNorm norm)
            {
                ResetNorm(norm);
            }
        }
    }

    /// <summary>Fine-tuning: Linear trunc_normal(std) (timm's absolute bounds ±2) with bias 0; LayerNorm 1/0.</summary>
    public static void TruncNormalLinears(Module root, double std)
    {
        foreach (var (_, module) in root.NamedModules())
        {
            if (module is Linear linear)
            {
                Init.TruncNormal_(linear.Weight, std);
                if (linear.Bias is not null)
                {
                    Init.Zeros_(linear.Bias);
                }
            }
            else if (module is LayerNorm norm)
            {
                ResetNorm(norm);
            }
        }
    }

    private static void ResetNorm(LayerNorm norm)
    {
        if (norm.Weight is not null)
        {
            Init.Constant_(norm.Weight, 1);
        }
        if (norm.Bias is not null)
        {
            Init.Zeros_(norm.Bias);
        }
    }
}

/// <summary>Named model sizes, created by name as timm's registry (<c>ModelRegistry.Create("vit_base")</c>).</summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, VideoViTConfig> s_configs = new(StringComparer.Ordinal)
    {
        ["vit_micro"] = VideoViTVariants.Micro,
        ["vit_tiny"] = VideoViTVariants.Tiny,
        ["vit_small"] = VideoViTVariants.Small,
        ["vit_base"] = VideoViTVariants.Base,
        ["vit_large"] = VideoViTVariants.Large,
        ["vit_huge"] = VideoViTVariants.Huge,
        ["vit_giant"] = VideoViTVariants.Giant,
    };

    public static IReadOnlyCollection<string> Names => s_configs.Keys;

    /// <summary>The configuration of a named size; unknown names list the known ones.</summary>
    public static VideoViTConfig Get(string name) =>
        s_configs.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentException($"unknown model '{name}'; known: {string.Join(", ", s_configs.Keys)}", nameof(name));

    /// <summary>A pretraining-style encoder of a named size, with optional overrides (e.g. <c>c =&gt; c with { NumFrames = 8 }</c>).</summary>
    public static VideoViTEncoder Create(string name, Func<VideoViTConfig, VideoViTConfig>? overrides = null) =>
        new(Resolve(name, overrides));

    public static VideoViTClassifier CreateClassifier(string name, int numClasses, Func<VideoViTConfig, VideoViTConfig>? overrides = null, double initScale = 0.001) =>
        new(Resolve(name, overrides), numClasses, initScale);

    public static VideoViTConfig Resolve(string name, Func<VideoViTConfig, VideoViTConfig>? overrides = null)
    {
        var config = Get(name);
        return overrides is null ? config : overrides(config);
    }
}

/// <summary>The sizes of methods.md §1, plus two small ones for tests and CPU runs.</summary>
public static class VideoViTVariants
{
    /// <summary>For tests: dim 64, depth 2, 2 heads.</summary>
    public static VideoViTConfig Micro => new() { Name = "vit_micro", EmbedDim = 64, Depth = 2, NumHeads = 2 };

    public static VideoViTConfig Tiny => new() { Name = "vit_tiny", EmbedDim = 192, Depth = 12, NumHeads = 3 };

    public static VideoViTConfig Small => new() { Name = "vit_small", EmbedDim = 384, Depth = 12, NumHeads = 6 };

    public static VideoViTConfig Base => new() { Name = "vit_base", EmbedDim = 768, Depth = 12, NumHeads = 12 };

    public static VideoViTConfig Large => new() { Name = "vit_large", EmbedDim = 1024, Depth = 24, NumHeads = 16 };

    public static VideoViTConfig Huge => new() { Name = "vit_huge", EmbedDim = 1280, Depth = 32, NumHeads = 16 };

    /// <summary>VideoMAE V2's ViT-g/14: mlp ratio 48/11 gives a hidden width of 6144.</summary>
    public static VideoViTConfig Giant => new() { Name = "vit_giant", EmbedDim = 1408, Depth = 40, NumHeads = 16, MlpRatio = 48.0 / 11, PatchSize = 14 };
}
