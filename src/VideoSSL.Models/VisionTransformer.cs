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

    /// <summary>One bias over all of q, k and v (<c>qkv.bias</c>), as timm and V-JEPA (config value <c>qkv</c>).</summary>
    Qkv,

    None,
}

/// <summary>How token positions enter the model (config key <c>model.pos_embed</c>).</summary>
public enum PositionEmbedding
{
    /// <summary>VideoMAE: fixed 1-D sinusoid over the flat token index, interleaved sin/cos, not saved.</summary>
    Sinusoid1d,

    /// <summary>V-JEPA: fixed 3-D sincos table ([sin…, cos…] per axis), saved as <c>pos_embed</c> in the state_dict.</summary>
    Sincos3d,

    /// <summary>V-JEPA 2: no table; q and k of every attention layer are rotated by their (t, h, w) position.</summary>
    Rope3d,

    None,
}

/// <summary>Which elements the 3-D RoPE rotates together (config key <c>model.rope</c>).</summary>
public enum RopePairing
{
    /// <summary>
    /// vjepa2 rotate_queries_or_keys: frequencies repeated as [f0..f(d/2−1), f0..f(d/2−1)] while the rotation
    /// pairs adjacent elements, so element i uses frequency i mod d/2 (what the published checkpoints learned).
    /// </summary>
    Official,

    /// <summary>Frequencies repeat-interleaved ([f0, f0, f1, f1, …]): each adjacent pair is a true rotation (vjepa2 PR #15).</summary>
    Textbook,
}

/// <summary>How tokens attend across space and time (config key <c>model.space_time</c>).</summary>
public enum SpaceTimeAttention
{
    /// <summary>VideoMAE / V-JEPA: every token attends to every other (tubelet tokens, no CLS).</summary>
    Joint,

    /// <summary>TimeSformer / SVT: temporal then spatial attention per block, a CLS token, one token per frame and patch (<see cref="DividedViT"/>).</summary>
    Divided,
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
    public PositionEmbedding PosEmbed { get; init; } = PositionEmbedding.Sinusoid1d;
    public RopePairing Rope { get; init; } = RopePairing.Official;
    public SpaceTimeAttention SpaceTime { get; init; } = SpaceTimeAttention.Joint;

    /// <summary>
    /// V-JEPA's <c>uniform_power</c>: each of t, h, w gets 2·ceil(D/6) dims of the 3-D sincos table (else D/2, D/4, D/4).
    /// </summary>
    public bool UniformPower { get; init; } = true;

    /// <summary>Weight init: <c>xavier</c> (VideoMAE pretraining) or <c>jepa</c> (trunc_normal 0.02, proj/fc2 of block l divided by sqrt(2l)).</summary>
    public string Init { get; init; } = "xavier";

    /// <summary>Stochastic depth at the last block; rates rise linearly from 0 at the first (0 in pretraining).</summary>
    public double DropPathRate { get; init; }

    /// <summary>Recompute each block's activations in backward instead of keeping them (<see cref="ActivationCheckpoint"/>).</summary>
    public bool GradCheckpointing { get; init; }

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
        Require(SpaceTime == SpaceTimeAttention.Joint || TubeletSize == 1, $"divided space-time attention embeds each frame on its own: tubelet size must be 1, got {TubeletSize}");
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
        // V-JEPA's table interpolates to any whole grid of tubelets and patches (jepa's PatchEmbed3D takes any size);
        // the other position schemes are built for the config's grid only.
        var anyGrid = _config.PosEmbed == PositionEmbedding.Sincos3d && shape.Length == 5 && shape[1] == _config.InChannels
            && shape[2] % _config.TubeletSize == 0 && shape[3] % _config.PatchSize == 0 && shape[4] % _config.PatchSize == 0;
        if (!anyGrid && (shape.Length != 5 || shape[1] != _config.InChannels || shape[2] != _config.NumFrames || shape[3] != _config.ImgSize || shape[4] != _config.ImgSize))
        {
            throw new ArgumentException(
                $"model '{_config.Name}' expects clips [B, {_config.InChannels}, {_config.NumFrames}, {_config.ImgSize}, {_config.ImgSize}], got [{string.Join(", ", shape)}]");
        }
        using var scope = Torch.NewScope();
        var x = Proj.Forward(clip).Flatten(2).Transpose(1, 2);
        return scope.MoveToOuter(x);
    }
}

/// <summary>
/// Multi-head self-attention with VideoMAE's or jepa's bias layout (see <see cref="QkvBiasStyle"/>), optionally
/// rotating q and k by 3-D RoPE at the given token positions.
/// </summary>
public sealed class Attention : Module
{
    private readonly int _numHeads;

