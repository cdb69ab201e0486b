using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Tests.Torch;
using VideoSSL.Torch;

namespace VideoSSL.Tests.Methods;

using Torch = VideoSSL.Torch.Torch;

public class ParamGroupsTests
{
    [Fact]
    public void Biases_norms_q_v_biases_and_mask_token_get_no_weight_decay()
    {
        using var model = new VideoMAEPretrainModel(VideoMAETests.TinyConfig());
        var groups = ParamGroups.WeightDecaySplit(model, 0.05);
        Assert.Equal((0.05, 0.0), (groups[0].WeightDecay, groups[1].WeightDecay));
        var names = model.NamedParameters().ToDictionary(kv => kv.Value, kv => kv.Key);
        var noDecay = groups[1].Parameters.Select(p => names[p]).ToHashSet();
        var decay = groups[0].Parameters.Select(p => names[p]).ToHashSet();
        foreach (var name in (string[])["mask_token", "encoder.blocks.0.attn.q_bias", "encoder.blocks.0.attn.v_bias", "encoder.blocks.1.norm2.weight",
            "encoder.norm.bias", "encoder.patch_embed.proj.bias", "decoder.head.bias", "decoder.blocks.0.mlp.fc1.bias"])
        {
            Assert.Contains(name, noDecay);
        }
        foreach (var name in (string[])["encoder.patch_embed.proj.weight", "encoder.blocks.0.attn.qkv.weight", "encoder_to_decoder.weight", "decoder.head.weight", "decoder.blocks.0.mlp.fc2.weight"])
        {
            Assert.Contains(name, decay);
        }
        Assert.Equal(names.Count, noDecay.Count + decay.Count);
    }

    [Fact]
    public void Layer_decay_scales_follow_decay_to_the_power_depth_plus_one_minus_layer_id()
    {
        using var model = new VideoViTClassifier(VideoViTVariants.Micro with { Depth = 12, ImgSize = 32, NumFrames = 4 }, numClasses: 3);
        var groups = ParamGroups.LayerDecay(model, 12, 0.75, 0.05);
        var scaleOf = new Dictionary<string, (double Scale, double Wd)>();
        var names = model.NamedParameters().ToDictionary(kv => kv.Value, kv => kv.Key);
        foreach (var g in groups)
        {
            foreach (var p in g.Parameters)
            {
                scaleOf[names[p]] = (g.LrScale, g.WeightDecay);
            }
        }
        Assert.Equal(names.Count, scaleOf.Count);
        Assert.Equal(Math.Pow(0.75, 13), scaleOf["patch_embed.proj.weight"].Scale, 12);
        Assert.Equal(0.05, scaleOf["patch_embed.proj.weight"].Wd);
        Assert.Equal(0.0, scaleOf["patch_embed.proj.bias"].Wd);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(Math.Pow(0.75, 13 - (i + 1)), scaleOf[$"blocks.{i}.attn.qkv.weight"].Scale, 12);
            Assert.Equal(Math.Pow(0.75, 13 - (i + 1)), scaleOf[$"blocks.{i}.attn.q_bias"].Scale, 12);
        }
        Assert.Equal(1.0, scaleOf["head.weight"].Scale);
        Assert.Equal(1.0, scaleOf["fc_norm.weight"].Scale);
        Assert.Equal(0.0, scaleOf["fc_norm.weight"].Wd);
        Assert.Equal(0, ParamGroups.LayerId("encoder.pos_embed", 12));
        Assert.Equal(11, ParamGroups.LayerId("encoder.blocks.10.mlp.fc1.weight", 12));
        Assert.Equal(13, ParamGroups.LayerId("norm.weight", 12));
    }
}

[Collection(LiveTensorCollection.Name)]
public class VideoMAEMemoryTests
{
    [Fact]
    public void A_training_step_in_a_scope_leaves_no_tensor_behind()
    {
        using var model = new VideoMAEPretrainModel(VideoMAETests.TinyConfig(v2: true));
        using var optimizer = new VideoSSL.Torch.Optim.AdamW(ParamGroups.WeightDecaySplit(model, 0.05), 1e-3);
        using var clip = Torch.Randn([2, 3, 4, 32, 32]).DetachFromScope();
        void Step(int seed)
        {
            using var scope = Torch.NewScope();
            var (mask, decoderMask) = model.NewMasks(new Random(seed), 2);
            var output = model.Loss(clip, mask, decoderMask);
            optimizer.ZeroGrad();
            output.Loss.Backward();
            optimizer.Step();
            var (features, blocks) = model.Encoder.ForwardIntermediates(clip, 2);
            Assert.Equal(2, blocks.Length);
        }
        Step(0); // the optimizer creates its moments on the first step
        var before = Tensor.LiveCount;
        Step(1);
        Step(2);
        Assert.Equal(before, Tensor.LiveCount);
    }
}
