using System.Globalization;
using System.Text;
using System.Text.Json;
using VideoSSL.Data.Loading;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>What a test pass gives: per-video predictions (view-averaged softmax), metrics, and the mean per-view loss.</summary>
public sealed record EvalResult(ClassificationMetrics Metrics, IReadOnlyList<VideoPrediction> Predictions, double Loss, int Views)
{
    /// <summary>The off-diagonal cells of the confusion matrix with the most videos, largest first (ties: lower classes first).</summary>
    public IReadOnlyList<(int True, int Predicted, long Count)> TopConfusions(int k)
    {
        var cells = new List<(int, int, long)>();
        var m = Metrics.ConfusionMatrix;
        for (var t = 0; t < m.GetLength(0); t++)
        {
            for (var p = 0; p < m.GetLength(1); p++)
            {
                if (t != p && m[t, p] > 0)
                {
                    cells.Add((t, p, m[t, p]));
                }
            }
        }
        return [.. cells.OrderByDescending(c => c.Item3).ThenBy(c => c.Item1).ThenBy(c => c.Item2).Take(k)];
    }
}

/// <summary>
/// Multi-view testing (VideoMAE's final_test, V-JEPA's eval): every view of every video goes through the model, the
/// per-view SOFTMAX is averaged per video (<see cref="MultiViewAggregator"/>), and top-1/top-5/mean class accuracy are
/// taken over videos. The loader's items carry the views ([B, V, 3, T, H, W]).
/// </summary>
public static class Evaluator
{
    /// <param name="logits">Clips [rows, 3, T, H, W] on the device → logits [rows, classes]. Called under no-grad.</param>
    /// <param name="distributed">Data parallelism: each rank tests its shard of the loader; every batch's logits are gathered and
    /// the DistributedSampler padding dropped, so every rank ends with the predictions of one process, in the same order.</param>
    public static EvalResult Run(Func<Tensor, Tensor> logits, ClipLoader loader, int numClasses, Device device, bool autocast, TextWriter? output = null,
        DistributedContext? distributed = null)
    {
        var aggregator = new MultiViewAggregator(numClasses);
        var lossSum = 0.0;
        long rows = 0;
        var views = 0;
        var batches = loader.BatchesPerEpoch;
        var done = 0;
        using var noGrad = Torch.NoGrad();
        foreach (var batch in loader.Epoch(0))
        {
            var views1 = ViewBatch.From(batch);
            views = views1.Views;
            using var scope = Torch.NewScope();
            Tensor scores;
            using (autocast && device.IsCuda ? Torch.Autocast(device) : null)
            {
                scores = logits(views1.Clips(device));
            }
            scores = scores.Float();
            if (distributed is { IsDistributed: true })
            {
                views1 = Gather(distributed, loader, batch, views1, ref scores, numClasses);
            }
            lossSum += Torch.CrossEntropy(scores, views1.LabelTensor(device), reduction: Reduction.Sum).Item();
            rows += views1.Rows;
            aggregator.Add(views1.VideoIds, views1.Labels, scores, views1.ViewKeys);
            done++;
            if (output is not null && (done % 20 == 0 || done == batches))
            {
                output.WriteLine($"test: {done}/{batches} batches");
            }
        }
        var predictions = aggregator.Results();
        return new EvalResult(Metrics.Compute(predictions, numClasses), predictions, lossSum / Math.Max(1, rows), views);
    }

    /// <summary>
    /// All ranks' rows of one batch in the order one process sees them (rank r's video j is position j·W + r of the epoch),
    /// padding rows (positions past the dataset) left out. Label and dataset index travel with the logits.
    /// </summary>
    private static ViewBatch Gather(DistributedContext dist, ClipLoader loader, ClipBatch batch, ViewBatch local, ref Tensor scores, int numClasses)
    {
        var views = local.Views;
        var rows = local.Rows;
        var meta = new float[rows * 2];
        for (var row = 0; row < rows; row++)
        {
            meta[2 * row] = local.Labels[row];
            meta[(2 * row) + 1] = batch.SampleIndices[row / views];
        }
        var packed = Torch.Cat([scores, Tensor.From(meta, rows, 2).To(scores.Device)], 1);
        var all = dist.AllGather(packed).Cpu().ToArray<float>();  // [W, rows, C + 2]
        var width = numClasses + 2;
        var kept = new List<(int Rank, int Row)>();
        for (var video = 0; video < rows / views; video++)
        {
            for (var rank = 0; rank < dist.WorldSize; rank++)
            {
                var position = ((((long)batch.Index * loader.BatchSize) + video) * dist.WorldSize) + rank;
                if (position < loader.DatasetCount)
                {
                    kept.AddRange(Enumerable.Range(video * views, views).Select(row => (rank, row)));
                }
            }
        }
        var logits = new float[kept.Count * numClasses];
        var labels = new int[kept.Count];
        var indices = new int[kept.Count / views];
        for (var k = 0; k < kept.Count; k++)
        {
            var offset = ((kept[k].Rank * rows) + kept[k].Row) * width;
            all.AsSpan(offset, numClasses).CopyTo(logits.AsSpan(k * numClasses));
            labels[k] = (int)all[offset + numClasses];
            indices[k / views] = (int)all[offset + numClasses + 1];
        }
        scores = Tensor.From(logits, kept.Count, numClasses).To(scores.Device);
        return ViewBatch.FromRows(labels, [.. indices.Select(loader.SampleId)], views);
    }

    /// <summary>
    /// Writes predictions.csv, metrics.json (top-1, top-5, mean class accuracy, loss, counts) and confused_pairs.txt into
    /// <paramref name="dir"/>; returns the text report (also printed by the CLI).
    /// </summary>
    public static string WriteReport(string dir, EvalResult result, IReadOnlyList<string>? classNames = null, int topPairs = 20)
    {
        Directory.CreateDirectory(dir);
        PredictionsCsv.Write(Path.Combine(dir, "predictions.csv"), result.Predictions);
        var m = result.Metrics;
        var summary = new Dictionary<string, object>
        {
            ["videos"] = m.Count,
            ["views_per_video"] = result.Views,
            ["top1"] = m.Top1,
            ["top5"] = m.Top5,
            ["mean_class_accuracy"] = m.MeanClassAccuracy,
            ["loss"] = result.Loss,
        };
        RunDirectory.AtomicWrite(Path.Combine(dir, "metrics.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        string Name(int c) => classNames is not null && c < classNames.Count ? $"{c} ({classNames[c]})" : c.ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{m.Count} videos x {result.Views} views: top-1 {m.Top1 * 100:F2}%  top-5 {m.Top5 * 100:F2}%  mean class accuracy {m.MeanClassAccuracy * 100:F2}%  loss {result.Loss:F4}\n");
        var pairs = result.TopConfusions(topPairs);
        text.Append(pairs.Count == 0 ? "no confusions\n" : "most confused (true -> predicted: videos):\n");
        foreach (var (t, p, count) in pairs)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {Name(t)} -> {Name(p)}: {count}\n");
        }
        RunDirectory.AtomicWrite(Path.Combine(dir, "confused_pairs.txt"), text.ToString());
        return text.ToString();
    }
}