    public Attention(int dim, int numHeads, QkvBiasStyle biasStyle, Rope3d? rope = null)
    {
        _numHeads = numHeads;
        Rope = rope;
        Qkv = Child("qkv", new Linear(dim, 3 * dim, bias: biasStyle == QkvBiasStyle.Qkv));
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
    public Rope3d? Rope { get; }

    /// <summary>
    /// Scale the scores, softmax((q·kᵀ)·scale), as TimeSformer's Attention, instead of the query first; on CPU the
    /// math is then written out that way (same values to the last bit as the official code), on CUDA SDPA runs.
    /// </summary>
    public bool ScaleScores { get; init; }

    /// <summary>[B, N, C] → [B, N, C]. <paramref name="positions"/> [B, N] are the tokens' original indices (RoPE only; default 0..N−1).</summary>
    /// <param name="ropeTables">The forward's RoPE tables, shared by its blocks (all rotate at the same positions); null = built here.</param>
    public Tensor Forward(Tensor x, Tensor? positions = null, RopeTables? ropeTables = null)
    {
        using var scope = Torch.NewScope();
        var (b, n, c) = (x.Size(0), x.Size(1), x.Size(2));
        var bias = QBias is not null && VBias is not null
            ? Torch.Cat([QBias.Value, Torch.ZerosLike(VBias.Value), VBias.Value]) // k gets no bias, as the official code
            : Qkv.Bias?.Value;
        var qkv = Torch.Linear(x, Qkv.Weight, bias).Reshape(b, n, 3, _numHeads, c / _numHeads).Permute(2, 0, 3, 1, 4); // [3, B, H, N, hd]
        var (q, k, v) = (qkv.Select(0, 0), qkv.Select(0, 1), qkv.Select(0, 2));
        if (Rope is not null)
        {
            var table = ropeTables is null
                ? Rope.Angles(positions ?? Torch.Arange(n, device: x.Device).Unsqueeze(0), q.Dtype)
                : ropeTables.Angles(Rope, positions, n, q.Dtype, x.Device);
            q = Rope.Apply(q, table);
            k = Rope.Apply(k, table);
        }
        var attended = ScaleScores && !x.Device.IsCuda
            ? q.MatMul(k.Transpose(-2, -1)).Mul(Math.Pow(c / _numHeads, -0.5)).Softmax(-1).MatMul(v)
            : Torch.ScaledDotProductAttention(q, k, v); // [B, H, N, hd]
        var y = Proj.Forward(attended.Transpose(1, 2).Reshape(b, n, c));
        return scope.MoveToOuter(y);
    }
}

/// <summary>
/// 3-D rotary position embedding as vjepa2's RoPEAttention (src/models/utils/modules.py): each head's dim is split
/// [t | h | w | rest] with 2·floor(floor(hd/3)/2) dims per axis; a token's (t, h, w) come from its ORIGINAL index
/// on a grid of <see cref="GridHeight"/> × <see cref="GridWidth"/>; the rest is not rotated.
/// </summary>
public sealed class Rope3d
{
    public Rope3d(int headDim, int gridHeight, int gridWidth, RopePairing pairing)
    {
        HeadDim = headDim;
        AxisDim = 2 * (headDim / 3 / 2);
        GridHeight = gridHeight;
        GridWidth = gridWidth;
        Pairing = pairing;
        if (AxisDim == 0)
        {
            throw new ArgumentException($"3-D RoPE needs a head dim of at least 6, got {headDim}");
        }
    }

    public int HeadDim { get; }
    public int AxisDim { get; }
    public int GridHeight { get; }
    public int GridWidth { get; }
    public RopePairing Pairing { get; }

    // The rotated width: the whole head when it is even (the unrotated rest gets cos 1, sin 0, which leaves it exactly as
    // it is), else the three axis parts only, the odd rest concatenated back after the rotation.
    private int Rotated => HeadDim % 2 == 0 ? HeadDim : 3 * AxisDim;

