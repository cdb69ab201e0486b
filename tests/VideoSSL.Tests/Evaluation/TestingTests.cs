using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Evaluation;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

public class TestingTests
{
    [Fact]
    public void Views_are_averaged_as_softmax_where_averaging_logits_would_pick_another_class()
    {
        // One confident view for class 0, two moderate views for class 1. Mean logits [3.33, 1.33] pick class 0;
        // mean probabilities ≈ [0.413, 0.587] pick class 1, as the official test code computes.
        var aggregator = new MultiViewAggregator(2);
        using var scope = NewScope();
        aggregator.Add(["v", "v", "v"], [1, 1, 1], TensorT.From(new float[] { 10, 0, 0, 2, 0, 2 }, 3, 2), ["0-0", "1-0", "2-0"]);
        var prediction = Assert.Single(aggregator.Results());
        Assert.Equal(3, prediction.Views);
        var p0 = (Softmax2(10, 0) + Softmax2(0, 2) + Softmax2(0, 2)) / 3;
        Assert.Equal(p0, prediction.Probabilities[0], 5);
        Assert.Equal(1 - p0, prediction.Probabilities[1], 5);
        var metrics = Metrics.Compute(aggregator.Results(), 2);
        Assert.Equal(1.0, metrics.Top1);
    }

    [Fact]
    public void A_repeated_view_is_counted_once_and_conflicting_labels_are_an_error()
    {
        var aggregator = new MultiViewAggregator(3);
        using var scope = NewScope();
        aggregator.Add(["a", "b", "a"], [2, 0, 2], TensorT.From(new float[] { 0, 0, 5, 1, 0, 0, 0, 0, 5 }, 3, 3), ["x", "x", "x"]);
        var results = aggregator.Results();
        Assert.Equal(["a", "b"], results.Select(r => r.VideoId).ToArray());
        Assert.Equal(1, results[0].Views);
        Assert.Throws<InvalidOperationException>(() => aggregator.Add("a", 1, new float[] { 1, 0, 0 }));
        Assert.Throws<ArgumentException>(() => aggregator.Add("c", 3, new float[] { 1, 0, 0 }));
        Assert.Throws<ArgumentException>(() => aggregator.Add(["a"], [2], TensorT.From(new float[] { 1, 2 }, 1, 2)));
    }

    [Fact]
    public void Top_k_on_a_hand_made_example()
    {
        float[][] scores =
        [
            [0.1f, 0.5f, 0.2f, 0.05f, 0.05f, 0.1f], // label 1: top-1 hit
            [0.3f, 0.1f, 0.2f, 0.15f, 0.15f, 0.1f], // label 2: second → top-5 hit only
            [0.9f, 0.02f, 0.02f, 0.02f, 0.02f, 0.02f], // label 5: ties at 0.02 go to lower indices, so 5 is 6th → miss
        ];
        int[] labels = [1, 2, 5];
        Assert.Equal([0, 1, 2, 3, 4], Metrics.TopK(scores[2], 5));
        Assert.Equal([1, 2, 0], Metrics.TopK(scores[0], 3));
        Assert.Equal(1 / 3.0, Metrics.TopKAccuracy(scores, labels, 1), 12);
        Assert.Equal(2 / 3.0, Metrics.TopKAccuracy(scores, labels, 5), 12);
        var metrics = Metrics.Compute(scores, labels, 6);
        Assert.Equal(1 / 3.0, metrics.Top1, 12);
        Assert.Equal(2 / 3.0, metrics.Top5, 12);
    }

    [Fact]
    public void Mean_class_accuracy_and_confusion_matrix_on_a_hand_example()
    {
        // Class 0: 3 of 3 right; class 1: 0 of 1 (predicted 0); class 2: 1 of 2 (one predicted 1). Class 3 never occurs.
        float[][] scores =
        [
            [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0],
            [1, 0, 0, 0],
            [0, 0, 1, 0], [0, 1, 0, 0],
        ];
        int[] labels = [0, 0, 0, 1, 2, 2];
        var metrics = Metrics.Compute(scores, labels, 4);
        Assert.Equal(4 / 6.0, metrics.Top1, 12);
        Assert.Equal((1.0 + 0.0 + 0.5) / 3, metrics.MeanClassAccuracy, 12);
        Assert.Equal(6, metrics.Count);
        var expected = new long[,] { { 3, 0, 0, 0 }, { 1, 0, 0, 0 }, { 0, 1, 1, 0 }, { 0, 0, 0, 0 } };
        Assert.Equal(expected, metrics.ConfusionMatrix);
    }

    [Fact]
    public void Predictions_csv_lists_top5_ids_and_scores_and_escapes_ids()
    {
        var dir = Directory.CreateTempSubdirectory("videossl-eval-");
        try
        {
            var path = Path.Combine(dir.FullName, "predictions.csv");
            VideoPrediction[] rows =
            [
                new("clip,1", 3, [0.1f, 0.05f, 0.3f, 0.4f, 0.1f, 0.05f], 6),
                new("say \"hi\"", 0, [0.5f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f], 6),
            ];
            PredictionsCsv.Write(path, rows);
            var lines = File.ReadAllLines(path);
            Assert.Equal("video,label,pred_1,score_1,pred_2,score_2,pred_3,score_3,pred_4,score_4,pred_5,score_5", lines[0]);
            Assert.Equal("\"clip,1\",3,3,0.4,2,0.3,0,0.1,4,0.1,1,0.05", lines[1]);
            Assert.StartsWith("\"say \"\"hi\"\"\",0,0,0.5,1,0.1,", lines[2]);
            Assert.Equal(3, lines.Length);
            Assert.Single(dir.GetFiles()); // no temp file left behind
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static double Softmax2(double a, double b) => Math.Exp(a) / (Math.Exp(a) + Math.Exp(b));
}
