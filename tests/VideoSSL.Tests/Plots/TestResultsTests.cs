using VideoSSL.Plots;

namespace VideoSSL.Tests.Plots;

public sealed class TestResultsTests
{
    [Fact]
    public void Accuracies_confusion_and_per_class_come_from_predictions_csv()
    {
        using var run = new TempRun().WithFile("test/predictions.csv", TempRun.Predictions([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2], classes: 3));

        var results = TestResults.Read(Path.Combine(run.Dir, "test", "predictions.csv"));

        Assert.Equal(6, results.Count);
        Assert.Equal(4 / 6.0, results.Top1, 12);
        Assert.Equal(1, results.Top5, 12); // 3 classes: every label is in the top 3
        var confusion = results.Confusion();
        Assert.Equal(1, confusion[0, 1]);
        Assert.Equal(2, confusion[1, 1]);
        Assert.Equal(1, confusion[2, 0]);
        Assert.Equal([(2, 0.5), (2, 1.0), (2, 0.5)], results.PerClass());
    }

    [Fact]
    public void Bootstrap_interval_holds_the_estimate_is_reproducible_and_shrinks_with_more_videos()
    {
        int[] Labels(int n) => [.. Enumerable.Range(0, n).Select(i => i % 4)];
        int[] Half(int n) => [.. Enumerable.Range(0, n).Select(i => i % 2 == 0 ? i % 4 : (i + 1) % 4)];
        using var small = new TempRun().WithFile("p.csv", TempRun.Predictions(Labels(40), Half(40), 4));
        using var large = new TempRun().WithFile("p.csv", TempRun.Predictions(Labels(1000), Half(1000), 4));

        var a = TestResults.Read(Path.Combine(small.Dir, "p.csv")).Bootstrap(1);
        var b = TestResults.Read(Path.Combine(large.Dir, "p.csv")).Bootstrap(1);

        Assert.Equal(0.5, a.Value, 12);
        Assert.InRange(0.5, a.Low, a.High);
        Assert.True(a.High - a.Low > 0.15, $"40 videos: {a}"); // about 2 x 1.96 x sqrt(0.25 / 40) = 0.31
        Assert.True(b.High - b.Low < 0.08, $"1000 videos: {b}"); // about 0.062
        Assert.Equal(a, TestResults.Read(Path.Combine(small.Dir, "p.csv")).Bootstrap(1));
    }

    [Fact]
    public void A_bad_row_names_file_and_line()
    {
        using var run = new TempRun().WithFile("p.csv", "video,label,pred_1,score_1\nv0,1,1,0.5\nv1,x,1,0.5\n");
        var e = Assert.Throws<InvalidDataException>(() => TestResults.Read(Path.Combine(run.Dir, "p.csv")));
        Assert.Contains("p.csv:3", e.Message);
    }
}
