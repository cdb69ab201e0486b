using VideoSSL.Data.Datasets;
using VideoSSL.Data.Transforms;

namespace VideoSSL.Data.Pipelines;

/// <summary>Which of the reference recipes a pipeline follows.</summary>
public enum PipelineProtocol
{
    /// <summary>VideoMAE pretraining: dense frames×stride, multi-scale crop, no flip by default.</summary>
    Pretrain,

    /// <summary>Fine-tuning, training clips: K400 dense (I3D) or SSv2 segment sampling, random resized crop, flip except SSv2.</summary>
    FinetuneTrain,

    /// <summary>Evaluation: K400 N clips × 3 crops, SSv2 2 × 3; short side resized to the input size.</summary>
    Test,
}

/// <summary>The spatial crop of pretraining clips.</summary>
public enum PretrainCrop
{
    /// <summary>VideoMAE's multi-scale crop (GroupMultiScaleCrop).</summary>
    MultiScale,

    /// <summary>V-JEPA's random resized crop (scale <c>MinCropScale</c>–1, aspect <c>CropAspect</c>), app/vjepa/transforms.py.</summary>
    RandomResized,
}

/// <summary>Which dataset's temporal protocol applies to fine-tuning and testing (pretraining is dense for both).</summary>
public enum SamplingScheme
{
    /// <summary>Kinetics: dense windows of frames×stride.</summary>
    Kinetics,

    /// <summary>Something-Something v2: <c>Frames</c> equal segments; never flipped.</summary>
    Ssv2,
}

/// <summary>
/// Everything a ready-made pipeline needs. Items are [3, T, S, S] floats, or [V, 3, T, S, S] when an item holds
/// several views of one video (test views, or repeated augmentation with <see cref="Repeats"/> &gt; 1).
/// </summary>
public sealed record VideoPipelineOptions
{
    public PipelineProtocol Protocol { get; init; } = PipelineProtocol.Pretrain;

    public SamplingScheme Sampling { get; init; } = SamplingScheme.Kinetics;

    /// <summary>Frames per clip (T); also the segment count of SSv2 sampling.</summary>
    public int Frames { get; init; } = 16;

    /// <summary>Frame stride of dense sampling (VideoMAE: 4 for K400, 2 for SSv2 pretraining).</summary>
    public int Stride { get; init; } = 4;

    /// <summary>Side of the square clip the model sees.</summary>
    public int InputSize { get; init; } = 224;

    /// <summary>Horizontal flip with probability 0.5. Null takes the protocol's default: off for pretraining (VideoMAE), on for fine-tuning except SSv2.</summary>
    public bool? Flip { get; init; }

    /// <summary>Smallest area fraction of the fine-tune random resized crop.</summary>
    public double MinCropScale { get; init; } = 0.08;

    /// <summary>The pretraining crop: VideoMAE's multi-scale crop, or a random resized crop as V-JEPA.</summary>
    public PretrainCrop PretrainCrop { get; init; } = PretrainCrop.MultiScale;

    /// <summary>Aspect-ratio range of the random resized crop (torchvision's 3/4–4/3; V-JEPA 0.75–1.35).</summary>
    public double[] CropAspect { get; init; } = [3.0 / 4, 4.0 / 3];

    /// <summary>RandAugment on the decoded frames before the crop, per view (VideoMAE fine-tuning: rand-m7-n4-mstd0.5-inc1); null = off. Training protocols only.</summary>
    public RandAugmentPolicy? RandAugment { get; init; }

    /// <summary>Repeated augmentation: augmented copies of each decoded clip (VideoMAE fine-tuning uses 2). Not for <see cref="PipelineProtocol.Test"/>.</summary>
    public int Repeats { get; init; } = 1;

    /// <summary>Temporal clips of a Kinetics test (5 in VideoMAE); SSv2 always has 2.</summary>
    public int TestClips { get; init; } = 5;

