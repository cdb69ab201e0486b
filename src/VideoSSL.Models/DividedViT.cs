using VideoSSL.Torch;
using VideoSSL.Torch.NN;

namespace VideoSSL.Models;

// Inside VideoSSL.*, "Torch" names the namespace; this alias makes it name the functional API.
using Torch = VideoSSL.Torch.Torch;

// TimeSformer's divided space-time ViT as SVT uses it (kahnchana/svt models/timesformer.py VisionTransformer with
// attention_type='divided_space_time'). Parameter names are the official ones (cls_token, pos_embed, time_embed,
// patch_embed.proj, blocks.N.{temporal_norm1, temporal_attn, temporal_fc, norm1, attn, norm2, mlp}, norm), so SVT
// and TimeSformer checkpoints load without renaming.

/// <summary>
/// One divided block: temporal attention over the T frames of each patch position (its residual goes through
/// <c>temporal_fc</c>), then spatial attention within each frame with a copy of CLS prepended (CLS's update is the
/// mean over frames), then the MLP. Tokens are CLS then (h w t): space-major, time-minor.
/// </summary>
public sealed class DividedBlock : Module
{
    public DividedBlock(int dim, int numHeads, int mlpHidden, QkvBiasStyle biasStyle, double dropPath, double eps)
    {
        Norm1 = Child("norm1", new LayerNorm(dim, eps));
        // timesformer.py Attention: (q @ kᵀ) * scale, the scale applied to the scores.
        Attn = Child("attn", new Attention(dim, numHeads, biasStyle) { ScaleScores = true });
        TemporalNorm1 = Child("temporal_norm1", new LayerNorm(dim, eps));
        TemporalAttn = Child("temporal_attn", new Attention(dim, numHeads, biasStyle) { ScaleScores = true });
        TemporalFc = Child("temporal_fc", new Linear(dim, dim));
        DropPath = Child("drop_path", new DropPath(dropPath));
        Norm2 = Child("norm2", new LayerNorm(dim, eps));
        Mlp = Child("mlp", new Mlp(dim, mlpHidden));
    }

    public LayerNorm Norm1 { get; }
    public Attention Attn { get; }
    public LayerNorm TemporalNorm1 { get; }
    public Attention TemporalAttn { get; }
    public Linear TemporalFc { get; }
    public DropPath DropPath { get; }
    public LayerNorm Norm2 { get; }
    public Mlp Mlp { get; }

    /// <summary>[B, 1 + N·T, D] → [B, 1 + N·T, D] for N patch positions and T frames.</summary>
    public Tensor Forward(Tensor x, int frames)
    {
        using var scope = Torch.NewScope();
        var (b, d) = (x.Size(0), x.Size(2));
        long t = frames;
        var n = (x.Size(1) - 1) / t;

        // Temporal: 'b (h w t) m -> (b h w) t m' is a reshape (t is innermost). Drop path acts on the (b h w) rows,
        // before temporal_fc, as the official block.
        var patches = x.Slice(1, 1);
        var resTemporal = DropPath.Forward(TemporalAttn.Forward(TemporalNorm1.Forward(patches.Reshape(b * n, t, d))));
        var xt = patches + TemporalFc.Forward(resTemporal.Reshape(b, n * t, d));

        // Spatial: each frame's patches with a copy of CLS in front.
        var initCls = x.Slice(1, 0, 1); // [B, 1, D]
        var cls = initCls.Repeat(1, t, 1).Reshape(b * t, 1, d);
        var xs = xt.Reshape(b, n, t, d).Permute(0, 2, 1, 3).Reshape(b * t, n, d);
        var resSpatial = DropPath.Forward(Attn.Forward(Norm1.Forward(Torch.Cat([cls, xs], 1))));
        var clsUpdate = resSpatial.Select(1, 0).Reshape(b, t, d).Mean([1], keepDim: true); // averaged over frames
        var res = resSpatial.Slice(1, 1).Reshape(b, t, n, d).Permute(0, 2, 1, 3).Reshape(b, n * t, d);

        var h = Torch.Cat([initCls, xt], 1) + Torch.Cat([clsUpdate, res], 1);
        h = h + DropPath.Forward(Mlp.Forward(Norm2.Forward(h)));
        return scope.MoveToOuter(h);
    }
}

