using VideoSSL.Data.Loading;
using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Methods;

// Inside VideoSSL.*, "Torch" names the namespace; this alias makes it name the functional API.
using Torch = VideoSSL.Torch.Torch;

// VideoMAE (MCG-NJU/VideoMAE: masking_generator.py, modeling_pretrain.py, engine_for_pretraining.py) and its
// V2 dual masking (OpenGVLab/VideoMAEv2). Masks are drawn on the host from a System.Random the caller seeds
// (e.g. per step or per sample), so they are reproducible and independent of torch's generator; the
// official code draws them with numpy in the data loader.

/// <summary>
/// Tube masking: per sample ONE spatial mask with exactly int(ratio · H'W') masked cells, repeated over all
/// T' slices. true = masked. At 8×14×14 and ratio 0.9: 176 of 196 masked per slice, 160 tokens visible.
/// </summary>
public sealed class TubeMaskGenerator
{
    public TubeMaskGenerator(TokenGrid grid, double ratio)
    {
        if (ratio is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ratio), $"mask ratio {ratio} is outside [0, 1)");
        }
        Grid = grid;
        Ratio = ratio;
        MaskedPerFrame = (int)(ratio * grid.PerFrame);
    }

    public TokenGrid Grid { get; }
    public double Ratio { get; }
    public int MaskedPerFrame { get; }
    public int NumMasked => MaskedPerFrame * Grid.Frames;
    public int NumVisible => Grid.Count - NumMasked;

    /// <summary>One sample's mask [T'·H'·W'] (t-major), true = masked.</summary>
    public bool[] Next(Random rng)
    {
        // np.random.shuffle of [0]*(HW − k) + [1]*k, here as Fisher–Yates.
        var frame = new bool[Grid.PerFrame];
        for (var i = Grid.PerFrame - MaskedPerFrame; i < frame.Length; i++)
        {
            frame[i] = true;
        }
        for (var i = frame.Length - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (frame[i], frame[j]) = (frame[j], frame[i]);
        }
        var mask = new bool[Grid.Count];
        for (var t = 0; t < Grid.Frames; t++)
        {
            frame.CopyTo(mask, t * Grid.PerFrame);
        }
        return mask;
    }

    public TokenMask NextBatch(Random rng, int batch, Device? device = null) =>
        new(Enumerable.Range(0, batch).Select(_ => Next(rng)).ToArray(), device);
}

/// <summary>
/// VideoMAE V2's decoder mask ("running cell"): 2×2 cells holding the queue [1,1,0,0] (1 = NOT reconstructed),
/// rotated so that slice t uses queue[(k + p + t + 1) mod 4] for cell position k (row-major), tiled over the
/// grid; p is drawn per sample. Exactly half of every slice is reconstructed, shifting one cell position per slice.
/// </summary>
public sealed class RunningCellMaskGenerator
{
    private readonly bool[] _queue;

    public RunningCellMaskGenerator(TokenGrid grid, double ratio = 0.5)
    {
        var masksPerCell = (int)(4 * ratio);
        if (masksPerCell is <= 0 or >= 4)
        {
            throw new ArgumentOutOfRangeException(nameof(ratio), $"decoder mask ratio {ratio} leaves {masksPerCell} of 4 cells masked; need 1..3");
        }
        if (grid.Height % 2 != 0 || grid.Width % 2 != 0)
        {
            throw new ArgumentException($"running-cell masking tiles 2×2 cells: the token grid {grid.Height}×{grid.Width} must be even", nameof(grid));
        }
        Grid = grid;
        _queue = Enumerable.Range(0, 4).Select(i => i < masksPerCell).ToArray();
    }

    public TokenGrid Grid { get; }

    public int NumKept => Grid.Count * _queue.Count(q => !q) / 4;

