using VideoSSL.Torch;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>A video's averaged class probabilities over its test views.</summary>
public sealed record VideoPrediction(string VideoId, int Label, float[] Probabilities, int Views);

/// <summary>
/// Multi-view testing (VideoMAE's final_test + merge, V-JEPA's eval): per video, the SOFTMAX of each view's logits
/// is averaged, not the logits (averaging logits costs accuracy, a known pitfall). A view key seen twice for one
/// video is skipped, as VideoMAE's merge does for samples a distributed sampler repeated.
/// </summary>
public sealed class MultiViewAggregator
{
    private readonly Dictionary<string, Entry> _videos = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public MultiViewAggregator(int numClasses)
    {
        if (numClasses < 1)
        {
            throw new ArgumentException($"numClasses must be positive (got {numClasses})");
        }
        NumClasses = numClasses;
    }

    public int NumClasses { get; }

    public int VideoCount => _videos.Count;

    /// <summary>
    /// Adds a batch of view logits [B, classes]. <paramref name="viewKeys"/> names each row's view (e.g. "clip2-crop1");
    /// without keys every row counts as a new view.
    /// </summary>
    public void Add(IReadOnlyList<string> videoIds, IReadOnlyList<int> labels, Tensor logits, IReadOnlyList<string>? viewKeys = null)
    {
        if (logits.Dim != 2 || logits.Size(1) != NumClasses)
        {
            throw new ArgumentException($"expected logits [B, {NumClasses}], got [{string.Join(", ", logits.Shape)}]");
        }
        var batch = (int)logits.Size(0);
        if (videoIds.Count != batch || labels.Count != batch || (viewKeys is not null && viewKeys.Count != batch))
        {
            throw new ArgumentException($"{batch} logit rows but {videoIds.Count} video ids, {labels.Count} labels{(viewKeys is null ? string.Empty : $", {viewKeys.Count} view keys")}");
        }
        float[] probabilities;
        using (Torch.NoGrad())
        using (var scope = Torch.NewScope())
        {
            // Softmax in float32 on the device, whatever the logits' dtype (bf16 under autocast).
            probabilities = logits.Detach().Softmax(1, ScalarType.Float32).Cpu().ToArray<float>();
        }
        for (var i = 0; i < batch; i++)
        {
            Add(videoIds[i], labels[i], probabilities.AsSpan(i * NumClasses, NumClasses), viewKeys?[i]);
        }
    }

    /// <summary>Adds one view's class probabilities (already softmaxed).</summary>
    public void Add(string videoId, int label, ReadOnlySpan<float> probabilities, string? viewKey = null)
    {
        if (probabilities.Length != NumClasses)
        {
            throw new ArgumentException($"video '{videoId}': {probabilities.Length} probabilities for {NumClasses} classes");
        }
        if (label < 0 || label >= NumClasses)
        {
            throw new ArgumentException($"video '{videoId}': label {label} is outside [0, {NumClasses})");
        }
        if (!_videos.TryGetValue(videoId, out var entry))
        {
            entry = new Entry(label, new double[NumClasses]);
            _videos[videoId] = entry;
            _order.Add(videoId);
        }
        else if (entry.Label != label)
        {
            throw new InvalidOperationException($"video '{videoId}' has label {entry.Label} in one view and {label} in another");
        }
        if (viewKey is not null && !entry.ViewKeys.Add(viewKey))
        {
            return;
        }
        for (var c = 0; c < NumClasses; c++)
        {
            entry.Sum[c] += probabilities[c];
        }
        entry.Views++;
    }

    /// <summary>One prediction per video, in the order videos were first seen.</summary>
    public List<VideoPrediction> Results()
    {
        var results = new List<VideoPrediction>(_order.Count);
        foreach (var id in _order)
        {
            var entry = _videos[id];
            var mean = new float[NumClasses];
            for (var c = 0; c < NumClasses; c++)
            {
                mean[c] = (float)(entry.Sum[c] / entry.Views);
            }
            results.Add(new VideoPrediction(id, entry.Label, mean, entry.Views));
        }
        return results;
    }

    private sealed class Entry(int label, double[] sum)
    {
        public int Label { get; } = label;
        public double[] Sum { get; } = sum;
        public int Views { get; set; }
        public HashSet<string> ViewKeys { get; } = new(StringComparer.Ordinal);
    }
}