    /// <summary>Spatial crops per temporal clip at test time.</summary>
    public int TestCrops { get; init; } = 3;

    /// <summary>
    /// Short side frames are decoded at (by the decoder's resize) when the video is larger; null chooses per
    /// protocol (see <see cref="VideoPipelines"/>).
    /// </summary>
    public int? DecodeShortSide { get; init; }

    public float[] Mean { get; init; } = Normalization.ImageNetMean;

    public float[] Std { get; init; } = Normalization.ImageNetStd;

    /// <summary>
    /// Where frames come from instead of decoding the sample's file: the procedural format renders each clip from its
    /// sample (all its frames, at their own size); sampling and augmentation are the same as for decoded clips.
    /// </summary>
    public Func<VideoSample, Clip>? Render { get; init; }

    /// <summary>libavcodec threads per reader; 1 because the loader already runs one reader per worker.</summary>
    public int DecoderThreads { get; init; } = 1;

    /// <summary>Whether the pipeline flips, after applying the protocol's default.</summary>
    public bool FlipsClips => Protocol != PipelineProtocol.Test && (Flip ?? (Protocol == PipelineProtocol.FinetuneTrain && Sampling != SamplingScheme.Ssv2));

    /// <summary>Views an item holds: test clips × crops at test time, else <see cref="Repeats"/>.</summary>
    public int ViewCount => Protocol == PipelineProtocol.Test
        ? (Sampling == SamplingScheme.Ssv2 ? 2 : TestClips) * TestCrops
        : Repeats;

    /// <summary>Whether items carry a leading view axis: always at test time, and for repeated augmentation.</summary>
    public bool HasViewAxis => Protocol == PipelineProtocol.Test || Repeats > 1;

    /// <summary>Shape of one item: [3, T, S, S], or [V, 3, T, S, S] with a view axis.</summary>
    public int[] ItemShape => HasViewAxis ? [ViewCount, 3, Frames, InputSize, InputSize] : [3, Frames, InputSize, InputSize];

    /// <summary>Test view v is temporal clip v / crops, spatial crop v % crops (crop 0 = start of the long side).</summary>
    public (int Clip, int Crop) TestView(int view)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(view);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(view, ViewCount);
        return (view / TestCrops, view % TestCrops);
    }

    /// <summary>Throws on settings no reference recipe allows, naming the setting.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Frames, 1, nameof(Frames));
        ArgumentOutOfRangeException.ThrowIfLessThan(Stride, 1, nameof(Stride));
        ArgumentOutOfRangeException.ThrowIfLessThan(InputSize, 1, nameof(InputSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(Repeats, 1, nameof(Repeats));
        ArgumentOutOfRangeException.ThrowIfLessThan(TestClips, 1, nameof(TestClips));
        ArgumentOutOfRangeException.ThrowIfLessThan(TestCrops, 1, nameof(TestCrops));
        ArgumentOutOfRangeException.ThrowIfLessThan(DecoderThreads, 0, nameof(DecoderThreads));
        if (DecodeShortSide is < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(DecodeShortSide), DecodeShortSide, "decode short side must be at least 2");
        }
        if (Mean.Length != 3 || Std.Length != 3)
        {
            throw new ArgumentException("mean and std need 3 values (R, G, B)");
        }
        if (Sampling == SamplingScheme.Ssv2 && Flip == true && Protocol != PipelineProtocol.Pretrain)
        {
            // "Pushing something from left to right" would become the wrong class.
            throw new ArgumentException("flipping is not allowed for Something-Something v2: left/right classes would swap meaning");
        }
        if (Protocol == PipelineProtocol.Test && RandAugment is not null)
        {
            throw new ArgumentException("RandAugment does not apply to test views");
        }
        if (Protocol == PipelineProtocol.Test && Repeats != 1)
        {
            throw new ArgumentException("repeated augmentation does not apply to test views");
        }
    }
}
