using System.Globalization;
using System.Text;
using System.Text.Json;
using VideoSSL.Data.Loading;
using VideoSSL.Torch;

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
    public static EvalResult Run(Func<Tensor, Tensor> logits, ClipLoader loader, int numClasses, Device device, bool autocast, TextWriter? output = null)
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