    /// <summary>The mask for start position p (0..3), [T'·H'·W'], true = not reconstructed.</summary>
    public bool[] Pattern(int start)
    {
        var mask = new bool[Grid.Count];
        for (var t = 0; t < Grid.Frames; t++)
        {
            var pointer = start + t + 1; // the official Cell runs one step before each slice
            for (var h = 0; h < Grid.Height; h++)
            {
                for (var w = 0; w < Grid.Width; w++)
                {
                    var k = ((h % 2) * 2) + (w % 2);
                    mask[(t * Grid.PerFrame) + (h * Grid.Width) + w] = _queue[(k + pointer) % 4];
                }
            }
        }
        return mask;
    }

    public bool[] Next(Random rng) => Pattern(rng.Next(4));

    public TokenMask NextBatch(Random rng, int batch, Device? device = null) =>
        new(Enumerable.Range(0, batch).Select(_ => Next(rng)).ToArray(), device);
}

/// <summary>VideoMAE pretraining settings. <see cref="DecoderMaskRatio"/> &gt; 0 switches on V2 dual masking.</summary>
public sealed record VideoMAEConfig
{
    public VideoViTConfig Encoder { get; init; } = VideoViTVariants.Base;
    public int DecoderDim { get; init; } = 384;
    public int DecoderDepth { get; init; } = 4;
    public int DecoderHeads { get; init; } = 6;
    public double MaskRatio { get; init; } = 0.9;

    /// <summary>Per-patch normalised pixel targets (the official default); false = raw pixels in [0, 1].</summary>
    public bool NormPixLoss { get; init; } = true;

    /// <summary>0: the decoder reconstructs every masked token (VideoMAE). 0.5: running-cell decoder masking (V2).</summary>
    public double DecoderMaskRatio { get; init; }

    public bool DualMasking => DecoderMaskRatio > 0;

    public void Validate()
    {
        Encoder.Validate();
        if (DecoderDim <= 0 || DecoderDepth <= 0 || DecoderHeads <= 0 || DecoderDim % DecoderHeads != 0)
        {
            throw new ArgumentException($"VideoMAE decoder {DecoderDim} wide with {DecoderHeads} heads and depth {DecoderDepth}: need positive sizes and width divisible by heads");
        }
        if (MaskRatio is < 0 or >= 1 || DecoderMaskRatio is < 0 or >= 1)
        {
            throw new ArgumentException($"mask ratios must lie in [0, 1): encoder {MaskRatio}, decoder {DecoderMaskRatio}");
        }
    }

    /// <summary>
    /// The official pairing of encoder size and decoder (methods.md §1 table). V2 uses its scripts' shallower
    /// decoders for large/huge. Small sizes (micro, tiny) are ours, for tests and CPU runs.
    /// </summary>
    public static VideoMAEConfig ForSize(string name, bool v2 = false, Func<VideoViTConfig, VideoViTConfig>? overrides = null)
    {
        var encoder = ModelRegistry.Resolve(name, overrides);
        var (dim, heads, depth) = name switch
        {
            "vit_micro" => (32, 2, 1),
            "vit_tiny" => (96, 3, 2),
            "vit_small" => (192, 3, 4),
            "vit_base" => (384, 6, 4),
            "vit_large" => (512, 8, v2 ? 4 : 12),
            "vit_huge" => v2 ? (512, 8, 4) : (640, 8, 12),
            "vit_giant" => (512, 8, 4),
            _ => throw new ArgumentException($"no VideoMAE decoder size for '{name}'", nameof(name)),
        };
        return new VideoMAEConfig
        {
            Encoder = encoder,
            DecoderDim = dim,
            DecoderHeads = heads,
            DecoderDepth = depth,
            DecoderMaskRatio = v2 ? 0.5 : 0,
        };
    }
}

/// <summary>VideoMAE's decoder: <c>blocks</c>, <c>norm</c>, and <c>head</c> to channels·tubelet·patch² pixels per token.</summary>
public sealed class VideoMAEDecoder : Module
{
    public VideoMAEDecoder(VideoMAEConfig config)
    {
        var e = config.Encoder;
        var hidden = (int)(config.DecoderDim * e.MlpRatio);
        var blocks = new List<Block>(config.DecoderDepth);
        for (var i = 0; i < config.DecoderDepth; i++)
        {
            var dropPath = config.DecoderDepth <= 1 ? 0 : e.DropPathRate * i / (config.DecoderDepth - 1);
            blocks.Add(new Block(config.DecoderDim, config.DecoderHeads, hidden, e.QkvBias, dropPath, e.LayerNormEps));
        }
        Blocks = Child("blocks", new ModuleList<Block>(blocks));
        Norm = Child("norm", new LayerNorm(config.DecoderDim, e.LayerNormEps));
        Head = Child("head", new Linear(config.DecoderDim, e.PatchValues));
        ModelInit.XavierLinears(this);
    }

