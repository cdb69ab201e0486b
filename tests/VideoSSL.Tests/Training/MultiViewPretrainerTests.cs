using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Methods;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Training;

using static VideoSSL.Torch.Torch;

/// <summary>A method that asks for named views gets them from the real multi-view pipeline through the real loop.</summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class MultiViewPretrainerTests
{
    private static readonly MultiViewSpec Spec = MultiViewSpec.Svt([2, 4], 16, (0.4, 1.0), [2, 1, 4], 8, (0.05, 0.4));

    /// <summary>Records the views of every batch it sees; loss = a linear map of each view's channel means.</summary>
    private sealed class ViewsTask : IPretrainTask
    {
        private readonly Linear _head = new(3, 1);

        public List<(long Step, Dictionary<string, long[]> Shapes)> Seen { get; } = [];

        public List<Dictionary<string, long[]>> Shown { get; } = [];

        public Module Model => _head;

        public MultiViewSpec? Views => Spec;

        public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay) => [new ParamGroup([.. _head.Parameters()], weightDecay)];

        public PretrainOutput Loss(PretrainBatch batch)
        {
            Seen.Add((batch.Step, batch.Views.ToDictionary(v => v.Key, v => v.Value.Shape)));
            VideoSSL.Torch.Tensor? loss = null;
            foreach (var view in batch.Views.Values)
            {
                var term = _head.Forward(view.Mean([2, 3, 4])).Pow(2).Mean();
                loss = loss is null ? term : loss.Add(term);
            }
            return new PretrainOutput(loss!);
        }

        public ReconstructionSample? Reconstruct(PretrainBatch batch)
        {
            Shown.Add(batch.Views.ToDictionary(v => v.Key, v => v.Value.Shape));
            return null;
        }

        public void Dispose() => _head.Dispose();
    }

    [Fact]
    public void Batch_split_puts_each_views_floats_of_each_item_in_its_named_tensor()
    {
        var spec = MultiViewSpec.Svt([2], 4, (0.4, 1.0), [1, 3], 2, (0.05, 0.4));
        int n = (int)spec.ItemFloats;
        var data = new float[3 * n];
        for (int b = 0; b < 3; b++)
        {
            long offset = 0;
            for (int v = 0; v < spec.Views.Count; v++)
            {
                for (long k = 0; k < spec.Views[v].Floats; k++)
                {
                    data[b * n + offset + k] = 1000 * b + 100 * v + k % 7;
                }
                offset += spec.Views[v].Floats;
            }
        }
        using var scope = NewScope();
        var batch = PretrainBatches.Views(data, [3, n], spec, VideoSSL.Torch.Device.CPU, step: 5, micro: 1);
        Assert.Equal((5L, 1), (batch.Step, batch.MicroBatch));
        for (int v = 0; v < spec.Views.Count; v++)
        {
            var view = spec.Views[v];
            var tensor = batch.Views[view.Name];
            Assert.Equal([3L, 3, view.Frames, view.Size, view.Size], tensor.Shape);
            var values = tensor.ToArray<float>();
            for (int i = 0; i < values.Length; i++)
            {
                long b = i / view.Floats, k = i % view.Floats;
                Assert.Equal(1000 * b + 100 * v + k % 7, values[i]);
            }
        }
        // Without views: the loader's clips, repeated augmentation folded into the batch.
        var clips = PretrainBatches.Views(new float[2 * 2 * 3 * 1 * 2 * 2], [2, 2, 3, 1, 2, 2], null, VideoSSL.Torch.Device.CPU, 0);
        Assert.Equal([4L, 3, 1, 2, 2], clips.Clips.Shape);
        var e = Assert.Throws<InvalidOperationException>(() => PretrainBatches.Views(data, [3, 3, 1, 2, 2], spec, VideoSSL.Torch.Device.CPU, 0));
        Assert.Contains("global0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Task_with_views_trains_on_named_view_tensors_from_the_multi_view_pipeline()
    {
        var dir = Directory.CreateTempSubdirectory("vssl-mv-train-").FullName;
        var clip = new SyntheticClipOptions(40, 32, 12, 8);
        var samples = Enumerable.Range(0, 4).Select(k =>
        {
            var path = Path.Combine(dir, $"v{k}.mp4");
            FfmpegEncoder.Encode(SyntheticVideo.RenderFrames(k % 2, k, clip), clip.Fps, path, VideoCodec.H264Mp4);
            return new VideoSample(path, k % 2);
        }).ToList();
        var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1 });
        var writer = MultiViewPipelines.CreateWriter(new VideoPipelineOptions { Frames = 4, Stride = 2 }, Spec);
        var loader = new ClipLoader(dataset, writer, new ClipLoaderOptions { BatchSize = 2, Workers = 1, Seed = 3 });
        var config = ConfigLoader.Load<PretrainConfig>(null,
            ["train.epochs=1", "train.batch_size=2", "train.base_lr=0.1", "train.warmup_epochs=0", "log.every_steps=1", "log.reconstruction_every_steps=1"]);
        ManualSeed(1);
        using var task = new ViewsTask();
        var manifest = ManifestInfo.Create(config.Seed, "test", [], "cpu");
        using var run = RunDirectory.Open(Path.Combine(dir, "run"), "mv", config, [], manifest, false, null, _ => { });
        var hooks = new PretrainHooks { OnReconstruction = (_, _) => { } };
        var result = new Pretrainer(config, task, loader, run, VideoSSL.Torch.Device.CPU, hooks, TextWriter.Null).Run();

        Assert.Equal(2, result.Steps);
        Assert.True(double.IsFinite(result.FinalLoss));
        Assert.Equal([0L, 1L], task.Seen.Select(s => s.Step));
        string[] names = ["global0", "global1", "local0", "local1", "local2"];
        foreach (var (_, shapes) in task.Seen)
        {
            Assert.Equal(names, shapes.Keys.Order(StringComparer.Ordinal));
            foreach (var view in Spec.Views)
            {
                Assert.Equal([2L, 3, view.Frames, view.Size, view.Size], shapes[view.Name]);
            }
        }
        // The fixed clips of the run's pictures go through the same split.
        Assert.NotEmpty(task.Shown);
        Assert.Equal([2L, 3, 4, 16, 16], task.Shown[0]["global1"]);
    }
}