    /// <summary>
    /// cos and sin for positions [B, N], each [B, 1, N, w] in <paramref name="dtype"/>: [t | h | w | rest] along the
    /// last dim, w the whole head dim when it is even (rest: cos 1, sin 0).
    /// </summary>
    public (Tensor Cos, Tensor Sin) Angles(Tensor positions, ScalarType dtype)
    {
        using var scope = Torch.NewScope();
        var perFrame = (long)GridHeight * GridWidth;
        // Integer division as the official _get_frame_pos / _get_height_pos, in float64 (exact for any token index).
        var ids = positions.To(ScalarType.Float64);
        var t = ids.FloorDivide(perFrame);
        var rest = ids - t.Mul(perFrame);
        var h = rest.FloorDivide(GridWidth);
        var w = rest - h.Mul(GridWidth);
        var half = AxisDim / 2;
        // omega = 1 / 10000^(i / (d/2)) in the activations' dtype, as the official code builds it from x.dtype.
        var omega = Torch.Arange(0, half, 1, ScalarType.Float32, ids.Device).To(dtype).Div(half / 1.0);
        omega = Torch.Full([half], 10000.0, dtype, ids.Device).Pow(omega).Reciprocal();
        var cosParts = new List<Tensor>(7);
        var sinParts = new List<Tensor>(7);
        foreach (var axis in new[] { t, h, w })
        {
            var freq = axis.To(dtype).Unsqueeze(-1) * omega; // [B, N, d/2]
            var (sin, cos) = (freq.Sin(), freq.Cos());
            if (Pairing == RopePairing.Official)
            {
                cosParts.AddRange([cos, cos]);
                sinParts.AddRange([sin, sin]);
            }
            else
            {
                cosParts.Add(cos.RepeatInterleave(2, -1));
                sinParts.Add(sin.RepeatInterleave(2, -1));
            }
        }
        if (Rotated > 3 * AxisDim)
        {
            var shape = new long[] { positions.Size(0), positions.Size(1), Rotated - (3L * AxisDim) };
            cosParts.Add(Torch.Ones(shape, dtype, ids.Device));
            sinParts.Add(Torch.Zeros(shape, dtype, ids.Device));
        }
        return (scope.MoveToOuter(Torch.Cat(cosParts, -1).Unsqueeze(1)), scope.MoveToOuter(Torch.Cat(sinParts, -1).Unsqueeze(1)));
    }

    /// <summary>
    /// Rotates the t, h, w parts of q or k [B, H, N, hd]: x·cos + rot(x)·sin with rot pairing adjacent elements
    /// (−x1, x0), as vjepa2's rotate_queries_or_keys does per axis; the pairs never straddle two axes (each part is even),
    /// so one rotation over the concatenated tables gives the same elementwise products.
    /// </summary>
    public Tensor Apply(Tensor x, (Tensor Cos, Tensor Sin) angles)
    {
        using var scope = Torch.NewScope();
        var part = Rotated == HeadDim ? x : x.Narrow(-1, 0, Rotated);
        var pairs = part.Reshape([.. part.Shape[..^1], Rotated / 2, 2]);
        var rotated = Torch.Stack([pairs.Select(-1, 1).Neg(), pairs.Select(-1, 0)], -1).Flatten(-2);
        var y = part * angles.Cos + rotated * angles.Sin;
        if (Rotated < HeadDim)
        {
            y = Torch.Cat([y, x.Narrow(-1, Rotated, HeadDim - Rotated)], -1);
        }
        return scope.MoveToOuter(y);
    }
}

/// <summary>
/// The RoPE tables of one forward pass. vjepa2's RoPEAttention builds cos and sin from the positions in every block;
/// the blocks of one module share positions, head width and dtype, so the tables are built once per forward here
/// (same values): on CUDA, where V-JEPA 2's step is bound by host-side op dispatch, each block's ~35 table ops cost
/// host time. Holds the tables until disposed, at the end of the forward; autograd keeps what backward needs.
/// </summary>
public sealed class RopeTables : IDisposable
{
    private readonly Dictionary<(int HeadDim, int GridHeight, int GridWidth, RopePairing Pairing, ScalarType Dtype), (Tensor Cos, Tensor Sin)> _tables = [];

    /// <summary>The tables for <paramref name="positions"/> (null = 0..<paramref name="tokens"/>−1), which must be the same for every call.</summary>
    public (Tensor Cos, Tensor Sin) Angles(Rope3d rope, Tensor? positions, long tokens, ScalarType dtype, Device device)
    {
        var key = (rope.HeadDim, rope.GridHeight, rope.GridWidth, rope.Pairing, dtype);
        if (!_tables.TryGetValue(key, out var table))
        {
            using var scope = Torch.NewScope();
            var (cos, sin) = rope.Angles(positions ?? Torch.Arange(tokens, device: device).Unsqueeze(0), dtype);
            table = (cos.DetachFromScope(), sin.DetachFromScope());
            _tables[key] = table;
        }
        return table;
    }