    public ModuleList<Block> Blocks { get; }
    public LayerNorm Norm { get; }
    public Linear Head { get; }

    /// <summary>Blocks over all tokens, then head(norm(·)) on the last <paramref name="returnTokens"/> only: [B, K, P].</summary>
    public Tensor Forward(Tensor x, long returnTokens)
    {
        using var scope = Torch.NewScope();
        foreach (var block in Blocks)
        {
            x = block.Forward(x);
        }
        var tail = x.Slice(1, x.Size(1) - returnTokens);
        return scope.MoveToOuter(Head.Forward(Norm.Forward(tail)));
    }
}

/// <summary>The loss, the decoder's prediction [B, K, P] and the token positions [B, K] it predicts.</summary>
public sealed record VideoMAEOutput(Tensor Loss, Tensor Prediction, Tensor TargetIndices);

/// <summary>
/// VideoMAE / VideoMAE V2 pretraining model with the official parameter names: <c>encoder.*</c>,
/// <c>decoder.{blocks,norm,head}.*</c>, <c>encoder_to_decoder.weight</c>, <c>mask_token</c>. Position tables are
/// fixed sinusoids and are not saved.
/// </summary>
public sealed class VideoMAEPretrainModel : Module
{
    private const string PosEmbedName = "pos_embed";

    public VideoMAEPretrainModel(VideoMAEConfig config)
    {
        config.Validate();
        Config = config;
        var e = config.Encoder;
        Encoder = Child("encoder", new VideoViTEncoder(e));
        Decoder = Child("decoder", new VideoMAEDecoder(config));
        // The official model applies its init only inside encoder and decoder: encoder_to_decoder keeps
        // PyTorch's default Linear init, and so does ours.
        EncoderToDecoder = Child("encoder_to_decoder", new Linear(e.EmbedDim, config.DecoderDim, bias: false));
        // Official: timm trunc_normal_ wrapped with a = −std, b = std, so the token is cut at ±0.02.
        MaskToken = Param("mask_token", Init.TruncNormal_(Torch.Zeros([1, 1, config.DecoderDim]), std: 0.02, a: -0.02, b: 0.02));
        Buffer(PosEmbedName, PositionTables.Sinusoid1dTensor(e.NumTokens, config.DecoderDim), persistent: false);
        EncoderMasks = new TubeMaskGenerator(e.Grid, config.MaskRatio);
        DecoderMasks = config.DualMasking ? new RunningCellMaskGenerator(e.Grid, config.DecoderMaskRatio) : null;
    }

    public VideoMAEConfig Config { get; }
    public VideoViTEncoder Encoder { get; }
    public VideoMAEDecoder Decoder { get; }
    public Linear EncoderToDecoder { get; }
    public Parameter MaskToken { get; }
    public TubeMaskGenerator EncoderMasks { get; }
    public RunningCellMaskGenerator? DecoderMasks { get; }

    /// <summary>The decoder's fixed position table [1, N, Dd].</summary>
    public Tensor DecoderPosEmbed => NamedBuffers().First(b => b.Key == PosEmbedName).Value;

    /// <summary>Draws a batch of encoder tube masks and, with dual masking, running-cell decoder masks.</summary>
    public (TokenMask Encoder, TokenMask? Decoder) NewMasks(Random rng, int batch, Device? device = null) =>
        (EncoderMasks.NextBatch(rng, batch, device), DecoderMasks?.NextBatch(rng, batch, device));

