using VideoSSL.Cli;
using VideoSSL.Models;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.EvaluationRuns;

/// <summary>model.embed_dim / depth / num_heads / mlp_ratio build an encoder of a size the registry has no name for.</summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class ModelSizeTests
{
    private static readonly string[] Geometry = ["model.encoder=vit_micro", "model.img_size=32", "model.frames=4", "model.patch=16", "model.tubelet=2"];
    private static readonly string[] Custom = ["model.embed_dim=96", "model.depth=3", "model.num_heads=3", "model.mlp_ratio=2"];

    [Fact]
    public void Config_keys_override_the_registry_entry_for_evaluation_and_pretraining()
    {
        var eval = EvalSetup.ModelConfig(ConfigLoader.Load<ProbeConfig>(null, [.. Geometry, .. Custom]).Model);
        Assert.Equal((96, 3, 3, 192), (eval.EmbedDim, eval.Depth, eval.NumHeads, eval.MlpHiddenDim));
        var pretrain = PretrainCommand.MethodConfig(ConfigLoader.Load<PretrainConfig>(null, [.. Geometry, .. Custom, "data.num_frames=4", "data.input_size=32"])).Encoder;
        Assert.Equal((96, 3, 3, 192), (pretrain.EmbedDim, pretrain.Depth, pretrain.NumHeads, pretrain.MlpHiddenDim));
        // Unset keys keep the entry's size.
        var micro = EvalSetup.ModelConfig(ConfigLoader.Load<ProbeConfig>(null, Geometry).Model);
        Assert.Equal((64, 2, 2), (micro.EmbedDim, micro.Depth, micro.NumHeads));
    }

    [Fact]
    public void A_checkpoint_of_an_unnamed_size_loads_from_config_keys_and_a_size_mismatch_says_so_in_one_line()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("vssl-size-").FullName, "encoder.safetensors");
        using (var source = new VideoViTEncoder(EvalSetup.ModelConfig(ConfigLoader.Load<ProbeConfig>(null, [.. Geometry, .. Custom]).Model)))
        {
            Weights.Save(path, source.StateDict());
        }
        using (var sized = new VideoViTEncoder(EvalSetup.ModelConfig(ConfigLoader.Load<ProbeConfig>(null, [.. Geometry, .. Custom]).Model)))
        {
            Assert.StartsWith("loaded the encoder", EvalSetup.InitEncoder(sized, path), StringComparison.Ordinal);
        }
        using var registry = new VideoViTEncoder(EvalSetup.ModelConfig(ConfigLoader.Load<ProbeConfig>(null, Geometry).Model));
        var e = Assert.Throws<StateDictMismatchException>(() => EvalSetup.InitEncoder(registry, path));
        var head = e.Message[..e.Message.IndexOf(". Names:", StringComparison.Ordinal)];
        Assert.StartsWith($"{path} does not match the model (", head, StringComparison.Ordinal);
        Assert.Contains("the checkpoint holds a 3-block, 96-wide encoder; the model is 2 x 64", head, StringComparison.Ordinal);
        Assert.Contains("model.embed_dim=96 model.depth=3", head, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }
}