    public void Dispose()
    {
        foreach (var (cos, sin) in _tables.Values)
        {
            cos.Dispose();
            sin.Dispose();
        }
        _tables.Clear();
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
        : this(dim, new Attention(dim, numHeads, biasStyle), mlpHidden, dropPath, eps)
    {
    }

    /// <summary>A block around a given attention (e.g. one with 3-D RoPE).</summary>
    public Block(int dim, Attention attention, int mlpHidden, double dropPath, double eps)
    {
        Norm1 = Child("norm1", new LayerNorm(dim, eps));
        Attn = Child("attn", attention);
        DropPath = Child("drop_path", new DropPath(dropPath));
        Norm2 = Child("norm2", new LayerNorm(dim, eps));
        Mlp = Child("mlp", new Mlp(dim, mlpHidden));
    }

    public LayerNorm Norm1 { get; }
    public Attention Attn { get; }
    public DropPath DropPath { get; }
    public LayerNorm Norm2 { get; }
    public Mlp Mlp { get; }

    /// <param name="positions">Original token indices [B, N], for attention with RoPE.</param>
    /// <param name="ropeTables">RoPE tables shared by the blocks of one forward (see <see cref="RopeTables"/>).</param>
    public Tensor Forward(Tensor x, Tensor? positions = null, RopeTables? ropeTables = null)
    {
        // A scope per block frees the temporaries autograd does not keep as soon as the block is done.
        using var scope = Torch.NewScope();
        var h = x + DropPath.Forward(Attn.Forward(Norm1.Forward(x), positions, ropeTables));
        h = h + DropPath.Forward(Mlp.Forward(Norm2.Forward(h)));
        return scope.MoveToOuter(h);
    }
}

/// <summary>Fixed position tables.</summary>
public static class PositionTables
{
    /// <summary>
    /// jepa's interpolate_pos_encoding (src/models/vision_transformer.py) for a clip whose token grid differs from the
    /// one the table was built for: [1, N, D] → [N_t, N_h, N_w] → F.interpolate(scale_factor=(T/N_t, H/N_h, W/N_w),
    /// mode='trilinear') → [1, T·H·W, D]. The output size is floor(N · scale) as F.interpolate computes it, and the
    /// kernel maps coordinates with the scale factors themselves.
    /// </summary>
    public static Tensor InterpolateJepa(Tensor table, TokenGrid from, TokenGrid to)
    {
        var dim = table.Size(-1);
        if (table.Size(1) != from.Count)
        {
            throw new ArgumentException($"position table has {table.Size(1)} rows, not the {from.Frames} x {from.Height} x {from.Width} grid's {from.Count}");
        }
        var scales = ((double)to.Frames / from.Frames, (double)to.Height / from.Height, (double)to.Width / from.Width);
        var size = ((long)Math.Floor(from.Frames * scales.Item1), (long)Math.Floor(from.Height * scales.Item2), (long)Math.Floor(from.Width * scales.Item3));
        if (size != (to.Frames, to.Height, to.Width))
        {
            throw new ArgumentException($"interpolating a {from.Frames} x {from.Height} x {from.Width} position grid by its scale factors gives {size}, not {to.Frames} x {to.Height} x {to.Width}");
        }
        using var scope = Torch.NewScope();
        var grid = table.Reshape(1, from.Frames, from.Height, from.Width, dim).Permute(0, 4, 1, 2, 3);
        var resized = Torch.InterpolateTrilinear(grid, size.Item1, size.Item2, size.Item3, alignCorners: false, scales);
        return scope.MoveToOuter(resized.Permute(0, 2, 3, 4, 1).Reshape(1, -1, dim));
    }

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

    /// <summary>
    /// jepa's get_3d_sincos_pos_embed (src/models/utils/pos_embs.py), [T'·H'·W', d] t-major: per axis a 1-D table
    /// <c>[sin(pos·ω)…, cos(pos·ω)…]</c> (not interleaved) with ω_i = 1/10000^(i/(d'/2)); axes concatenated [t, h, w]
    /// and cut to d. With uniform power each axis gets 2·ceil(d/6) dims, else t d/2, h and w d/4. Double, then float.
    /// </summary>
    public static float[] Sincos3d(TokenGrid grid, int d, bool uniformPower)
    {
        var (dt, dh, dw) = uniformPower
            ? ((int)Math.Ceiling(d / 6.0) * 2, (int)Math.Ceiling(d / 6.0) * 2, (int)Math.Ceiling(d / 6.0) * 2)
            : (d / 2, d / 4, d / 4);
        var table = new float[(long)grid.Count * d];
        var row = new double[dt + dh + dw];
        for (var n = 0; n < grid.Count; n++)
        {
            var (t, h, w) = (n / grid.PerFrame, n % grid.PerFrame / grid.Width, n % grid.Width);
            Fill(row, 0, dt, t);
            Fill(row, dt, dh, h);
            Fill(row, dt + dh, dw, w);
            for (var j = 0; j < d; j++)
            {
                table[((long)n * d) + j] = (float)row[j];
            }
        }
        return table;

        static void Fill(double[] row, int offset, int dim, int pos)
        {
            var half = dim / 2;
            for (var i = 0; i < half; i++)
            {
                var omega = 1.0 / Math.Pow(10000, i / (dim / 2.0));
                row[offset + i] = Math.Sin(pos * omega);
                row[offset + half + i] = Math.Cos(pos * omega);
            }
        }
    }
}

/// <summary>
/// What probes and SVT read from a video backbone, joint (<see cref="VideoViTEncoder"/>) or divided (<see cref="DividedViT"/>).
/// </summary>
public abstract class VideoEncoder : Module
{
    public abstract VideoViTConfig Config { get; }