    /// <summary>
    /// This rank's rows of the masks one process would draw for the whole data-parallel batch, so masks differ
    /// across ranks, depend only on (seed, step, rank), and N ranks × B train exactly as one process × N·B.
    /// </summary>
    public (TokenMask Encoder, TokenMask? Decoder) NewMasks(Random rng, int batch, Device? device, BatchShard shard)
    {
        if (shard.Count <= 1)
        {
            return NewMasks(rng, batch, device);
        }
        var rows = batch * shard.Count;
        var encoder = Enumerable.Range(0, rows).Select(_ => EncoderMasks.Next(rng)).ToArray();
        var decoder = DecoderMasks is null ? null : Enumerable.Range(0, rows).Select(_ => DecoderMasks.Next(rng)).ToArray();
        bool[][] Mine(bool[][] all) => all.Where((_, row) => shard.Holds(row)).ToArray();
        return (new TokenMask(Mine(encoder), device), decoder is null ? null : new TokenMask(Mine(decoder), device));
    }

    /// <summary>
    /// Pixel predictions [B, K, P] at <paramref name="targetIndices"/> [B, K] (ascending), by default the
    /// encoder-masked tokens. Decoder input = visible tokens (+ their decoder positions) followed by a mask
    /// token (+ position) per target, with no unshuffling, as the official code.
    /// </summary>
    public Tensor Forward(Tensor clip, TokenMask mask, Tensor? targetIndices = null)
    {
        using var scope = Torch.NewScope();
        var targets = targetIndices ?? mask.Masked;
        Tensor encoded;
        using (Profiling.Phase("encoder"))
        {
            encoded = Encoder.Forward(clip, mask.Visible);
        }
        using var decoderPhase = Profiling.Phase("decoder");
        var visible = EncoderToDecoder.Forward(encoded); // [B, Nvis, Dd]
        var b = visible.Size(0);
        var pos = DecoderPosEmbed;
        pos = pos.Dtype == visible.Dtype ? pos : pos.To(visible.Dtype);
        pos = pos.Expand(b, pos.Size(1), pos.Size(2));
        var posVisible = VideoViTEncoder.GatherTokens(pos, mask.Visible);
        var posTargets = VideoViTEncoder.GatherTokens(pos, targets);
        var token = MaskToken.Value.Dtype == visible.Dtype ? MaskToken.Value : MaskToken.Value.To(visible.Dtype);
        var full = Torch.Cat([visible + posVisible, token + posTargets], 1); // [B, Nvis + K, Dd]
        return scope.MoveToOuter(Decoder.Forward(full, targets.Size(1)));
    }

    /// <summary>
    /// The pretraining loss on an ImageNet-normalised clip [B, 3, T, H, W]. Without a decoder mask: MSE over
    /// the encoder-masked tokens (VideoMAE). With one (V2): the decoder predicts the tokens it keeps, and the
    /// per-token MSE is averaged over those that are also encoder-masked.
    /// </summary>
    public VideoMAEOutput Loss(Tensor clip, TokenMask mask, TokenMask? decoderMask = null)
    {
        using var scope = Torch.NewScope();
        var targetIndices = decoderMask?.Visible ?? mask.Masked;
        Tensor labels;
        using (Profiling.Phase("target"))
        using (Torch.NoGrad())
        {
            var e = Config.Encoder;
            var target = VideoMAE.PatchTargets(clip, e.TubeletSize, e.PatchSize, Config.NormPixLoss);
            labels = VideoViTEncoder.GatherTokens(target, targetIndices);
        }
        var prediction = Forward(clip, mask, targetIndices);
        using var lossPhase = Profiling.Phase("loss");
        var predictionF = prediction.Dtype == ScalarType.Float32 ? prediction : prediction.Float();
        Tensor loss;
        if (decoderMask is null)
        {
            loss = Torch.MseLoss(predictionF, labels);
        }
        else
        {
            var perToken = (predictionF - labels).Pow(2).Mean(-1); // [B, K]
            var weight = mask.Mask.Gather(1, targetIndices).To(perToken.Dtype); // kept ∧ encoder-masked
            loss = (perToken * weight).Sum() / weight.Sum();
        }
        return new VideoMAEOutput(scope.MoveToOuter(loss), scope.MoveToOuter(prediction), targetIndices);
    }
}

