using System.Globalization;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.EvaluationRuns;

public class EvaluatorTests
{
    // Each video has three views whose "clip" [3, 1, 1, 1] IS the logit vector: the model only flattens it.
    private static readonly float[][][] s_viewLogits =
    [
        [[8, 0, 0], [0, 0, 3], [0, 0, 3]], // logit mean picks 0; the softmax mean picks 2 (label 2)
        [[1, 2, 0], [0, 2, 1], [0, 3, 0]], // 1 (label 1)
        [[0, 0, 5], [0, 0, 4], [0, 1, 4]], // 2, but the label is 0
    ];

    private static readonly int[] s_labels = [2, 1, 0];

    [Fact]
    public void Multi_view_eval_averages_softmax_and_writes_the_expected_predictions()
    {
        var samples = Enumerable.Range(0, 3).Select(i => new VideoSample($"v{i}.mp4", s_labels[i], $"video{i}")).ToList();
        var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1, ["c"] = 2 });
        var loader = new ClipLoader(dataset, (sample, _, index, _) =>
            ClipBatchItem.Create([.. s_viewLogits[index].SelectMany(v => v)], [3, 3, 1, 1, 1], sample.Label),
            new ClipLoaderOptions { BatchSize = 2, Workers = 0, Shuffle = false, DropLast = false });
        var result = Evaluator.Run(clips => clips.Flatten(1), loader, 3, VideoSSL.Torch.Device.CPU, autocast: false);

        Assert.Equal(3, result.Views);
        Assert.Equal(2.0 / 3, result.Metrics.Top1, 12);
        Assert.Equal(1.0, result.Metrics.Top5, 12);
        Assert.Equal(1, result.Metrics.ConfusionMatrix[0, 2]);
        Assert.Equal([(0, 2, 1L)], result.TopConfusions(5));

        var dir = Directory.CreateTempSubdirectory("vssl-evaltest-").FullName;
        var text = Evaluator.WriteReport(dir, result, ["a", "b", "c"]);
        Assert.Contains("0 (a) -> 2 (c): 1", text, StringComparison.Ordinal);
        var rows = File.ReadAllLines(Path.Combine(dir, "predictions.csv"));
        Assert.Equal("video,label,pred_1,score_1,pred_2,score_2,pred_3,score_3", rows[0]);
        Assert.Equal(4, rows.Length);
        for (var v = 0; v < 3; v++)
        {
            var expected = MeanSoftmax(s_viewLogits[v]);
            var ranked = Enumerable.Range(0, 3).OrderByDescending(c => expected[c]).ToArray();
            var fields = rows[v + 1].Split(',');
            Assert.Equal($"video{v}", fields[0]);
            Assert.Equal(s_labels[v].ToString(CultureInfo.InvariantCulture), fields[1]);
            for (var k = 0; k < 3; k++)
            {
                Assert.Equal(ranked[k], int.Parse(fields[2 + 2 * k], CultureInfo.InvariantCulture));
                Assert.Equal(expected[ranked[k]], double.Parse(fields[3 + 2 * k], CultureInfo.InvariantCulture), 5);
            }
        }
        Assert.Equal("2", rows[1].Split(',')[2]); // the softmax mean, not the logit mean
    }

    private static double[] MeanSoftmax(float[][] views)
    {
        var mean = new double[3];
        foreach (var logits in views)
        {
            var max = logits.Max();
            var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
            var sum = exp.Sum();
            for (var c = 0; c < 3; c++)
            {
                mean[c] += exp[c] / sum / views.Length;
            }
        }
        return mean;
    }
}