    public int EmbedDim => Config.EmbedDim;

    /// <summary>Every token after the final norm, [B, N, D] (attentive probes).</summary>
    public abstract Tensor Tokens(Tensor clip);

    /// <summary>One feature per clip, [B, D] (linear probes, kNN): mean-pooled tokens of a joint ViT, the CLS token of a divided one.</summary>
    public abstract Tensor ClipFeature(Tensor clip);

    /// <summary>Output and the raw outputs (before the final norm) of the last <paramref name="lastBlocks"/> blocks.</summary>
    public abstract (Tensor Output, Tensor[] Blocks) ForwardIntermediates(Tensor clip, int lastBlocks, Tensor? visibleIndices = null);

    /// <summary>Replaces a loaded position table built for another grid by the model's own where the encoder's table is a fixed function of the grid; null when nothing was replaced.</summary>
    public virtual string? KeepOwnPositionTable(IDictionary<string, Tensor> state) => null;
}

/// <summary>
/// The video ViT backbone: <c>patch_embed</c>, fixed sinusoid position table (not saved), <c>blocks</c>, and a
/// final <c>norm</c> (the pretraining encoder has it; the mean-pooling classifier has <c>fc_norm</c> instead).
/// Runs on all tokens or on a visible subset given by ascending indices [B, Nvis].
/// </summary>
public class VideoViTEncoder : VideoEncoder
{
    private const string PosEmbedName = "pos_embed";

    public VideoViTEncoder(VideoViTConfig config)
        : this(config, finalNorm: true)
    {
    }

    protected VideoViTEncoder(VideoViTConfig config, bool finalNorm)
    {
        config.Validate();
        if (config.SpaceTime == SpaceTimeAttention.Divided)
        {
            throw new ArgumentException($"model '{config.Name}' has divided space-time attention: it is a DividedViT, not a joint encoder");
        }
        Config = config;
        PatchEmbed = Child("patch_embed", new PatchEmbed3d(config));
        switch (config.PosEmbed)
        {
            case PositionEmbedding.Sinusoid1d:
                Buffer(PosEmbedName, PositionTables.Sinusoid1dTensor(config.NumTokens, config.EmbedDim), persistent: false);
                break;
            case PositionEmbedding.Sincos3d:
                // jepa keeps it as a frozen nn.Parameter, so it is in every checkpoint's state_dict.
                Buffer(PosEmbedName, Tensor.From(PositionTables.Sincos3d(config.Grid, config.EmbedDim, config.UniformPower), 1, config.NumTokens, config.EmbedDim));
                break;
        }
        var blocks = new List<Block>(config.Depth);
        for (var i = 0; i < config.Depth; i++)
        {
            blocks.Add(CreateBlock(config.EmbedDim, config.NumHeads, config.MlpHiddenDim, config, DropPathRate(config, i), config.Grid.Height, config.Grid.Width));
        }
        Blocks = Child("blocks", new ModuleList<Block>(blocks));
        Norm = finalNorm ? Child("norm", new LayerNorm(config.EmbedDim, config.LayerNormEps)) : null;
        if (config.Init == "jepa")
        {
            ModelInit.Jepa(this, Blocks);
        }
        else
        {
            ModelInit.XavierLinears(this);
        }
    }

    public override VideoViTConfig Config { get; }
    public PatchEmbed3d PatchEmbed { get; }
    public ModuleList<Block> Blocks { get; }
    public LayerNorm? Norm { get; }

    public override Tensor Tokens(Tensor clip) => Forward(clip);

    /// <summary>The mean of the tokens (after the final norm), as VideoMAE's linear probes pool.</summary>
    public override Tensor ClipFeature(Tensor clip)
    {
        using var scope = Torch.NewScope();
        return scope.MoveToOuter(Forward(clip).Mean([1]));
    }

