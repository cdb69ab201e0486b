namespace VideoSSL.Training.Evaluation;

/// <summary>Classification results over a test set. Accuracies are fractions in [0, 1].</summary>
/// <param name="ConfusionMatrix">[true class, predicted class] counts of the top-1 predictions.</param>
/// <param name="MeanClassAccuracy">Mean over the classes present in the labels of each class's top-1 recall.</param>
public sealed record ClassificationMetrics(int Count, double Top1, double Top5, double MeanClassAccuracy, long[,] ConfusionMatrix);

public static class Metrics
{
    /// <summary>Metrics of per-video predictions (from <see cref="MultiViewAggregator.Results"/>).</summary>
    public static ClassificationMetrics Compute(IReadOnlyList<VideoPrediction> predictions, int numClasses) =>
        Compute(predictions.Select(p => p.Probabilities).ToList(), predictions.Select(p => p.Label).ToList(), numClasses);

    /// <summary>Metrics of per-sample scores (probabilities or logits: only their order matters).</summary>
    public static ClassificationMetrics Compute(IReadOnlyList<float[]> scores, IReadOnlyList<int> labels, int numClasses)
    {
        if (scores.Count != labels.Count)
        {
            throw new ArgumentException($"{scores.Count} score rows but {labels.Count} labels");
        }
        var confusion = new long[numClasses, numClasses];
        var top1 = 0;
        var top5 = 0;
        for (var i = 0; i < scores.Count; i++)
        {
            if (scores[i].Length != numClasses)
            {
                throw new ArgumentException($"row {i} has {scores[i].Length} scores for {numClasses} classes");
            }
            var label = labels[i];
            if (label < 0 || label >= numClasses)
            {
                throw new ArgumentException($"row {i}: label {label} is outside [0, {numClasses})");
            }
            var ranked = TopK(scores[i], Math.Min(5, numClasses));
            confusion[label, ranked[0]]++;
            top1 += ranked[0] == label ? 1 : 0;
            top5 += Array.IndexOf(ranked, label) >= 0 ? 1 : 0;
        }
        var n = Math.Max(1, scores.Count);
        return new ClassificationMetrics(scores.Count, (double)top1 / n, (double)top5 / n, MeanClassAccuracy(confusion), confusion);
    }

    /// <summary>Fraction of rows whose label is among the k highest scores.</summary>
    public static double TopKAccuracy(IReadOnlyList<float[]> scores, IReadOnlyList<int> labels, int k)
    {
        var hits = 0;
        for (var i = 0; i < scores.Count; i++)
        {
            hits += Array.IndexOf(TopK(scores[i], Math.Min(k, scores[i].Length)), labels[i]) >= 0 ? 1 : 0;
        }
        return scores.Count == 0 ? 0 : (double)hits / scores.Count;
    }

    /// <summary>Indices of the k highest scores, highest first; ties go to the lower class index.</summary>
    public static int[] TopK(ReadOnlySpan<float> scores, int k)
    {
        var indices = new int[scores.Length];
        for (var c = 0; c < indices.Length; c++)
        {
            indices[c] = c;
        }
        var copy = scores.ToArray();
        // A stable descending order: NaN scores sort last so they never win.
        Array.Sort(indices, (a, b) =>
        {
            var byScore = Key(copy[b]).CompareTo(Key(copy[a]));
            return byScore != 0 ? byScore : a.CompareTo(b);
        });
        return indices[..Math.Min(k, indices.Length)];

        static float Key(float v) => float.IsNaN(v) ? float.NegativeInfinity : v;
    }

    /// <summary>Mean of per-class recall over the classes that occur (rows of the confusion matrix with any count).</summary>
    public static double MeanClassAccuracy(long[,] confusion)
    {
        var classes = confusion.GetLength(0);
        var sum = 0.0;
        var present = 0;
        for (var c = 0; c < classes; c++)
        {
            long total = 0;
            for (var p = 0; p < confusion.GetLength(1); p++)
            {
                total += confusion[c, p];
            }
            if (total > 0)
            {
                sum += (double)confusion[c, c] / total;
                present++;
            }
        }
        return present == 0 ? 0 : sum / present;
    }
}