/// <summary>Pixel frames of one sample for a reconstruction grid: each array is [T, H, W, 3] in 0..1.</summary>
public sealed record ReconstructionFrames(int Frames, int Height, int Width, float[] Original, float[] Masked, float[] Reconstruction)
{
    /// <summary>Predicted pixels only, NaN where the encoder saw the patch (or nothing was predicted).</summary>
    public float[] Prediction { get; init; } = [];

    /// <summary>True where the pixel's tubelet was masked, [T, H, W].</summary>
    public bool[] MaskedPixels { get; init; } = [];
}

/// <summary>VideoMAE's reconstruction targets and their inverse.</summary>
public static class VideoMAE
{
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>Added to the per-patch standard deviation (not the variance), as the official code.</summary>
    public const double TargetEps = 1e-6;

    /// <summary>
    /// Per-token targets [B, N, tubelet·patch²·C] from a normalised clip [B, C, T, H, W]: un-normalise to [0, 1],
    /// cut into patches <c>(t p0)(h p1)(w p2) → token, (p0 p1 p2), c</c>, optionally normalise each token and
    /// channel by its mean and unbiased std (+1e-6 on the std), flatten with c fastest.
    /// </summary>
    public static Tensor PatchTargets(Tensor clip, int tubelet, int patch, bool normalize, float[]? mean = null, float[]? std = null)
    {
        using var scope = Torch.NewScope();
        var s = clip.Shape;
        var (b, c, t, h, w) = (s[0], s[1], s[2], s[3], s[4]);
        var m = Tensor.From(mean ?? ImageNetMean, [c, 1, 1, 1], clip.Device).To(clip.Dtype);
        var sd = Tensor.From(std ?? ImageNetStd, [c, 1, 1, 1], clip.Device).To(clip.Dtype);
        var pixels = clip * sd + m;
        var patches = pixels
            .Reshape(b, c, t / tubelet, tubelet, h / patch, patch, w / patch, patch)
            .Permute(0, 2, 4, 6, 3, 5, 7, 1)
            .Reshape(b, t / tubelet * (h / patch) * (w / patch), tubelet * patch * patch, c); // [B, N, p0·p1·p2, C]
        if (normalize)
        {
            var mu = patches.Mean(-2, keepDim: true);
            var sigma = patches.Var(-2, unbiased: true, keepDim: true).Sqrt() + TargetEps;
            patches = (patches - mu) / sigma;
        }
        return scope.MoveToOuter(patches.Flatten(2));
    }