    /// <summary>The fixed position table [1, N, D], or null without one (looked up by name: <see cref="Module.To"/> replaces buffers).</summary>
    public Tensor? PosEmbed => NamedBuffers().FirstOrDefault(b => b.Key == PosEmbedName).Value;

    /// <summary>
    /// Replaces in <paramref name="state"/> a V-JEPA <c>pos_embed</c> built for another token grid by this model's own
    /// table, as jepa's evals load a checkpoint (evals/video_classification_frozen/eval.py load_pretrained: a key of
    /// another shape takes the model's value). The table is a fixed function of the grid, so the kept one is what jepa
    /// builds for this size. <paramref name="state"/> must be a working copy whose values the caller does not dispose
    /// (the model's own tensor goes in). Returns a note for the load message, or null when nothing was replaced.
    /// </summary>
    public override string? KeepOwnPositionTable(IDictionary<string, Tensor> state)
    {
        if (Config.PosEmbed != PositionEmbedding.Sincos3d || PosEmbed is not { } own
            || !state.TryGetValue(PosEmbedName, out var loaded) || loaded.Shape.SequenceEqual(own.Shape))
        {
            return null;
        }
        state[PosEmbedName] = own;
        return $"pos_embed [{string.Join(", ", loaded.Shape)}] is for another clip size: kept this model's sincos table [{string.Join(", ", own.Shape)}], as jepa's evals do";
    }

    /// <summary>A block of width <paramref name="dim"/> with the attention the config asks for (RoPE on a grid of gridHeight × gridWidth).</summary>
    public static Block CreateBlock(int dim, int heads, int mlpHidden, VideoViTConfig config, double dropPath, int gridHeight, int gridWidth)
    {
        var rope = config.PosEmbed == PositionEmbedding.Rope3d ? new Rope3d(dim / heads, gridHeight, gridWidth, config.Rope) : null;
        return new Block(dim, new Attention(dim, heads, config.QkvBias, rope), mlpHidden, dropPath, config.LayerNormEps);
    }

    /// <summary>Stochastic depth of block i: linspace(0, rate, depth)[i].</summary>
    public static double DropPathRate(VideoViTConfig config, int block) =>
        config.Depth <= 1 ? 0 : config.DropPathRate * block / (config.Depth - 1);

    /// <summary>
    /// Patch embedding plus position table, optionally gathered at visible indices: [B, N or Nvis, D]. A clip of
    /// another size than the config's gets V-JEPA's table interpolated to its grid, as jepa's forward does.
    /// </summary>
    public Tensor Embed(Tensor clip, Tensor? visibleIndices = null)
    {
        using var scope = Torch.NewScope();
        var x = PatchEmbed.Forward(clip);
        if (PosEmbed is { } pos)
        {
            var grid = new TokenGrid((int)(clip.Size(2) / Config.TubeletSize), (int)(clip.Size(3) / Config.PatchSize), (int)(clip.Size(4) / Config.PatchSize));
            if (grid != Config.Grid && Config.PosEmbed == PositionEmbedding.Sincos3d)
            {
                pos = PositionTables.InterpolateJepa(pos, Config.Grid, grid);
            }
            x = x + (pos.Dtype == x.Dtype ? pos : pos.To(x.Dtype));
        }
        if (visibleIndices is not null)
        {
            x = GatherTokens(x, visibleIndices);
        }
        return scope.MoveToOuter(x);
    }

    /// <summary>Token features after the blocks and the final norm (if any): [B, N or Nvis, D].</summary>
    public Tensor Forward(Tensor clip, Tensor? visibleIndices = null) => ForwardIntermediates(clip, 0, visibleIndices).Output;

    private readonly Dictionary<TokenGrid, Tensor> _tablesBySize = [];