/// <summary>
/// TimeSformer's divided space-time ViT: <c>patch_embed.proj</c> (a Conv2d per frame), <c>cls_token</c>,
/// <c>pos_embed</c> [1, 1 + H'·W', D] (spatial, with CLS), <c>time_embed</c> [1, T, D], divided blocks and the final
/// <c>norm</c>. Clips of another size or frame count get the position and time tables resized with legacy nearest
/// interpolation, as the official forward_features does for every view of other shape.
/// </summary>
public class DividedViT : VideoEncoder
{
    public DividedViT(VideoViTConfig config)
    {
        config.Validate();
        if (config.SpaceTime != SpaceTimeAttention.Divided)
        {
            throw new ArgumentException($"model '{config.Name}' is a joint space-time ViT, not a divided one");
        }
        Config = config;
        var side = config.ImgSize / config.PatchSize;
        PatchEmbed = Child("patch_embed", new PatchEmbed2d(config.InChannels, config.EmbedDim, config.PatchSize));
        ClsToken = Param("cls_token", Torch.Zeros([1, 1, config.EmbedDim]));
        PosEmbed = Param("pos_embed", Torch.Zeros([1, 1 + (side * side), config.EmbedDim]));
        TimeEmbed = Param("time_embed", Torch.Zeros([1, config.NumFrames, config.EmbedDim]));
        var blocks = Enumerable.Range(0, config.Depth)
            .Select(i => new DividedBlock(config.EmbedDim, config.NumHeads, config.MlpHiddenDim, config.QkvBias, VideoViTEncoder.DropPathRate(config, i), config.LayerNormEps))
            .ToList();
        Blocks = Child("blocks", new ModuleList<DividedBlock>(blocks));
        Norm = Child("norm", new LayerNorm(config.EmbedDim, config.LayerNormEps));

        // VisionTransformer.__init__: trunc_normal(0.02) on pos_embed and cls_token, every Linear trunc_normal(0.02)
        // with bias 0, LayerNorms 1/0; time_embed stays 0 and patch_embed keeps torch's default init. The temporal_fc
        // loop counts the ModuleList itself as its first 'Block', so EVERY block's temporal_fc ends up zero.
        Init.TruncNormal_(PosEmbed, 0.02);
        Init.TruncNormal_(ClsToken, 0.02);
        ModelInit.TruncNormalLinears(this, 0.02);
        foreach (var block in Blocks)
        {
            Init.Zeros_(block.TemporalFc.Weight);
            Init.Zeros_(block.TemporalFc.Bias!);
        }
    }

    public override VideoViTConfig Config { get; }
    public PatchEmbed2d PatchEmbed { get; }
    public Parameter ClsToken { get; }
    public Parameter PosEmbed { get; }
    public Parameter TimeEmbed { get; }
    public ModuleList<DividedBlock> Blocks { get; }
    public LayerNorm Norm { get; }

    /// <summary>Tokens after the final norm, [B, 1 + N·T, D] (CLS first, then (h w t)), for clips [B, C, T, H, W] of any size and length.</summary>
    public Tensor ForwardTokens(Tensor clip) => ForwardIntermediates(clip, 0).Output;

    public override Tensor Tokens(Tensor clip) => ForwardTokens(clip);

    public override Tensor ClipFeature(Tensor clip) => Forward(clip);

