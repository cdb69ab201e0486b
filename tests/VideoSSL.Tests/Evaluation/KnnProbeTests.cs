using VideoSSL.Tests.Serialization;
using VideoSSL.Torch;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// The k-NN probe against a transcription of SVT's <c>knn_classifier</c> (tools/reference/knn_reference.py, run by
/// /usr/bin/python3 with torch 1.13) on identical features: votes to 1e-5 (relative), predictions and top-1 exact.
/// </summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public sealed class KnnProbeTests
{
    private static readonly Lazy<string> s_fixture = new(() =>
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("vssl-knn-").FullName, "knn.pth");
        var script = Path.Combine(RepoPaths.Root, "tools", "reference", "knn_reference.py");
        SystemPython.RunWithTorch(File.ReadAllText(script), "fixtures", path);
        return path;
    });

    [Theory]
    [InlineData(10)]
    [InlineData(20)]
    [InlineData(100)]
    [InlineData(200)]
    public void Knn_matches_the_official_classifier(int k)
    {
        var io = Weights.Load(s_fixture.Value);
        try
        {
            using var scope = Torch.NewScope();
            var trainLabels = io["train_labels"].ToArray<long>();
            var testLabels = io["test_labels"].ToArray<long>();
            // Raw (unnormalised) features: the probe normalises them itself, as extract_feature_pipeline does.
            var votes = KnnProbe.Votes(io["train_raw"], trainLabels, io["test_raw"], k, 7, KnnProbe.DefaultTemperature);
            var expected = io[$"votes_{k}"].ToArray<float>();
            var actual = votes.ToArray<float>();
            Assert.Equal(expected.Length, actual.Length);
            var worst = 0.0;
            for (var i = 0; i < expected.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i])));
            }
            Assert.True(worst <= 1e-5, $"max relative |official - ours| = {worst:G3}");
            Assert.Equal(io[$"votes_{k}"].ArgMax(1).ToArray<long>(), votes.ArgMax(1).ToArray<long>());
            Assert.Equal(io[$"top1_{k}"].ToArray<double>()[0], KnnProbe.Accuracy(votes, testLabels) * 100, 9);
        }
        finally
        {
            foreach (var t in io.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Knn_caps_k_at_the_training_set_and_rejects_bad_input()
    {
        using var scope = Torch.NewScope();
        var train = Tensor.From(new float[] { 1, 0, 0, 1, -1, 0 }, 3, 2);
        var votes = KnnProbe.Votes(train, [0, 1, 0], Tensor.From(new float[] { 0.9f, 0.1f }, 1, 2), 200, 2);
        Assert.Equal(0L, votes.ArgMax(1).ToArray<long>()[0]);
        Assert.Throws<ArgumentException>(() => KnnProbe.Votes(train, [0, 1], train, 1, 2));
        Assert.Throws<ArgumentException>(() => KnnProbe.Votes(train, [0, 1, 5], train, 1, 2));
    }
}