    /// <summary>
    /// Pixels of one sample for plots: the original, the input with masked tubelets grey, and the reconstruction
    /// (visible tubelets from the input; predicted ones from <paramref name="prediction"/> [B, K, P] at
    /// <paramref name="targetIndices"/> [B, K], mapped back with each patch's own mean and std when the targets
    /// were normalised; masked tubelets without a prediction stay grey).
    /// </summary>
    public static ReconstructionFrames Reconstruct(Tensor clip, TokenMask mask, Tensor prediction, Tensor targetIndices, VideoViTConfig config, bool normalizedTargets, int sample = 0)
    {
        using var scope = Torch.NewScope();
        var s = clip.Shape;
        var (c, t, h, w) = ((int)s[1], (int)s[2], (int)s[3], (int)s[4]);
        if (c != 3)
        {
            throw new ArgumentException($"reconstruction frames are RGB; the clip has {c} channels", nameof(clip));
        }
        var source = clip.Select(0, sample).To(Device.CPU, ScalarType.Float32).ToArray<float>(); // [C, T, H, W]
        var predicted = prediction.Select(0, sample).To(Device.CPU, ScalarType.Float32).ToArray<float>();
        var positions = targetIndices.Select(0, sample).To(Device.CPU, ScalarType.Int64).ToArray<long>();
        var masked = mask.Host[sample];
        var (tube, patch) = (config.TubeletSize, config.PatchSize);
        var grid = new TokenGrid(t / tube, h / patch, w / patch);
        var values = tube * patch * patch * c;
        var rowOf = new int[grid.Count];
        Array.Fill(rowOf, -1);
        for (var k = 0; k < positions.Length; k++)
        {
            rowOf[positions[k]] = k;
        }

        var frame = t * h * w * 3;
        var original = new float[frame];
        var input = new float[frame];
        var recon = new float[frame];
        var predictionOnly = new float[frame];
        var maskedPixels = new bool[t * h * w];
        var pixels = new float[tube * patch * patch * c]; // one token, layout (p0 p1 p2 c)
        for (var n = 0; n < grid.Count; n++)
        {
            var (tt, hh, ww) = (n / grid.PerFrame, n % grid.PerFrame / grid.Width, n % grid.Width);
            var i = 0;
            for (var p0 = 0; p0 < tube; p0++)
            {
                for (var p1 = 0; p1 < patch; p1++)
                {
                    for (var p2 = 0; p2 < patch; p2++)
                    {
                        for (var ch = 0; ch < c; ch++)
                        {
                            var (ft, fy, fx) = ((tt * tube) + p0, (hh * patch) + p1, (ww * patch) + p2);
                            var v = (source[(((((ch * t) + ft) * h) + fy) * w) + fx] * ImageNetStd[ch]) + ImageNetMean[ch];
                            pixels[i++] = v;
                        }
                    }
                }
            }
            var row = rowOf[n];
            float[]? rebuilt = null;
            if (masked[n] && row >= 0)
            {
                rebuilt = new float[values];
                Array.Copy(predicted, (long)row * values, rebuilt, 0, values);
                if (normalizedTargets)
                {
                    for (var ch = 0; ch < c; ch++)
                    {
                        var (mu, sigma) = MeanStd(pixels, ch, c);
                        for (var j = ch; j < values; j += c)
                        {
                            rebuilt[j] = (float)((rebuilt[j] * (sigma + TargetEps)) + mu);
                        }
                    }
                }
            }
            i = 0;
            for (var p0 = 0; p0 < tube; p0++)
            {
                for (var p1 = 0; p1 < patch; p1++)
                {
                    for (var p2 = 0; p2 < patch; p2++)
                    {
                        for (var ch = 0; ch < c; ch++)
                        {
                            var (ft, fy, fx) = ((tt * tube) + p0, (hh * patch) + p1, (ww * patch) + p2);
                            var at = (((((ft * h) + fy) * w) + fx) * 3) + ch;
                            var v = Math.Clamp(pixels[i], 0f, 1f);
                            original[at] = v;
                            input[at] = masked[n] ? 0.5f : v;
                            recon[at] = !masked[n] ? v : rebuilt is null ? 0.5f : Math.Clamp(rebuilt[i], 0f, 1f);
                            predictionOnly[at] = rebuilt is null ? float.NaN : Math.Clamp(rebuilt[i], 0f, 1f);
                            maskedPixels[at / 3] = masked[n];
                            i++;
                        }
                    }
                }
            }
        }
        return new ReconstructionFrames(t, h, w, original, input, recon) { Prediction = predictionOnly, MaskedPixels = maskedPixels };
    }

    private static (double Mean, double Std) MeanStd(float[] pixels, int channel, int channels)
    {
        var count = pixels.Length / channels;
        double sum = 0;
        for (var j = channel; j < pixels.Length; j += channels)
        {
            sum += pixels[j];
        }
        var mean = sum / count;
        double squares = 0;
        for (var j = channel; j < pixels.Length; j += channels)
        {
            squares += (pixels[j] - mean) * (pixels[j] - mean);
        }
        return (mean, Math.Sqrt(squares / Math.Max(1, count - 1)));
    }
}

/// <summary>
/// VideoMAE / VideoMAE V2 as a pretraining task for the training loop. Masks for micro-batch m of step s are drawn
/// from a generator seeded by (seed, s, m), so a resumed run masks exactly as an uninterrupted one and accumulated
/// micro-batches do not share masks (the official loader draws a fresh mask per sample, every iteration).
/// </summary>
public sealed class VideoMAETask : IPretrainTask
{
    private readonly VideoMAEPretrainModel _model;
    private readonly long _seed;