    public override (Tensor Output, Tensor[] Blocks) ForwardIntermediates(Tensor clip, int lastBlocks, Tensor? visibleIndices = null)
    {
        if (visibleIndices is not null)
        {
            throw new ArgumentException($"model '{Config.Name}' (divided space-time) runs on whole clips only");
        }
        if (lastBlocks < 0 || lastBlocks > Blocks.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(lastBlocks), $"asked for the last {lastBlocks} blocks of {Blocks.Count}");
        }
        using var scope = Torch.NewScope();
        var x = Embed(clip);
        var frames = (int)clip.Size(2);
        if (Config.GradCheckpointing && lastBlocks == 0 && Torch.IsGradEnabled)
        {
            var blocksOut = ActivationCheckpoint.Run(x, Blocks.Count, (i, h) => Blocks[i].Forward(h, frames));
            return (scope.MoveToOuter(Norm.Forward(blocksOut)), []);
        }
        var kept = new List<Tensor>(lastBlocks);
        for (var i = 0; i < Blocks.Count; i++)
        {
            var next = Blocks[i].Forward(x, frames);
            if (!kept.Contains(x))
            {
                x.Dispose(); // autograd keeps what backward needs
            }
            x = next;
            if (i >= Blocks.Count - lastBlocks)
            {
                kept.Add(x);
            }
        }
        var output = Norm.Forward(x);
        return (scope.MoveToOuter(output), kept.Select(scope.MoveToOuter).ToArray());
    }

    /// <summary>The normalised CLS token [B, D]: what SVT's heads and linear probes read (forward_features).</summary>
    public Tensor Forward(Tensor clip)
    {
        using var scope = Torch.NewScope();
        return scope.MoveToOuter(ForwardTokens(clip).Select(1, 0));
    }

    /// <summary>Patch, position and time embeddings with CLS in front: [B, 1 + N·T, D].</summary>
    public Tensor Embed(Tensor clip)
    {
        if (clip.Dim != 5 || clip.Size(1) != Config.InChannels)
        {
            throw new ArgumentException($"model '{Config.Name}' expects clips [B, {Config.InChannels}, T, H, W], got [{string.Join(", ", clip.Shape)}]");
        }
        using var scope = Torch.NewScope();
        var (b, t) = (clip.Size(0), clip.Size(2));
        var d = (long)Config.EmbedDim;
        var (x, width) = PatchEmbed.Forward(clip); // [(B T), N, D]
        var n = x.Size(1);
        x = Torch.Cat([ClsToken.Value.To(x.Dtype).Expand(b * t, 1, d), x], 1);
        x = x + PositionTable(n, width, x.Dtype);
        // x[:B, 0]: the official code takes CLS from the first B rows of the (b t) batch (all rows hold the same CLS).
        var cls = x.Slice(0, 0, b).Slice(1, 0, 1);
        var patches = x.Slice(1, 1).Reshape(b, t, n, d).Permute(0, 2, 1, 3).Reshape(b * n, t, d); // '(b t) n m -> (b n) t m'
        patches = patches + TimeTable(t, x.Dtype);
        patches = patches.Reshape(b, n * t, d); // '(b n) t m -> b (n t) m'
        return scope.MoveToOuter(Torch.Cat([cls, patches], 1));
    }

    /// <summary>pos_embed for N patches per frame in rows of <paramref name="width"/>: the stored table, or its nearest resize to (N / width) × width.</summary>
    public Tensor PositionTable(long patches, long width, ScalarType dtype)
    {
        var pos = PosEmbed.Value;
        if (patches + 1 == pos.Size(1))
        {
            return pos.To(dtype);
        }
        using var scope = Torch.NewScope();
        // forward_features takes H = x.size(1) // W with CLS counted in x.size(1): (N + 1) // W = N / W whenever W > 1
        // (at W = 1 the official code fails on the mismatched table; N / W works there too).
        var height = patches / width;
        var side = (int)Math.Sqrt(pos.Size(1) - 1);
        var rows = NearestIndices(side, (int)height);
        var cols = NearestIndices(side, (int)width);
        var index = new long[1 + (height * width)];
        for (var i = 0; i < height; i++)
        {
            for (var j = 0; j < width; j++)
            {
                index[1 + (i * width) + j] = 1 + ((long)rows[i] * side) + cols[j];
            }
        }
        var resized = pos.IndexSelect(1, Tensor.From<long>(index, [index.Length]).To(pos.Device));
        return scope.MoveToOuter(resized.To(dtype));
    }

    /// <summary>time_embed for T frames: the stored table, or its nearest resize.</summary>
    public Tensor TimeTable(long frames, ScalarType dtype)
    {
        var time = TimeEmbed.Value;
        if (frames == time.Size(1))
        {
            return time.To(dtype);
        }
        using var scope = Torch.NewScope();
        var index = NearestIndices((int)time.Size(1), (int)frames).Select(i => (long)i).ToArray();
        var resized = time.IndexSelect(1, Tensor.From<long>(index, [index.Length]).To(time.Device));
        return scope.MoveToOuter(resized.To(dtype));
    }

    /// <summary>
    /// Source index of each output position under F.interpolate(mode='nearest') as libtorch 1.13 computes it
    /// (UpSample.h nearest_idx): identity at the same size, i >> 1 at twice the size, else
    /// min(floor(i · (float)in / out), in − 1) in single precision.
    /// </summary>
    public static int[] NearestIndices(int inSize, int outSize)
    {
        var result = new int[outSize];
        var scale = (float)inSize / outSize;
        for (var i = 0; i < outSize; i++)
        {
            result[i] = outSize == inSize ? i
                : outSize == 2 * inSize ? i >> 1
                : Math.Min((int)MathF.Floor(i * scale), inSize - 1);
        }
        return result;
    }
}

