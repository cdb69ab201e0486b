using System.Globalization;
using System.Text;
using MathNet.Numerics.Random;
using MathNet.Numerics.Statistics;

namespace VideoSSL.Plots;

/// <summary>A value with its 95% confidence interval.</summary>
public readonly record struct Interval(double Value, double Low, double High)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Value * 100:F1}% [{Low * 100:F1}, {High * 100:F1}]");
}

/// <summary>
/// A mean over independent runs (e.g. pretraining seeds) with its 95% Student-t interval: what a figure that varies by
/// several points from seed to seed needs before two recipes are compared. One value gives no interval (NaN bounds).
/// </summary>
public readonly record struct SeedMean(double Mean, double StdDev, double Low, double High, int Count)
{
    public static SeedMean Of(IReadOnlyList<double> values)
    {
        var n = values.Count;
        if (n == 0)
        {
            return new SeedMean(double.NaN, double.NaN, double.NaN, double.NaN, 0);
        }
        var mean = values.Average();
        if (n == 1)
        {
            return new SeedMean(mean, double.NaN, double.NaN, double.NaN, 1);
        }
        var sd = Statistics.StandardDeviation(values);  // n - 1 in the denominator
        var half = MathNet.Numerics.Distributions.StudentT.InvCDF(0, 1, n - 1, 0.975) * sd / Math.Sqrt(n);
        return new SeedMean(mean, sd, mean - half, mean + half, n);
    }
}

/// <summary>
/// A classifier's test results read back from predictions.csv (<c>video,label,pred_1,score_1,...</c>, one row per
/// video, views already averaged): top-1 / top-5, per-class accuracy, the confusion matrix and bootstrap confidence
/// intervals over the test videos.
/// </summary>
public sealed class TestResults
{
    private TestResults(string path, int[] labels, int[][] topK, int classCount)
    {
        Path = path;
        Labels = labels;
        TopK = topK;
        ClassCount = classCount;
    }

    public string Path { get; }

    /// <summary>True class of each video.</summary>
    public int[] Labels { get; }

    /// <summary>Predicted classes of each video, best first (up to 5).</summary>
    public int[][] TopK { get; }

    public int ClassCount { get; }
    public int Count => Labels.Length;

    public double Top1 => Mean(Hits(1));
    public double Top5 => Mean(Hits(5));

    /// <summary>Reads predictions.csv; <paramref name="classCount"/> (0: from the file) sizes the confusion matrix.</summary>
    public static TestResults Read(string path, int classCount = 0)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || !lines[0].StartsWith("video,label", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}:1: expected the header 'video,label,pred_1,score_1,...'");
        }
        var labels = new List<int>();
        var topK = new List<int[]>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }
            var fields = SplitCsv(lines[i]);
            if (fields.Count < 3 || fields.Count % 2 != 0)
            {
                throw new InvalidDataException($"{path}:{i + 1}: expected video,label and (pred, score) pairs, found {fields.Count} fields");
            }
            labels.Add(ParseInt(fields[1], path, i + 1));
            topK.Add([.. Enumerable.Range(0, (fields.Count - 2) / 2).Select(j => ParseInt(fields[2 + (2 * j)], path, i + 1))]);
        }
        var seen = labels.Concat(topK.SelectMany(p => p)).DefaultIfEmpty(-1).Max() + 1;
        return new TestResults(path, [.. labels], [.. topK], Math.Max(classCount, seen));
    }

    /// <summary>1 where the label is among the first k predictions, else 0.</summary>
    public double[] Hits(int k) => [.. Labels.Select((label, i) => TopK[i].Take(k).Contains(label) ? 1.0 : 0.0)];

    /// <summary>
    /// 95% percentile-bootstrap interval of top-k accuracy: <paramref name="resamples"/> resamples of the test videos
    /// with replacement (Mersenne Twister with a fixed seed, so a report is reproducible).
    /// </summary>
    public Interval Bootstrap(int k, int resamples = 2000, int seed = 0) => Bootstrap(Hits(k), resamples, seed);

    /// <summary>
    /// The same interval for per-video scores in [0, 1], e.g. the fraction of several probes that got each video right.
    /// </summary>
    public static Interval Bootstrap(double[] hits, int resamples = 2000, int seed = 0)
    {
        if (hits.Length == 0)
        {
            return new Interval(double.NaN, double.NaN, double.NaN);
        }
        var random = new MersenneTwister(seed);
        var means = new double[resamples];
        for (var b = 0; b < resamples; b++)
        {
            double sum = 0;
            for (var i = 0; i < hits.Length; i++)
            {
                sum += hits[random.Next(hits.Length)];
            }
            means[b] = sum / hits.Length;
        }
        return new Interval(Mean(hits), Statistics.Quantile(means, 0.025), Statistics.Quantile(means, 0.975));
    }

    /// <summary>Counts [true, predicted] of the top-1 predictions.</summary>
    public long[,] Confusion()
    {
        var counts = new long[ClassCount, ClassCount];
        for (var i = 0; i < Count; i++)
        {
            if (TopK[i].Length > 0)
            {
                counts[Labels[i], TopK[i][0]]++;
            }
        }
        return counts;
    }

    /// <summary>Per class: videos and top-1 accuracy (NaN for a class with no test video).</summary>
    public IReadOnlyList<(int Videos, double Accuracy)> PerClass()
    {
        var videos = new int[ClassCount];
        var correct = new int[ClassCount];
        for (var i = 0; i < Count; i++)
        {
            videos[Labels[i]]++;
            correct[Labels[i]] += TopK[i].Length > 0 && TopK[i][0] == Labels[i] ? 1 : 0;
        }
        return [.. Enumerable.Range(0, ClassCount).Select(c => (videos[c], videos[c] == 0 ? double.NaN : correct[c] / (double)videos[c]))];
    }

    private static double Mean(double[] values) => values.Length == 0 ? double.NaN : values.Average();

    private static int ParseInt(string text, string path, int line) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new InvalidDataException($"{path}:{line}: '{text}' is not a class id");

    // RFC 4180 fields, as PredictionsCsv writes them (quoted when holding a comma or quote).
    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }
        fields.Add(field.ToString());
        return fields;
    }
}
