using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Methods;
using VideoSSL.Torch;

namespace VideoSSL.Training;

/// <summary>The one place a loader batch becomes the named views a method's loss reads.</summary>
public static class PretrainBatches
{
    /// <summary>
    /// Without <paramref name="spec"/>: the single clip view <c>clips</c> [B, 3, T, H, W] (repeated augmentation's
    /// [B, k, 3, T, H, W] becomes B·k clips). With it: the loader's [B, total floats] items split into one
    /// [B, 3, T, S, S] tensor per view name, in the spec's order. On <paramref name="device"/>.
    /// </summary>
    /// <param name="labels">Attach each row's label (<see cref="PretrainBatch.Labels"/>; a video's repeated views share it).</param>
    public static PretrainBatch Views(ClipBatch batch, MultiViewSpec? spec, Device device, long step, int micro = 0, bool labels = false)
    {
        var views = Views(batch.Data, [.. batch.Shape.Select(s => (long)s)], spec, device, step, micro);
        if (!labels)
        {
            return views;
        }
        // Repeated augmentation folded k clips of a video into k consecutive rows; views of a multi-view item are one row.
        var rows = (int)views.Views.Values.First().Size(0);
        var perVideo = rows / batch.Size;
        return views with { Labels = [.. Enumerable.Range(0, rows).Select(r => batch.Labels[r / perVideo])] };
    }

    /// <inheritdoc cref="Views(ClipBatch, MultiViewSpec?, Device, long, int)"/>
    public static PretrainBatch Views(float[] data, long[] shape, MultiViewSpec? spec, Device device, long step, int micro = 0)
    {
        if (spec is null)
        {
            if (shape.Length == 6)
            {
                shape = [shape[0] * shape[1], .. shape[2..]];
            }
            return PretrainBatch.OfClips(ToDevice(data, shape, device), step, micro);
        }
        if (shape.Length != 2 || shape[1] != spec.ItemFloats)
        {
            throw new InvalidOperationException(
                $"a batch of shape [{string.Join(", ", shape)}] does not hold the views {string.Join(", ", spec.Views.Select(v => v.Name))} ({spec.ItemFloats} floats per item): the loader does not run the multi-view pipeline");
        }
        var items = ToDevice(data, shape, device);
        var views = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var view in spec.Views)
        {
            views[view.Name] = items.Narrow(1, offset, view.Floats).Reshape([shape[0], .. view.Shape.Select(d => (long)d)]);
            offset += view.Floats;
        }
        return new PretrainBatch(views, step, micro);
    }

    private static Tensor ToDevice(float[] data, long[] shape, Device device)
    {
        var count = shape.Aggregate(1L, (a, b) => a * b);
        var host = Tensor.From<float>(data.AsSpan(0, checked((int)count)), shape);
        return device.IsCuda ? host.To(device, nonBlocking: false) : host;
    }
}
