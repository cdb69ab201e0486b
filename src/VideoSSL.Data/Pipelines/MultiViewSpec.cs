namespace VideoSSL.Data.Pipelines;

/// <summary>
/// One view of a multi-view pretraining item: its name in the batch (<c>global0</c>, <c>local3</c>, …), frame count,
/// square side and the area range of its random resized crop. Global views are the ones a teacher sees.
/// </summary>
public sealed record ViewSpec(string Name, int Frames, int Size, double MinScale, double MaxScale, bool Global)
{
    /// <summary>[3, T, S, S].</summary>
    public int[] Shape => [3, Frames, Size, Size];

    public long Floats => 3L * Frames * Size * Size;
}

/// <summary>
/// The views every item of a multi-view pipeline holds, in order, all cut from one decoded window of the video
/// (SVT: 2 global + 8 local views). The loader writes an item's views back to back as one flat float item, so its
/// determinism, resume and corrupt-video handling are those of single-clip items; the trainer splits a batch
/// into one [B, 3, T, S, S] tensor per view name.
/// </summary>
public sealed record MultiViewSpec(IReadOnlyList<ViewSpec> Views)
{
    public long ItemFloats => Views.Sum(v => v.Floats);

    /// <summary>
    /// The view set of the SVT paper as the official code draws it with DATA.RAND_FR (kahnchana/svt datasets/decoder.py):
    /// global0 4 frames over [0, L − 5], global1 8 frames over [5, L], at 224 px, scale 0.4–1; locals of 2, 2, 4, 4, 8, 8,
    /// 16, 16 frames at 96 px, scale 0.05–0.4 (train_ssl.py --global_crops_scale, --local_crops_scale defaults).
    /// </summary>
    public static MultiViewSpec SvtPaper => Svt([4, 8], 224, (0.4, 1.0), [2, 2, 4, 4, 8, 8, 16, 16], 96, (0.05, 0.4));

    /// <summary>
    /// SVT's view set (kahnchana/svt datasets/transform.py VideoDataAugmentationDINO): global views
    /// <c>global0..</c> at <paramref name="globalSize"/> px with crop area <paramref name="globalScale"/>, then
    /// local views <c>local0..</c> at <paramref name="localSize"/> px with <paramref name="localScale"/>.
    /// </summary>
    public static MultiViewSpec Svt(IReadOnlyList<int> globalFrames, int globalSize, (double Min, double Max) globalScale,
        IReadOnlyList<int> localFrames, int localSize, (double Min, double Max) localScale) =>
        new([
            .. globalFrames.Select((t, i) => new ViewSpec($"global{i}", t, globalSize, globalScale.Min, globalScale.Max, Global: true)),
            .. localFrames.Select((t, i) => new ViewSpec($"local{i}", t, localSize, localScale.Min, localScale.Max, Global: false)),
        ]);
}
