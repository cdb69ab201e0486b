using VideoSSL.Data.Loading;
using VideoSSL.Torch;

namespace VideoSSL.Training.Evaluation;

/// <summary>
/// A loader batch with its view axis folded into the batch: items [B, V, 3, T, H, W] (test views, repeated
/// augmentation) become rows [B·V, 3, T, H, W], row b·V + v being view v of video b. Items without a view axis give V = 1.
/// </summary>
public sealed class ViewBatch
{
    private ViewBatch(float[] data, long[] shape, int views, int[] labels, string[] videoIds, string[] viewKeys)
    {
        Data = data;
        Shape = shape;
        Views = views;
        Labels = labels;
        VideoIds = videoIds;
        ViewKeys = viewKeys;
    }

    /// <summary>The clip values, [rows, 3, T, H, W] row-major (the loader's array, not a copy).</summary>
    public float[] Data { get; }

    public long[] Shape { get; }

    public int Views { get; }

    public int Rows => Labels.Length;

    /// <summary>Per row.</summary>
    public int[] Labels { get; }

    /// <summary>Per row: the video the row shows.</summary>
    public string[] VideoIds { get; }

    /// <summary>Per row: "view{v}", so a video seen twice (a padded batch) counts each view once.</summary>
    public string[] ViewKeys { get; }

    public static ViewBatch From(ClipBatch batch)
    {
        var views = batch.Shape.Length == 6 ? batch.Shape[1] : batch.Shape.Length == 5 ? 1
            : throw new InvalidDataException($"expected clip batches [B, 3, T, H, W] or [B, V, 3, T, H, W], got [{string.Join(", ", batch.Shape)}]");
        var rows = batch.Size * views;
        var tail = batch.Shape[^4..].Select(s => (long)s);
        var labels = new int[rows];
        var ids = new string[rows];
        var keys = new string[rows];
        for (var r = 0; r < rows; r++)
        {
            labels[r] = batch.Labels[r / views];
            ids[r] = batch.SampleIds[r / views];
            keys[r] = $"view{r % views}";
        }
        return new ViewBatch(batch.Data, [rows, .. tail], views, labels, ids, keys);
    }

    /// <summary>Rows without clip data (gathered from other ranks): per-row labels, per-video ids, <paramref name="views"/> rows per video.</summary>
    public static ViewBatch FromRows(int[] labels, string[] videoIds, int views)
    {
        var ids = new string[labels.Length];
        var keys = new string[labels.Length];
        for (var r = 0; r < labels.Length; r++)
        {
            ids[r] = videoIds[r / views];
            keys[r] = $"view{r % views}";
        }
        return new ViewBatch([], [labels.Length], views, labels, ids, keys);
    }

    /// <summary>The clips as a tensor on <paramref name="device"/>.</summary>
    public Tensor Clips(Device device)
    {
        var host = Tensor.From<float>(Data, Shape);
        return device.IsCuda ? host.To(device) : host;
    }

    /// <summary>
    /// The rows of videos not in <paramref name="seen"/> (which this adds them to), a video's views kept or dropped
    /// whole: the loader fills an unreadable video's slot with another video of the split, which must count once.
    /// </summary>
    public int[] RowsOfNewVideos(ISet<string> seen) => [.. Enumerable.Range(0, Rows / Views).Where(b => seen.Add(VideoIds[b * Views]))
        .SelectMany(b => Enumerable.Range(b * Views, Views))];

    /// <summary>Labels as int64 [rows] on <paramref name="device"/>.</summary>
    public Tensor LabelTensor(Device device)
    {
        var host = Tensor.From(Labels.Select(l => (long)l).ToArray(), Labels.Length);
        return device.IsCuda ? host.To(device) : host;
    }
}
