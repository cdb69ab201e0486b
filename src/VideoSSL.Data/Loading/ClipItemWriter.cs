using VideoSSL.Data.Datasets;

namespace VideoSSL.Data.Loading;

/// <summary>(sample, epoch, dataset index, rng, destination) → label: writes one item into its slot of the batch buffer.</summary>
public delegate int WriteClipItem(VideoSample sample, int epoch, int index, Random rng, Span<float> destination);

/// <summary>
/// A pipeline whose item shape is known before it runs, so <see cref="ClipLoader"/> can give each item its slot of
/// the batch buffer to write into: one allocation per batch instead of one per item plus a copy.
/// </summary>
public sealed record ClipItemWriter(int[] ItemShape, WriteClipItem Write)
{
    public int ItemSize => ItemShape.Aggregate(1, (a, d) => checked(a * d));
}
