using VideoSSL.Cli;
using VideoSSL.Models;
using VideoSSL.Tests.Data;
using VideoSSL.Tests.EvaluationRuns;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;

namespace VideoSSL.Tests.Models;

using Torch = VideoSSL.Torch.Torch;

// Both runs of a comparison seed the global generator: a test in another collection drawing from it in between
// would make them differ (seen once in a full run), so this class runs alone.
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class ActivationCheckpointTests
{
    private static Dictionary<string, float[]> Gradients(string model, bool checkpointing, out float[] drawAfter, out int pendingBeforeBackward, out bool blockGradBeforeBackward)
    {
        Torch.ManualSeed(5);
        using var backbone = ModelRegistry.CreateBackbone(ModelRegistry.Resolve(model, c => c with { ImgSize = 32, NumFrames = 4, DropPathRate = 0.3, GradCheckpointing = checkpointing }));
        using var scope = Torch.NewScope();
        var clip = Torch.Randn([2, 3, 4, 32, 32]);
        Torch.ManualSeed(11);
        var output = backbone.ForwardIntermediates(clip, 0).Output;
        var loss = output.Mul(output).Mean().Add(output.Mul(Torch.Rand(output.Shape)).Mean());
        loss.Backward();
        pendingBeforeBackward = ActivationCheckpoint.Pending;
        var first = backbone.NamedParameters().First(p => p.Key.StartsWith("blocks.0.", StringComparison.Ordinal)).Value.Value;
        using (var g = first.Grad)
        {
            blockGradBeforeBackward = g is not null;
        }
        ActivationCheckpoint.Backward();
        drawAfter = Torch.Rand([4]).ToArray<float>();
        var grads = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (name, p) in backbone.NamedParameters())
        {
            using var g = p.Value.Grad;
            if (g is not null)
            {
                grads[name] = g.ToArray<float>();
            }
        }
        return grads;
    }

    /// <summary>
    /// Checkpointed blocks give the gradients of the plain ones, drop path included (each block replays its draws),
    /// and leave the generator where the plain run leaves it; before the replay the blocks have no gradient, so the
    /// checkpointed path is the one that ran.
    /// </summary>
    [Theory]
    [InlineData("vit_micro")]
    [InlineData("vit_micro_divst")]
    public void Checkpointed_blocks_give_the_gradients_of_plain_ones(string model)
    {
        var plain = Gradients(model, false, out var plainDraw, out var plainPending, out var plainEarly);
        var checkpointed = Gradients(model, true, out var checkpointedDraw, out var pending, out var early);
        Assert.Equal(0, plainPending);
        Assert.True(plainEarly);
        Assert.Equal(1, pending);
        Assert.False(early, "block gradients before the replay: the blocks were not checkpointed");
        Assert.Equal(0, ActivationCheckpoint.Pending);
        Assert.Equal(plainDraw, checkpointedDraw);
        Assert.Equal(plain.Keys.Order(), checkpointed.Keys.Order());
        foreach (var (name, expected) in plain)
        {
            var worst = expected.Zip(checkpointed[name], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-6, $"{name}: gradients differ by {worst}");
        }
    }

    /// <summary>Through the training loop: `model.grad_checkpointing=true` trains the same trajectory (drop path on).</summary>
    [Fact]
    public void A_pretraining_run_with_grad_checkpointing_follows_the_plain_one()
    {
        using var dir = new TempDir();
        string[] keys =
        [
            "data.format=procedural", "data.procedural.clips=8", "data.procedural.size=32", "data.procedural.frames=16", "data.procedural.classes=3",
            "model.encoder=vit_micro", "model.embed_dim=64", "model.depth=2", "model.num_heads=2", "model.img_size=32", "model.frames=4",
            "model.tubelet=2", "model.patch=16", "model.drop_path=0.2", "model.decoder_dim=32", "model.decoder_depth=1", "model.decoder_heads=2",
            "data.input_size=32", "data.num_frames=4", "data.workers=1", "train.batch_size=2", "train.max_steps=3", "train.epochs=1",
            "log.every_steps=1", "log.checkpoint_every_steps=100", "log.reconstruction_every_steps=100",
        ];
        var repoConfig = Path.Combine(ExperimentConfigTests.ExperimentsDir(), "quickstart", "videomae_nuisance.json");
        var plain = PretrainCommand.Run(repoConfig, keys, Path.Combine(dir.Path, "plain"), false, null);
        var checkpointed = PretrainCommand.Run(repoConfig, [.. keys, "model.grad_checkpointing=true"], Path.Combine(dir.Path, "checkpointed"), false, null);
        Assert.Equal(3, checkpointed.Steps);
        Assert.Equal(plain.FinalLoss, checkpointed.FinalLoss, 6);
        static double[] Losses(string run) =>
            [.. File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("train/loss").GetDouble())];
        var a = Losses(Path.Combine(dir.Path, "plain"));
        var b = Losses(Path.Combine(dir.Path, "checkpointed"));
        Assert.Equal(a.Length, b.Length);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i], b[i], 6);
        }
        Assert.Contains("\"grad_checkpointing\": true", File.ReadAllText(Path.Combine(dir.Path, "checkpointed", "config.json")));
    }
}