/// <summary>
/// TimeSformer's classifier (timesformer.py VisionTransformer with num_classes > 0, forward(use_head=True)): the
/// divided backbone's normalised CLS token, dropout, then <c>head</c> (trunc_normal 0.02, bias 0, as _init_weights),
/// names at the root as official fine-tuned checkpoints.
/// </summary>
public sealed class DividedViTClassifier : DividedViT, IVideoClassifier
{
    private readonly double _headDropRate;

    public DividedViTClassifier(VideoViTConfig config, int numClasses, double headDropRate = 0)
        : base(config)
    {
        if (numClasses <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(numClasses), $"need at least one class, got {numClasses}");
        }
        NumClasses = numClasses;
        _headDropRate = headDropRate;
        Head = Child("head", new Linear(config.EmbedDim, numClasses));
        Init.TruncNormal_(Head.Weight, 0.02);
        Init.Zeros_(Head.Bias!);
    }

    public int NumClasses { get; }
    public Linear Head { get; }

    public Tensor Classify(Tensor clip)
    {
        using var scope = Torch.NewScope();
        return scope.MoveToOuter(Head.Forward(Torch.Dropout(Forward(clip), _headDropRate, Training)));
    }

    /// <summary>The backbone of a pretraining checkpoint (<c>backbone.</c> / <c>encoder.</c> stripped); head left as initialised.</summary>
    public StateDictReport LoadPretrainedEncoder(IReadOnlyDictionary<string, Tensor> state) => VideoClassifiers.LoadBackbone(this, state);
}

/// <summary>Per-frame patch embedding: Conv2d with kernel = stride = patch over each frame, [B, C, T, H, W] → [(B·T), H'·W', D].</summary>
public sealed class PatchEmbed2d : Module
{
    public PatchEmbed2d(int inChannels, int embedDim, int patchSize)
    {
        PatchSize = patchSize;
        Proj = Child("proj", new Conv2d(inChannels, embedDim, patchSize, patchSize));
    }

    public int PatchSize { get; }
    public Conv2d Proj { get; }

    /// <summary>The tokens and the width W' of the patch grid (the official forward returns it for the table resizing).</summary>
    public (Tensor Tokens, long Width) Forward(Tensor clip)
    {
        using var scope = Torch.NewScope();
        var (b, c, t, h, w) = (clip.Size(0), clip.Size(1), clip.Size(2), clip.Size(3), clip.Size(4));
        if (h % PatchSize != 0 || w % PatchSize != 0)
        {
            throw new ArgumentException($"frames of {h} x {w} px are not a multiple of the patch size {PatchSize}");
        }
        var frames = clip.Transpose(1, 2).Reshape(b * t, c, h, w); // 'b c t h w -> (b t) c h w'
        var x = Proj.Forward(frames);
        var width = x.Size(-1);
        return (scope.MoveToOuter(x.Flatten(2).Transpose(1, 2)), width);
    }
}