    /// <summary>
    /// Token features [B, N, D] for a clip of another frame count or size than the config's (multiples of tubelet
    /// and patch), as SVT's views: the fixed position table is computed for that grid (VideoMAE's 1-D sinusoid for N
    /// tokens, as its fine-tuning at other sizes; V-JEPA's 3-D sincos for T' × H' × W'). Not for RoPE, whose blocks
    /// are built for one grid.
    /// </summary>
    public Tensor ForwardAnySize(Tensor clip)
    {
        var c = Config;
        if (clip.Dim != 5 || clip.Size(1) != c.InChannels || clip.Size(2) % c.TubeletSize != 0 || clip.Size(3) % c.PatchSize != 0 || clip.Size(4) % c.PatchSize != 0)
        {
            throw new ArgumentException($"model '{c.Name}' takes clips [B, {c.InChannels}, T, H, W] with T a multiple of {c.TubeletSize} and H, W of {c.PatchSize}, got [{string.Join(", ", clip.Shape)}]");
        }
        var grid = new TokenGrid((int)clip.Size(2) / c.TubeletSize, (int)clip.Size(3) / c.PatchSize, (int)clip.Size(4) / c.PatchSize);
        if (grid == c.Grid)
        {
            return Forward(clip);
        }
        if (c.PosEmbed == PositionEmbedding.Rope3d)
        {
            throw new ArgumentException($"model '{c.Name}' uses 3-D RoPE built for a {c.Grid.Frames} x {c.Grid.Height} x {c.Grid.Width} grid; it cannot take a {grid.Frames} x {grid.Height} x {grid.Width} clip");
        }
        using var scope = Torch.NewScope();
        var x = PatchEmbed.Proj.Forward(clip).Flatten(2).Transpose(1, 2);
        if (c.PosEmbed is PositionEmbedding.Sinusoid1d or PositionEmbedding.Sincos3d)
        {
            if (!_tablesBySize.TryGetValue(grid, out var table))
            {
                var values = c.PosEmbed == PositionEmbedding.Sinusoid1d ? PositionTables.Sinusoid1d(grid.Count, c.EmbedDim) : PositionTables.Sincos3d(grid, c.EmbedDim, c.UniformPower);
                table = Tensor.From(values, 1, grid.Count, c.EmbedDim).To(clip.Device).DetachFromScope();
                _tablesBySize[grid] = table;
            }
            x = x + table.To(x.Dtype);
        }
        using var ropeTables = c.PosEmbed == PositionEmbedding.Rope3d && !Config.GradCheckpointing ? new RopeTables() : null;
        x = Config.GradCheckpointing
            ? ActivationCheckpoint.Run(x, Blocks.Count, (i, h) => Blocks[i].Forward(h))
            : Blocks.Aggregate(x, (h, block) => block.Forward(h, null, ropeTables));
        return scope.MoveToOuter(Norm is null ? x : Norm.Forward(x));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var table in _tablesBySize.Values)
            {
                table.Dispose();
            }
            _tablesBySize.Clear();
        }
        base.Dispose(disposing);
    }

    /// <summary>
    /// Forward that also returns the raw outputs (before the final norm) of the last <paramref name="lastBlocks"/>
    /// blocks, in block order, for probes that read several layers.
    /// </summary>
    public override (Tensor Output, Tensor[] Blocks) ForwardIntermediates(Tensor clip, int lastBlocks, Tensor? visibleIndices = null)
    {
        if (lastBlocks < 0 || lastBlocks > Blocks.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(lastBlocks), $"asked for the last {lastBlocks} blocks of {Blocks.Count}");
        }
        var x = Embed(clip, visibleIndices);
        if (Config.GradCheckpointing && lastBlocks == 0 && Torch.IsGradEnabled)
        {
            using var scope = Torch.NewScope();
            var blocksOut = ActivationCheckpoint.Run(x, Blocks.Count, (i, h) => Blocks[i].Forward(h, visibleIndices));
            return (scope.MoveToOuter(Norm is null ? blocksOut : Norm.Forward(blocksOut)), []);
        }
        var kept = new List<Tensor>(lastBlocks);
        using var ropeTables = Config.PosEmbed == PositionEmbedding.Rope3d ? new RopeTables() : null;
        for (var i = 0; i < Blocks.Count; i++)
        {
            var next = Blocks[i].Forward(x, visibleIndices, ropeTables);
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
public sealed class VideoViTClassifier : VideoViTEncoder, IVideoClassifier
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
    public StateDictReport LoadPretrainedEncoder(IReadOnlyDictionary<string, Tensor> state) => VideoClassifiers.LoadBackbone(this, state);
}

/// <summary>A fine-tuning model: a backbone with a classification head, joint (<see cref="VideoViTClassifier"/>) or divided (<see cref="DividedViTClassifier"/>).</summary>
public interface IVideoClassifier
{
    VideoViTConfig Config { get; }

    int NumClasses { get; }

    Linear Head { get; }

    /// <summary>Class logits [B, classes].</summary>
    Tensor Classify(Tensor clip);

