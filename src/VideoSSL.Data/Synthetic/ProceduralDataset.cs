using System.Globalization;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;

namespace VideoSSL.Data.Synthetic;

/// <summary>A pool of nuisance-rich clips rendered on the fly: which clips, how large, from which statistics.</summary>
public sealed record ProceduralOptions
{
    /// <summary>Clip i of the pool is rendered from (Seed, i): a different seed is a different pool.</summary>
    public int Seed { get; init; }

    /// <summary>Distinct clips in the pool (one epoch).</summary>
    public int Clips { get; init; } = 20000;

    public int Size { get; init; } = 64;

    public int Frames { get; init; } = 16;

    /// <summary>The first this many classes of <see cref="NuisanceVideo.Classes"/>; clip i has class i mod Classes.</summary>
    public int Classes { get; init; } = 10;

    public NuisanceStats Stats { get; init; } = NuisanceStats.Default;

    /// <summary>Round-trips each rendered clip through 8-bit YUV 4:2:0 (<see cref="Synthetic.Yuv420"/>), as the labeled files are stored.</summary>
    public bool Yuv420 { get; init; }
}

/// <summary>
/// The procedural dataset format: a <see cref="VideoDataset"/> whose samples are not files but (seed, index) pairs that
/// <see cref="Render"/> turns into clips, so a pretraining pool of tens of thousands of distinct clips costs no disk and
/// no decoding. The loader, its order, sharding and the augmentation pipeline are the ones decoded clips go through
/// (<see cref="Pipelines.VideoPipelineOptions.Render"/>).
/// </summary>
public static class ProceduralDataset
{
    /// <summary>Sample paths are <c>procedural:SEED/INDEX</c>; they name the clip in logs and failures.</summary>
    public const string PathPrefix = "procedural:";

    public static VideoDataset Create(ProceduralOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Clips, 1);
        if (options.Classes < 1 || options.Classes > NuisanceVideo.Classes.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Classes, $"procedural classes are 1..{NuisanceVideo.Classes.Count}");
        }
        options.Stats.Validate();
        if (options.Yuv420 && options.Size % 2 != 0)
        {
            throw new ArgumentException($"procedural yuv420 needs an even frame side, not size {options.Size}: 4:2:0 chroma halves both axes");
        }
        var samples = new VideoSample[options.Clips];
        for (int i = 0; i < samples.Length; i++)
        {
            SyntheticClass cls = NuisanceVideo.Classes[i % options.Classes];
            samples[i] = new VideoSample(string.Create(CultureInfo.InvariantCulture, $"{PathPrefix}{options.Seed}/{i}"), cls.Id,
                string.Create(CultureInfo.InvariantCulture, $"p{options.Seed}-{i:D6}"), cls.Name);
        }
        var classIndex = Enumerable.Range(0, options.Classes).ToDictionary(c => NuisanceVideo.Classes[c].Name, c => c);
        return new VideoDataset(samples, classIndex) { Source = $"procedural pool (seed {options.Seed}, {options.Clips} clips)" };
    }

    /// <summary>The clip a sample of <see cref="Create"/> stands for: all its frames, at the pool's size.</summary>
    public static Clip Render(VideoSample sample, ProceduralOptions options)
    {
        int index = IndexOf(sample.Path);
        Clip clip = NuisanceVideo.Render(sample.Label, Seeds.Derive(options.Seed, index, 0x50C), options.Stats, options.Size, options.Frames);
        if (options.Yuv420)
        {
            Synthetic.Yuv420.RoundTrip(clip);
        }
        return clip;
    }

    private static int IndexOf(string path)
    {
        int slash = path.LastIndexOf('/');
        if (!path.StartsWith(PathPrefix, StringComparison.Ordinal) || slash < 0
            || !int.TryParse(path.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            throw new ArgumentException($"'{path}' is not a procedural sample ({PathPrefix}SEED/INDEX)");
        }
        return index;
    }
}