    public VideoMAETask(VideoMAEConfig config, long seed)
    {
        _model = new VideoMAEPretrainModel(config);
        _seed = seed;
    }

    public Module Model => _model;

    /// <summary>This rank's rows of the global batch (data parallelism); one process by default.</summary>
    public BatchShard Shard { get; private set; } = BatchShard.Whole;

    public void JoinRanks(DistributedContext dist, int rowsPerVideo) => Shard = new BatchShard(dist.Rank, dist.WorldSize, rowsPerVideo);

    public VideoMAEPretrainModel Network => _model;

    public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay) => Methods.ParamGroups.WeightDecaySplit(_model, weightDecay);

    public PretrainOutput Loss(PretrainBatch batch)
    {
        var clips = batch.Clips;
        var (encoderMask, decoderMask) = _model.NewMasks(StepRandom.For(_seed, batch.Step, batch.MicroBatch), (int)clips.Size(0), clips.Device, Shard);
        using (encoderMask)
        using (decoderMask)
        {
            return new PretrainOutput(_model.Loss(clips, encoderMask, decoderMask).Loss);
        }
    }

    public ReconstructionSample? Reconstruct(PretrainBatch batch)
    {
        var clips = batch.Clips;
        // One mask for every step (drawn for step -1, never a training step): with the loop's fixed clips, grids
        // from different steps differ only by what the model learned.
        var (encoderMask, decoderMask) = _model.NewMasks(StepRandom.For(_seed, -1), (int)clips.Size(0), clips.Device);
        using (encoderMask)
        using (decoderMask)
        {
            // Reconstruct every encoder-masked token (also under dual masking) so the grid shows the whole picture.
            var prediction = _model.Forward(clips, encoderMask);
            var count = (int)Math.Min(clips.Size(0), ReconstructionSample.DefaultClips);
            var frames = Enumerable.Range(0, count)
                .Select(i => VideoMAE.Reconstruct(clips, encoderMask, prediction, encoderMask.Masked, _model.Config.Encoder, _model.Config.NormPixLoss, i))
                .ToList();
            float[] Join(Func<ReconstructionFrames, float[]> part) => [.. frames.SelectMany(part)];
            var first = frames[0];
            return new ReconstructionSample(Join(f => f.Original), Join(f => f.Masked), Join(f => f.Reconstruction), first.Frames, first.Height, first.Width)
            {
                Clips = count,
                Prediction = Join(f => f.Prediction),
                MaskedPixels = [.. frames.SelectMany(f => f.MaskedPixels)],
                // engine_for_pretraining.py / run_mae_vis.py: with norm_pix_loss the output is per-patch normalised, and
                // pictures map it back with the true patch's mean and std, which lends the prediction the original's tone.
                Note = _model.Config.NormPixLoss
                    ? "norm_pix_loss: predictions de-normalised with the true patch mean and std (so their tone comes from the original)"
                    : "targets are raw pixels: the prediction row is the model's output as it is",
            };
        }
    }

    public void Dispose() => _model.Dispose();
}

/// <summary>
/// Which rows of a data-parallel batch this rank holds: the ranks' loaders deal videos round-robin
/// (DistributedSampler), and each video brings <paramref name="RowsPerVideo"/> rows (repeated augmentation).
/// </summary>
public readonly record struct BatchShard(int Rank, int Count, int RowsPerVideo = 1)
{
    public static BatchShard Whole => new(0, 1);

    /// <summary>Whether row <paramref name="globalRow"/> of the batch one process would see is on this rank.</summary>
    public bool Holds(int globalRow) => (globalRow / Math.Max(RowsPerVideo, 1)) % Count == Rank;
}

/// <summary>A System.Random for (seed, step, micro-batch) that is the same in every process (string.GetHashCode is not).</summary>
public static class StepRandom
{
    // Salts the tuple so mask draws never coincide with the loader's Seeds.Derive(seed, epoch, index, attempt) streams.
    private const long MaskStream = 0x4D41534B;

    public static Random For(long seed, long step, int micro = 0) => new(Seeds.Derive(seed, step, micro, MaskStream));
}
