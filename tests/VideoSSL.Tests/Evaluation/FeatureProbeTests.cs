using VideoSSL.Torch;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Evaluation;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

public sealed class FeatureProbeTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("videossl-features-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Feature_cache_round_trip_is_exact()
    {
        var path = Path.Combine(_dir.FullName, "train.safetensors");
        var rng = new Random(1);
        var data = Enumerable.Range(0, 7 * 5).Select(_ => (float)(rng.NextDouble() * 2e6 - 1e6) / 3).ToArray();
        data[3] = float.Epsilon;
        data[4] = -0f;
        long[] labels = [0, 4, 2, 2, 1, 3, 400];
        string[] ids = ["a/b.mp4", "clip,2", "ünïcode", "quote\"d", "", "new\nline", "7"];
        using (var scope = NewScope())
        {
            FeatureCache.Write(path, TensorT.From(data, 7, 5), labels, ids, new Dictionary<string, string> { ["encoder"] = "vit_tiny" });
        }
        using var cached = FeatureCache.Read(path);
        Assert.Equal([7L, 5L], cached.Features.Shape);
        Assert.Equal(ScalarType.Float32, cached.Features.Dtype);
        Assert.Equal(
            data.Select(BitConverter.SingleToInt32Bits).ToArray(),
            cached.Features.ToArray<float>().Select(BitConverter.SingleToInt32Bits).ToArray());
        Assert.Equal(labels, cached.Labels);
        Assert.Equal(ids, cached.VideoIds);
        Assert.Equal("vit_tiny", cached.Metadata["encoder"]);
        Assert.False(cached.Metadata.ContainsKey(FeatureCache.VideoIdsKey));
    }

    [Fact]
    public void Feature_cache_rejects_files_that_are_not_caches_and_mismatched_counts()
    {
        var path = Path.Combine(_dir.FullName, "weights.safetensors");
        using var scope = NewScope();
        Weights.Save(path, [new("features", Zeros([2, 3]))]);
        var e = Assert.Throws<InvalidDataException>(() => FeatureCache.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("labels", e.Message);

        Weights.Save(path, [new("features", Zeros([2, 3])), new("labels", TensorT.From(new long[] { 0, 1, 2 }, 3))], new Dictionary<string, string> { ["video_ids"] = "[\"a\",\"b\",\"c\"]" });
        Assert.Contains("N = 3", Assert.Throws<InvalidDataException>(() => FeatureCache.Read(path)).Message);

        Assert.Throws<ArgumentException>(() => FeatureCache.Write(path, Zeros([2, 3]), [0, 1], ["only one"]));
    }

    [Fact]
    public void Ridge_probe_separates_a_separable_set_and_is_at_chance_on_shuffled_labels()
    {
        const int classes = 4, dim = 16, perClass = 50;
        var rng = new Random(2);
        var centres = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, dim).Select(_ => 3 * Normal(rng)).ToArray()).ToArray();
        (float[] X, long[] Y) Sample(int n)
        {
            var x = new float[n * classes * dim];
            var y = new long[n * classes];
            for (var i = 0; i < y.Length; i++)
            {
                y[i] = i % classes;
                for (var j = 0; j < dim; j++)
                {
                    x[i * dim + j] = (float)(centres[y[i]][j] + 0.5 * Normal(rng));
                }
            }
            return (x, y);
        }
        var (trainX, trainY) = Sample(perClass);
        var (testX, testY) = Sample(perClass);
        using var scope = NewScope();
        var train = TensorT.From(trainX, trainY.Length, dim);
        var test = TensorT.From(testX, testY.Length, dim);

        using (var probe = ClosedFormProbe.Fit(train, trainY, classes))
        {
            Assert.Equal(1.0, probe.Accuracy(train, trainY));
            Assert.Equal(1.0, probe.Accuracy(test, testY));
            Assert.Equal([(long)dim, classes], probe.Weight.Shape);
        }

        // Labels shuffled on the training set: what it learns does not transfer to the true test labels.
        var shuffled = trainY.OrderBy(_ => rng.Next()).ToArray();
        using (var probe = ClosedFormProbe.Fit(train, shuffled, classes))
        {
            var accuracy = probe.Accuracy(test, testY);
            Assert.InRange(accuracy, 0.0, 0.45);
        }
        Assert.Throws<ArgumentException>(() => ClosedFormProbe.Fit(train, trainY.Select(l => l + 1).ToArray(), classes));
    }

    [Fact]
    public void Ridge_probe_solves_the_normal_equations()
    {
        // Two samples in 1-D with the intercept unpenalised: centred x = ±1, y(class 1) centred = ±0.5, so
        // w = (1·0.5) / (1 + λ) per class-1 column and the bias puts the scores back at the class means.
        using var scope = NewScope();
        var x = TensorT.From(new float[] { -1, 1 }, 2, 1);
        using var probe = ClosedFormProbe.Fit(x, [0, 1], 2, lambda: 1.0);
        var w = probe.Weight.ToArray<double>();
        Assert.Equal(-0.25, w[0], 12);
        Assert.Equal(0.25, w[1], 12);
        Assert.Equal([0.5, 0.5], probe.Bias.ToArray<double>());
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
