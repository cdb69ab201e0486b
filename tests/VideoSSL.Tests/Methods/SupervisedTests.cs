using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Cli;
using VideoSSL.Tests.EvaluationRuns;
using VideoSSL.Tests.Experiments;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Methods;

using Torch = VideoSSL.Torch.Torch;

/// <summary>Supervised pretraining, the benchmark's labeled yardstick: its loss by hand, its labels from the loader, its refusals.</summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class SupervisedTests
{
    private static VideoViTConfig TinyEncoder() => MethodRegistry.Get("supervised").EncoderDefaults(VideoViTVariants.Micro) with { ImgSize = 32, NumFrames = 4, PatchSize = 16 };

    [Fact]
    public void Loss_is_the_smoothed_cross_entropy_of_a_linear_head_on_the_mean_of_the_normalised_tokens()
    {
        using var scope = Torch.NewScope();
        Torch.ManualSeed(3);
        const double smoothing = 0.1;
        using var task = new SupervisedTask(TinyEncoder(), new SupervisedSettings { NumClasses = 4, LabelSmoothing = smoothing });
        var clips = Torch.Randn([3, 3, 4, 32, 32]);
        int[] labels = [2, 0, 3];
        var output = task.Loss(PretrainBatch.OfClips(clips, step: 0) with { Labels = labels });

        // By hand: tokens after the encoder's final norm, their mean, the head, log-softmax, smoothed targets.
        var tokens = task.Network.Encoder.Tokens(clips);
        var logits = task.Network.Head.Forward(tokens.Mean(1)).ToArray<float>();
        double expected = 0;
        int hits = 0;
        for (var r = 0; r < labels.Length; r++)
        {
            var row = logits.AsSpan(r * 4, 4).ToArray().Select(v => (double)v).ToArray();
            var logSum = Math.Log(row.Sum(v => Math.Exp(v - row.Max()))) + row.Max();
            var nll = logSum - row[labels[r]];
            var uniform = row.Average(v => logSum - v);
            expected += ((1 - smoothing) * nll) + (smoothing * uniform);
            hits += Array.IndexOf(row, row.Max()) == labels[r] ? 1 : 0;
        }
        Assert.Equal(expected / labels.Length, output.Loss.Item(), 5);
        Assert.Equal(hits / 3.0, output.Metrics!["train/acc1"].Item(), 6);

        // The encoder's weights are saved as encoder.*, where the benchmark and the probes look for a pretrained encoder.
        Assert.Contains(task.Model.NamedParameters(), p => p.Key.StartsWith("encoder.blocks.0.", StringComparison.Ordinal));
        Assert.Equal(["head.bias", "head.weight"], task.Model.NamedParameters().Select(p => p.Key).Where(n => !n.StartsWith("encoder.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_label_outside_the_classes_or_no_classes_is_refused_naming_the_key()
    {
        using var scope = Torch.NewScope();
        using var task = new SupervisedTask(TinyEncoder(), new SupervisedSettings { NumClasses = 3 });
        var batch = PretrainBatch.OfClips(Torch.Randn([2, 3, 4, 32, 32]), step: 0);
        var e = Assert.Throws<InvalidDataException>(() => task.Loss(batch with { Labels = [0, 5] }));
        Assert.Equal("supervised: a training label is 5, outside [0, 3) (supervised.num_classes); pretrain on labeled data", e.Message);
        Assert.Throws<InvalidDataException>(() => task.Loss(batch with { Labels = [-1, 0] }));
        Assert.Throws<InvalidOperationException>(() => task.Loss(batch));
        var none = Assert.Throws<ArgumentException>(() => new SupervisedTask(TinyEncoder(), new SupervisedSettings()));
        Assert.Contains("supervised.num_classes must be set", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_loop_hands_each_row_its_videos_label_only_when_the_task_asks()
    {
        using var scope = Torch.NewScope();
        // Repeated augmentation: 2 videos x 3 clips each become 6 rows, each with its video's label.
        var batch = new ClipBatch(0, 0, new float[2 * 3 * 3 * 1 * 2 * 2], [2, 3, 3, 1, 2, 2], [4, 7], [0, 1], ["a", "b"]);
        var views = PretrainBatches.Views(batch, null, VideoSSL.Torch.Device.CPU, step: 0, labels: true);
        Assert.Equal([6L, 3, 1, 2, 2], views.Clips.Shape);
        Assert.Equal([4, 4, 4, 7, 7, 7], views.Labels!);
        Assert.Null(PretrainBatches.Views(batch, null, VideoSSL.Torch.Device.CPU, step: 0).Labels);
        using var supervised = MethodRegistry.Get("supervised").Create(new MethodInputs("vit_micro", TinyEncoder(), 0, _ => new SupervisedSettings { NumClasses = 2 }));
        Assert.True(supervised.NeedsLabels);
        using IPretrainTask vjepa = new VJepaTask(VJepaTests.TinyEncoder(false), VJepaTests.TinySettings(false), false, 0);
        Assert.False(vjepa.NeedsLabels);
    }

    [Fact]
    public void Pretraining_refuses_fewer_classes_than_the_data_has_and_the_section_under_another_method()
    {
        var root = Directory.CreateTempSubdirectory("vssl-supervised-").FullName;
        try
        {
            var recipe = Path.Combine(ExperimentConfigTests.ExperimentsDir(), "quickstart", "supervised_nuisance.json");
            string[] tiny = [.. TinyRealData.ModelKeys, .. TinyRealData.PretrainKeys.Where(k => !k.StartsWith("model.decoder_", StringComparison.Ordinal)),
                "data.procedural.clips=4", "data.procedural.size=32", "data.procedural.classes=3"];
            var few = Assert.Throws<ConfigException>(() => PretrainCommand.Run(recipe, [.. tiny, "supervised.num_classes=2"], Path.Combine(root, "few"), false, null));
            Assert.Equal("supervised.num_classes = 2, but the training data has 3 classes", few.Message);
            Assert.False(File.Exists(Path.Combine(root, "few", "checkpoints", "last.safetensors")));
            var other = Assert.Throws<ConfigException>(() => PretrainCommand.Run(recipe, [.. tiny, "method=vjepa"], Path.Combine(root, "other"), false, null));
            Assert.Equal("the supervised section belongs to method supervised, not 'vjepa'", other.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