    /// <summary>Loads a pretraining checkpoint's backbone; the head (and fc_norm) keep their init. Throws if a backbone weight is missing or mis-shaped.</summary>
    StateDictReport LoadPretrainedEncoder(IReadOnlyDictionary<string, Tensor> state);
}

/// <summary>Building and initialising classifiers by config.</summary>
public static class VideoClassifiers
{
    /// <summary>The classifier for a config: TimeSformer's for divided space-time encoders, VideoMAE's otherwise.</summary>
    public static VideoEncoder Create(VideoViTConfig config, int numClasses, double initScale = 0.001, double headDropRate = 0) =>
        config.SpaceTime == SpaceTimeAttention.Divided
            ? new DividedViTClassifier(config, numClasses, headDropRate)
            : new VideoViTClassifier(config, numClasses, initScale, headDropRate);

    /// <summary>
    /// run_class_finetuning.py's load: strips <c>encoder.</c> / <c>backbone.</c>, ignores what the classifier has no
    /// place for (decoder, the encoder's final norm under mean pooling), and leaves fc_norm and head as initialised.
    /// </summary>
    public static StateDictReport LoadBackbone(Module model, IReadOnlyDictionary<string, Tensor> state)
    {
        var renamed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in state)
        {
            var key = name.StartsWith("encoder.", StringComparison.Ordinal) ? name["encoder.".Length..]
                : name.StartsWith("backbone.", StringComparison.Ordinal) ? name["backbone.".Length..]
                : name;
            renamed[key] = tensor;
        }
        (model as VideoEncoder)?.KeepOwnPositionTable(renamed);
        var report = model.LoadStateDict(renamed, strict: false);
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

    /// <summary>
    /// jepa's VisionTransformer / VisionTransformerPredictor init: Linear and Conv3d weights trunc_normal(0.02)
    /// (timm bounds ±2), biases 0, LayerNorm 1/0, then attn.proj and mlp.fc2 of block l divided by sqrt(2l), l from 1.
    /// </summary>
    public static void Jepa(Module root, IReadOnlyList<Block> blocks, double std = 0.02)
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
            else if (module is Conv3d conv)
            {
                Init.TruncNormal_(conv.Weight, std);
                if (conv.Bias is not null)
                {
                    Init.Zeros_(conv.Bias);
                }
            }
            else if (module is LayerNorm norm)
            {
                ResetNorm(norm);
            }
        }
        using var noGrad = Torch.NoGrad();
        for (var l = 0; l < blocks.Count; l++)
        {
            blocks[l].Attn.Proj.Weight.Value.Div_(Math.Sqrt(2.0 * (l + 1)));
            blocks[l].Mlp.Fc2.Weight.Value.Div_(Math.Sqrt(2.0 * (l + 1)));
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
        ["vit_giant_xformers"] = VideoViTVariants.GiantXformers,
        ["vit_micro_divst"] = VideoViTVariants.Divided(VideoViTVariants.Micro),
        ["vit_small_divst"] = VideoViTVariants.Divided(VideoViTVariants.Small),
        ["vit_base_divst"] = VideoViTVariants.Divided(VideoViTVariants.Base),
    };

    public static IReadOnlyCollection<string> Names => s_configs.Keys;

    /// <summary>The configuration of a named size; unknown names list the known ones.</summary>
    public static VideoViTConfig Get(string name) =>
        s_configs.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentException($"unknown model '{name}'; known: {string.Join(", ", s_configs.Keys)}", nameof(name));

    /// <summary>The backbone a config describes: <see cref="DividedViT"/> for divided space-time attention, else the joint <see cref="VideoViTEncoder"/>.</summary>
    public static VideoEncoder CreateBackbone(VideoViTConfig config) =>
        config.SpaceTime == SpaceTimeAttention.Divided ? new DividedViT(config) : new VideoViTEncoder(config);

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

    /// <summary>V-JEPA 2's ViT-g (vjepa2 src/models/vision_transformer.py vit_giant_xformers): 22 heads of 64, patch 16.</summary>
    /// <summary>
    /// TimeSformer's divided space-time ViT of the same width (kahnchana/svt models/timesformer.py
    /// get_vit_base_patch16_224: qkv bias, LayerNorm eps 1e-6, 8 frames of 224 px, patch 16, drop path 0.1).
    /// </summary>
    public static VideoViTConfig Divided(VideoViTConfig size) => size with
    {
        Name = size.Name + "_divst",
        SpaceTime = SpaceTimeAttention.Divided,
        TubeletSize = 1,
        NumFrames = 8,
        QkvBias = QkvBiasStyle.Qkv,
        PosEmbed = PositionEmbedding.None,
        Init = "timesformer",
        DropPathRate = 0.1,
    };

    public static VideoViTConfig GiantXformers => new() { Name = "vit_giant_xformers", EmbedDim = 1408, Depth = 40, NumHeads = 22, MlpRatio = 48.0 / 11, PatchSize = 16 };
}
