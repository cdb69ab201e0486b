using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;

namespace VideoSSL.Tests.Data;

public class LoaderTests
{
    private static VideoDataset Dataset(int count) =>
        new([.. Enumerable.Range(0, count).Select(i => new VideoSample($"/videos/v{i}.mp4", i % 5, $"v{i}"))], new Dictionary<string, int>());

    /// <summary>A stand-in for decode + augment: values from the item RNG, with random delays to scramble worker timing.</summary>
    private static ClipBatchItem Pipeline(VideoSample sample, int epoch, int index, Random rng)
    {
        Thread.Sleep(rng.Next(3));
        var data = new float[2 * 3];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = index * 1000 + (float)rng.NextDouble();
        }
        return ClipBatchItem.Create(data, [2, 3], sample.Label);
    }

    private static List<ClipBatch> Collect(ClipLoader loader, int epoch, int start = 0) => [.. loader.Epoch(epoch, start)];

    private static void AssertSameBatches(IReadOnlyList<ClipBatch> expected, IReadOnlyList<ClipBatch> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int b = 0; b < expected.Count; b++)
        {
            Assert.Equal(expected[b].Index, actual[b].Index);
            Assert.Equal(expected[b].SampleIndices, actual[b].SampleIndices);
            Assert.Equal(expected[b].Labels, actual[b].Labels);
            Assert.Equal(expected[b].Data, actual[b].Data);
        }
    }

    [Fact]
    public void SameBatches_WhateverTheWorkerCount()
    {
        VideoDataset ds = Dataset(23);
        var options = new ClipLoaderOptions { BatchSize = 4, Seed = 7, Workers = 1, PrefetchBatches = 2 };
        List<ClipBatch> one = Collect(new ClipLoader(ds, Pipeline, options), epoch: 3);
        List<ClipBatch> three = Collect(new ClipLoader(ds, Pipeline, options with { Workers = 3, PrefetchBatches = 3 }), epoch: 3);
        List<ClipBatch> inline = Collect(new ClipLoader(ds, Pipeline, options with { Workers = 0 }), epoch: 3);
        AssertSameBatches(one, three);
        AssertSameBatches(one, inline);

        Assert.Equal(5, one.Count);  // 23 / 4 with drop_last
        Assert.Equal([4, 2, 3], one[0].Shape);
        // Each sample at most once, and the order is shuffled.
        int[] seen = [.. one.SelectMany(b => b.SampleIndices)];
        Assert.Equal(20, seen.Distinct().Count());
        Assert.NotEqual(Enumerable.Range(0, 20), seen);
        // Data follows the sample: the integer part encodes the index.
        Assert.Equal(one[1].SampleIndices[2], (int)(one[1].Data[2 * 6] / 1000));
    }

    [Fact]
    public void Epochs_ShuffleDifferently_AndKeepLastWhenAsked()
    {
        VideoDataset ds = Dataset(10);
        var loader = new ClipLoader(ds, Pipeline, new ClipLoaderOptions { BatchSize = 4, Seed = 1, DropLast = false, Workers = 2 });
        Assert.NotEqual(loader.EpochOrder(0), loader.EpochOrder(1));
        List<ClipBatch> batches = Collect(loader, 0);
        Assert.Equal([4, 4, 2], batches.Select(b => b.Size));
        Assert.Equal(Enumerable.Range(0, 10), batches.SelectMany(b => b.SampleIndices).Order());
    }

    [Fact]
    public void ResumeFromBatchK_EqualsTailOfFullRun()
    {
        VideoDataset ds = Dataset(30);
        var options = new ClipLoaderOptions { BatchSize = 4, Seed = 5, Workers = 3 };
        List<ClipBatch> full = Collect(new ClipLoader(ds, Pipeline, options), epoch: 2);
        List<ClipBatch> resumed = Collect(new ClipLoader(ds, Pipeline, options), epoch: 2, start: 3);
        AssertSameBatches(full.Skip(3).ToList(), resumed);
        Assert.Empty(Collect(new ClipLoader(ds, Pipeline, options), epoch: 2, start: full.Count));
    }

    [Fact]
    public void StoppingEarly_StopsWorkers()
    {
        VideoDataset ds = Dataset(40);
        var loader = new ClipLoader(ds, Pipeline, new ClipLoaderOptions { BatchSize = 2, Workers = 3 });
        ClipBatch first = loader.Epoch(0).First();
        Assert.Equal(0, first.Index);
        // A second pass after an abandoned one still works and gives the same first batch.
        Assert.Equal(first.Data, loader.Epoch(0).First().Data);
    }

    [Fact]
    public void CorruptSamples_AreSkippedReplacedAndReported()
    {
        VideoDataset ds = Dataset(40);
        var corrupt = new HashSet<int> { 3, 17, 28 };
        ClipBatchItem Flaky(VideoSample s, int e, int i, Random r) =>
            corrupt.Contains(i) ? throw new InvalidDataException($"moov atom not found in {s.Path}") : Pipeline(s, e, i, r);
        var log = new List<string>();
        var options = new ClipLoaderOptions { BatchSize = 5, Workers = 2, Seed = 3, DropLast = false, MaxFailureFraction = 0.1 };
        var loader = new ClipLoader(ds, Flaky, options, log.Add);

        List<ClipBatch> batches = Collect(loader, 0);

        Assert.All(batches, b => Assert.Equal(5, b.Size));  // replaced, so batches stay full
        Assert.DoesNotContain(batches.SelectMany(b => b.SampleIndices), corrupt.Contains);
        Assert.Equal(corrupt.Order(), loader.Failures.Select(f => f.SampleIndex).Order());
        Assert.All(loader.Failures, f => Assert.Contains("moov atom", f.Error));
        Assert.Equal(3, log.Count);
        Assert.Contains(log, l => l.Contains("v17.mp4", StringComparison.Ordinal));
        // Replacement is deterministic too.
        var again = new ClipLoader(ds, Flaky, options with { Workers = 1 });
        AssertSameBatches(batches, Collect(again, 0));
    }

    [Fact]
    public void TooManyFailures_ThrowsNamingSome()
    {
        VideoDataset ds = Dataset(40);
        ClipBatchItem Flaky(VideoSample s, int e, int i, Random r) =>
            i % 4 == 0 ? throw new InvalidDataException("invalid data found when processing input") : Pipeline(s, e, i, r);
        var loader = new ClipLoader(ds, Flaky, new ClipLoaderOptions { BatchSize = 4, Workers = 2, MaxFailureFraction = 0.1 });
        var error = Assert.Throws<InvalidDataException>(() => Collect(loader, 0));
        Assert.Contains("failed to load", error.Message);
        Assert.Contains("invalid data found", error.Message);
        Assert.Matches(@"/videos/v\d+\.mp4", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void A_transform_bug_stops_loading_with_its_stack_instead_of_being_skipped_as_unreadable(int workers)
    {
        VideoDataset ds = Dataset(40);
        static ClipBatchItem Buggy(VideoSample s, int e, int i, Random r) =>
            i == 7 ? throw new IndexOutOfRangeException("crop went past the frame") : Pipeline(s, e, i, r);
        var loader = new ClipLoader(ds, Buggy, new ClipLoaderOptions { BatchSize = 4, Workers = workers, MaxFailureFraction = 0.5, Shuffle = false });
        var error = Assert.Throws<InvalidOperationException>(() => Collect(loader, 0));
        Assert.Contains("/videos/v7.mp4", error.Message);
        var inner = Assert.IsType<IndexOutOfRangeException>(error.InnerException);
        Assert.Contains(nameof(Buggy), inner.StackTrace);
        Assert.Empty(loader.Failures);
    }

    [Fact]
    public void EveryPipelineThrowing_FailsInsteadOfHanging()
    {
        VideoDataset ds = Dataset(8);
        var loader = new ClipLoader(ds, (s, e, i, r) => throw new IOException("disk gone"),
            new ClipLoaderOptions { BatchSize = 2, Workers = 2, MaxFailureFraction = 1.0, MaxAttemptsPerItem = 4 });
        var error = Assert.Throws<InvalidDataException>(() => Collect(loader, 0));
        Assert.Contains("disk gone", error.Message);
    }

    /// <summary><see cref="Pipeline"/> as an item writer: the same values, written into the batch slot.</summary>
    private static readonly ClipItemWriter Writer = new([2, 3], (sample, epoch, index, rng, destination) =>
    {
        ClipBatchItem item = Pipeline(sample, epoch, index, rng);
        item.Data.CopyTo(destination);
        return item.Label;
    });

    [Fact]
    public void ItemWriter_GivesTheSameBatches_AsItemPipeline_AlsoWhenRecycling()
    {
        VideoDataset ds = Dataset(23);
        var options = new ClipLoaderOptions { BatchSize = 4, Seed = 7, Workers = 2, DropLast = false };
        List<ClipBatch> items = Collect(new ClipLoader(ds, Pipeline, options), epoch: 1);
        AssertSameBatches(items, Collect(new ClipLoader(ds, Writer, options), epoch: 1));
        AssertSameBatches(items, Collect(new ClipLoader(ds, Writer, options with { Workers = 0 }), epoch: 1));

        // Recycling: each batch is checked before the next is requested, as a trainer copies it into a tensor.
        var recycling = new ClipLoader(ds, Writer, options with { RecycleBatchBuffers = true, PrefetchBatches = 1 });
        var buffers = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        for (int pass = 0; pass < 2; pass++)
        {
            int b = 0;
            foreach (ClipBatch batch in recycling.Epoch(1))
            {
                Assert.Equal(items[b].SampleIndices, batch.SampleIndices);
                Assert.Equal(items[b].Data, batch.Data);
                buffers.Add(batch.Data);
                b++;
            }
            Assert.Equal(items.Count, b);
        }
        // 12 full batches over two passes in at most a few buffers (prefetch + the one being read + the short last one).
        Assert.True(buffers.Count <= 5, $"{buffers.Count} buffers for {2 * items.Count} batches");
    }

    [Fact]
    public void ItemWriter_ReplacesCorruptSamples_OverwritingTheirPartialWrites()
    {
        VideoDataset ds = Dataset(20);
        var corrupt = new HashSet<int> { 2, 9 };
        var flaky = new ClipItemWriter([2, 3], (s, e, i, r, destination) =>
        {
            destination.Fill(float.NaN);  // a pipeline that fails half way leaves garbage behind
            return corrupt.Contains(i) ? throw new InvalidDataException("truncated") : Writer.Write(s, e, i, r, destination);
        });
        var options = new ClipLoaderOptions { BatchSize = 5, Workers = 2, Seed = 3, MaxFailureFraction = 0.2 };
        var loader = new ClipLoader(ds, flaky, options);
        List<ClipBatch> batches = Collect(loader, 0);
        Assert.All(batches, b => Assert.DoesNotContain(b.Data, float.IsNaN));
        Assert.Equal(corrupt.Order(), loader.Failures.Select(f => f.SampleIndex).Order());
    }
}
