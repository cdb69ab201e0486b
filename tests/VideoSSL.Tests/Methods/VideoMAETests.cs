using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Tests.Serialization;
using VideoSSL.Torch;
using VideoSSL.Torch.Optim;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Methods;

using Torch = VideoSSL.Torch.Torch;

// Serial: two forwards of one model must agree; this test failed twice in ~25 parallel suite runs and the cause is
// not yet found (no test or library code changes process-wide libtorch settings).
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class VideoMAETests
{
    /// <summary>ViT-micro on 4 × 32 × 32 clips: a 2 × 2 × 2 token grid, decoder 32 wide, 1 block.</summary>
    internal static VideoMAEConfig TinyConfig(bool v2 = false) =>
        VideoMAEConfig.ForSize("vit_micro", v2, c => c with { ImgSize = 32, NumFrames = 4 }) with { MaskRatio = 0.5 };

    [Fact]
    public void State_dict_has_the_official_names_and_no_position_tables()
    {
        using var model = new VideoMAEPretrainModel(VideoMAEConfig.ForSize("vit_micro"));
        var state = model.StateDict();
        Assert.Equal([192L, 64], state["encoder.blocks.0.attn.qkv.weight"].Shape);
        Assert.Equal([64L], state["encoder.blocks.0.attn.q_bias"].Shape);
        Assert.Equal([64L], state["encoder.blocks.1.attn.v_bias"].Shape);
        Assert.Equal([64L, 3, 2, 16, 16], state["encoder.patch_embed.proj.weight"].Shape);
        Assert.Equal([1536L, 32], state["decoder.head.weight"].Shape);
        Assert.Equal([1536L], state["decoder.head.bias"].Shape);
        Assert.Equal([32L, 64], state["encoder_to_decoder.weight"].Shape);
        Assert.Equal([1L, 1, 32], state["mask_token"].Shape);
        foreach (var name in (string[])["encoder.norm.weight", "encoder.blocks.1.mlp.fc2.bias", "decoder.blocks.0.attn.q_bias", "decoder.norm.bias", "encoder.blocks.0.attn.proj.weight"])
        {
            Assert.Contains(name, state.Keys);
        }
        Assert.DoesNotContain(state.Keys, k => k.Contains("pos_embed", StringComparison.Ordinal) || k.EndsWith("qkv.bias", StringComparison.Ordinal));
        Assert.DoesNotContain("encoder_to_decoder.bias", state.Keys);
        using var scope = Torch.NewScope();
        Assert.InRange(model.MaskToken.Value.Abs().Max().Item(), 1e-6, 0.02); // trunc_normal cut at ±std
    }

    [Fact]
    public void Normalised_targets_match_a_hand_computation_per_token_and_channel()
    {
        // [1, 3, 4, 32, 16]: a 2 × 2 × 1 grid, token n = t'·2 + h'. Values differ by channel, frame, row and column.
        const int t = 4, h = 32, w = 16;
        var clip = new float[3 * t * h * w];
        for (var i = 0; i < clip.Length; i++)
        {
            clip[i] = (float)(Math.Sin(0.37 * i) + (0.001 * i % 1.3));
        }
        using var scope = Torch.NewScope();
        var input = Tensor.From(clip, 1, 3, t, h, w);
        var normalized = VideoMAE.PatchTargets(input, 2, 16, normalize: true).ToArray<float>();
        var raw = VideoMAE.PatchTargets(input, 2, 16, normalize: false).ToArray<float>();
        Assert.Equal(4 * 1536, normalized.Length);
        for (var n = 0; n < 4; n++)
        {
            var (tt, hh) = (n / 2, n % 2);
            for (var c = 0; c < 3; c++)
            {
                var values = new double[512];
                var k = 0;
                for (var p0 = 0; p0 < 2; p0++)
                {
                    for (var p1 = 0; p1 < 16; p1++)
                    {
                        for (var p2 = 0; p2 < 16; p2++)
                        {
                            var x = clip[(((((c * t) + (tt * 2) + p0) * h) + (hh * 16) + p1) * w) + p2];
                            values[k++] = (x * VideoMAE.ImageNetStd[c]) + VideoMAE.ImageNetMean[c];
                        }
                    }
                }
                var mean = values.Average();
                var std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / 511); // unbiased
                for (var j = 0; j < 512; j++)
                {
                    var at = (n * 1536) + (j * 3) + c; // (p0 p1 p2 c), c fastest
                    Assert.Equal(values[j], raw[at], 5);
                    Assert.Equal((values[j] - mean) / (std + 1e-6), normalized[at], 3);
                }
            }
        }
    }

    private const string OfficialReference = """
import sys, numpy as np, torch, torch.nn.functional as F
torch.manual_seed(0)
D, depth, heads, Dd, ddepth, dheads = 64, 2, 2, 32, 1, 2
T, H, W, t, p = 4, 32, 32, 2, 16
N = (T // t) * (H // p) * (W // p)
# modeling_finetune.get_sinusoid_encoding_table
def get_sinusoid_encoding_table(n_position, d_hid):
    def get_position_angle_vec(position):
        return [position / np.power(10000, 2 * (hid_j // 2) / d_hid) for hid_j in range(d_hid)]
    sinusoid_table = np.array([get_position_angle_vec(pos_i) for pos_i in range(n_position)])
    sinusoid_table[:, 0::2] = np.sin(sinusoid_table[:, 0::2])
    sinusoid_table[:, 1::2] = np.cos(sinusoid_table[:, 1::2])
    return torch.tensor(sinusoid_table, dtype=torch.float, requires_grad=False).unsqueeze(0)
sd = {}
def r(*s): return torch.randn(*s) * 0.2
def block(pre, d):
    sd[pre + 'norm1.weight'] = 1 + r(d); sd[pre + 'norm1.bias'] = r(d)
    sd[pre + 'attn.q_bias'] = r(d); sd[pre + 'attn.v_bias'] = r(d)
    sd[pre + 'attn.qkv.weight'] = r(3 * d, d)
    sd[pre + 'attn.proj.weight'] = r(d, d); sd[pre + 'attn.proj.bias'] = r(d)
    sd[pre + 'norm2.weight'] = 1 + r(d); sd[pre + 'norm2.bias'] = r(d)
    sd[pre + 'mlp.fc1.weight'] = r(4 * d, d); sd[pre + 'mlp.fc1.bias'] = r(4 * d)
    sd[pre + 'mlp.fc2.weight'] = r(d, 4 * d); sd[pre + 'mlp.fc2.bias'] = r(d)
sd['encoder.patch_embed.proj.weight'] = r(D, 3, t, p, p) * 0.1; sd['encoder.patch_embed.proj.bias'] = r(D)
for i in range(depth): block(f'encoder.blocks.{i}.', D)
sd['encoder.norm.weight'] = 1 + r(D); sd['encoder.norm.bias'] = r(D)
for i in range(ddepth): block(f'decoder.blocks.{i}.', Dd)
sd['decoder.norm.weight'] = 1 + r(Dd); sd['decoder.norm.bias'] = r(Dd)
sd['decoder.head.weight'] = r(3 * t * p * p, Dd); sd['decoder.head.bias'] = r(3 * t * p * p)
sd['encoder_to_decoder.weight'] = r(Dd, D)
sd['mask_token'] = r(1, 1, Dd)
torch.save({'model': sd, 'epoch': 3}, sys.argv[1])

# modeling_finetune.Attention / Block and modeling_pretrain.PretrainVisionTransformer.forward, functionally.
def attention(x, pre, num_heads):
    B, N_, C = x.shape
    qkv_bias = torch.cat((sd[pre + 'q_bias'], torch.zeros_like(sd[pre + 'v_bias'], requires_grad=False), sd[pre + 'v_bias']))
    qkv = F.linear(input=x, weight=sd[pre + 'qkv.weight'], bias=qkv_bias)
    qkv = qkv.reshape(B, N_, 3, num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * (C // num_heads) ** -0.5
    attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
    x = (attn @ v).transpose(1, 2).reshape(B, N_, -1)
    return F.linear(x, sd[pre + 'proj.weight'], sd[pre + 'proj.bias'])
def ln(x, pre): return F.layer_norm(x, (x.shape[-1],), sd[pre + 'weight'], sd[pre + 'bias'], 1e-6)
def blk(x, pre, num_heads):
    x = x + attention(ln(x, pre + 'norm1.'), pre + 'attn.', num_heads)
    h = F.gelu(F.linear(ln(x, pre + 'norm2.'), sd[pre + 'mlp.fc1.weight'], sd[pre + 'mlp.fc1.bias']))
    return x + F.linear(h, sd[pre + 'mlp.fc2.weight'], sd[pre + 'mlp.fc2.bias'])
def forward(x, mask, decode_mask=None):
    decode_vis = mask if decode_mask is None else ~decode_mask
    B = x.shape[0]
    e = F.conv3d(x, sd['encoder.patch_embed.proj.weight'], sd['encoder.patch_embed.proj.bias'], stride=(t, p, p)).flatten(2).transpose(1, 2)
    e = e + get_sinusoid_encoding_table(N, D).type_as(e)
    x_vis = e[~mask].reshape(B, -1, D)
    for i in range(depth): x_vis = blk(x_vis, f'encoder.blocks.{i}.', heads)
    x_vis = F.linear(ln(x_vis, 'encoder.norm.'), sd['encoder_to_decoder.weight'])
    pe = get_sinusoid_encoding_table(N, Dd).expand(B, -1, -1)
    pos_vis = pe[~mask].reshape(B, -1, Dd)
    pos_mask = pe[decode_vis].reshape(B, -1, Dd)
    x_full = torch.cat([x_vis + pos_vis, sd['mask_token'] + pos_mask], dim=1)
    for i in range(ddepth): x_full = blk(x_full, f'decoder.blocks.{i}.', dheads)
    n = pos_mask.shape[1]
    return F.linear(ln(x_full[:, -n:], 'decoder.norm.'), sd['decoder.head.weight'], sd['decoder.head.bias'])
B = 2
videos = torch.randn(B, 3, T, H, W)
mask = torch.zeros(B, N, dtype=torch.bool)
mask[0, [1, 2, 5, 6]] = True
mask[1, [0, 3, 4, 7]] = True
decode_mask = torch.tensor([[0, 1, 1, 0, 1, 1, 0, 0]] * B, dtype=torch.bool)
decode_mask = ~decode_mask  # kept (reconstructed) at 1, 2, 4, 5
# engine_for_pretraining.py (VideoMAE) and VideoMAE V2's loss
mean = torch.as_tensor((0.485, 0.456, 0.406))[None, :, None, None, None]
std = torch.as_tensor((0.229, 0.224, 0.225))[None, :, None, None, None]
un = videos * std + mean
sq = un.reshape(B, 3, T // t, t, H // p, p, W // p, p).permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(B, N, t * p * p, 3)
norm = (sq - sq.mean(dim=-2, keepdim=True)) / (sq.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
patches = norm.reshape(B, N, -1)
out1 = forward(videos, mask)
loss1 = F.mse_loss(out1, patches[mask].reshape(B, -1, patches.shape[-1]))
out2 = forward(videos, mask, decode_mask)
labels2 = patches[~decode_mask].reshape(B, -1, patches.shape[-1])
loss2 = ((out2 - labels2) ** 2).mean(dim=-1)
cal = mask[~decode_mask].reshape(B, -1)
loss2 = (loss2 * cal).sum() / cal.sum()
torch.save({'videos': videos, 'mask': mask.to(torch.uint8), 'decode_mask': decode_mask.to(torch.uint8),
            'out1': out1, 'loss1': loss1.reshape(1), 'out2': out2, 'loss2': loss2.reshape(1)}, sys.argv[2])
""";

    private static TokenMask MaskFrom(Tensor uint8Mask)
    {
        var flat = uint8Mask.ToArray<byte>();
        var (b, n) = ((int)uint8Mask.Size(0), (int)uint8Mask.Size(1));
        return new TokenMask(Enumerable.Range(0, b).Select(i => flat.Skip(i * n).Take(n).Select(v => v != 0).ToArray()).ToArray());
    }

    [Fact]
    public void Official_layout_checkpoint_loads_strictly_and_reproduces_the_official_forward_and_loss()
    {
        using var dir = new TempDirectory();
        var (weights, io) = (dir.File("videomae.pth"), dir.File("io.pth"));
        SystemPython.RunWithTorch(OfficialReference, weights, io);

        using var model = new VideoMAEPretrainModel(TinyConfig());
        Weights.LoadInto(model, weights, strict: true, key: "model");
        model.Eval();
        var reference = Weights.Load(io);
        try
        {
            using var scope = Torch.NewScope();
            var mask = MaskFrom(reference["mask"]);
            var decoderMask = MaskFrom(reference["decode_mask"]);
            var v1 = model.Loss(reference["videos"], mask);
            var v2 = model.Loss(reference["videos"], mask, decoderMask);
            AssertClose(reference["out1"].ToArray<float>(), v1.Prediction.ToArray<float>(), 2e-4);
            AssertClose(reference["out2"].ToArray<float>(), v2.Prediction.ToArray<float>(), 2e-4);
            Assert.Equal(reference["loss1"].Item(), v1.Loss.Item(), 4);
            Assert.Equal(reference["loss2"].Item(), v2.Loss.Item(), 4);
            Assert.NotEqual(v1.Loss.Item(), v2.Loss.Item(), 3);

            // The same file initialises a fine-tuning classifier: backbone loaded, decoder ignored, fc_norm/head left as built.
            using var classifier = new VideoViTClassifier(TinyConfig().Encoder, numClasses: 5);
            var state = Weights.Load(weights, key: "model");
            var report = classifier.LoadPretrainedEncoder(state);
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
            Assert.Equal(["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"], report.Missing.Order(StringComparer.Ordinal).ToArray());
            Assert.Contains("norm.weight", report.Unexpected);
            Assert.Contains("mask_token", report.Unexpected);
            Assert.All(report.Unexpected, n => Assert.True(n is "norm.weight" or "norm.bias" or "mask_token" or "encoder_to_decoder.weight" || n.StartsWith("decoder.", StringComparison.Ordinal), n));
            Assert.Equal(model.Encoder.Blocks[1].Attn.QBias!.Value.ToArray<float>(), classifier.Blocks[1].Attn.QBias!.Value.ToArray<float>());
        }
        finally
        {
            foreach (var t in reference.Values)
            {
                t.Dispose();
            }
        }
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= tolerance, $"largest difference {worst} exceeds {tolerance}");
    }

    [Fact]
    public void V2_with_the_decoder_keeping_exactly_the_masked_tokens_equals_videomae()
    {
        // The official no-decoder-masking path: decode_masked_pos = ~bool_masked_pos.
        using var model = new VideoMAEPretrainModel(TinyConfig());
        using var scope = Torch.NewScope();
        Torch.ManualSeed(4);
        var clip = Torch.Randn([3, 3, 4, 32, 32]);
        var mask = model.EncoderMasks.NextBatch(new Random(1), 3);
        var v1 = model.Loss(clip, mask);
        var v2 = model.Loss(clip, mask, mask.Inverted());
        // Not bit-exact: BLAS kernels may take another path for differently aligned buffers, which moves the last
        // bits between two forwards of the same input (seen once in ~20 full-suite runs).
        var a = v1.Prediction.ToArray<float>();
        var b = v2.Prediction.ToArray<float>();
        Assert.Equal(a.Length, b.Length);
        for (var k = 0; k < a.Length; k++)
        {
            Assert.True(Math.Abs(a[k] - b[k]) <= 1e-5f * Math.Max(1f, Math.Abs(a[k])), $"prediction {k}: {a[k]} vs {b[k]}");
        }
        // Rounding both to 6 places failed on 1.0367936 vs 1.0367935: the loss gets the predictions' relative tolerance.
        var (l1, l2) = (v1.Loss.Item(), v2.Loss.Item());
        Assert.True(Math.Abs(l1 - l2) <= 1e-5 * Math.Max(1, Math.Abs(l1)), $"loss {l1} vs {l2}");
    }

    [Fact]
    public void V2_loss_averages_over_tokens_kept_by_the_decoder_and_masked_by_the_encoder()
    {
        using var model = new VideoMAEPretrainModel(TinyConfig(v2: true));
        using var scope = Torch.NewScope();
        Torch.ManualSeed(5);
        var clip = Torch.Randn([2, 3, 4, 32, 32]);
        var (mask, decoderMask) = model.NewMasks(new Random(2), 2);
        Assert.NotNull(decoderMask);
        var output = model.Loss(clip, mask, decoderMask);
        Assert.Equal([2L, 4, 1536], output.Prediction.Shape); // half of 8 tokens kept per sample

        var targets = VideoMAE.PatchTargets(clip, 2, 16, normalize: true).ToArray<float>();
        var prediction = output.Prediction.ToArray<float>();
        var kept = decoderMask.Visible.ToArray<long>();
        double sum = 0;
        var count = 0;
        for (var b = 0; b < 2; b++)
        {
            for (var k = 0; k < 4; k++)
            {
                var n = (int)kept[(b * 4) + k];
                if (!mask.Host[b][n])
                {
                    continue; // visible to the encoder: predicted, but not in the loss
                }
                double se = 0;
                for (var j = 0; j < 1536; j++)
                {
                    var d = prediction[(((b * 4) + k) * 1536) + j] - targets[(((b * 8) + n) * 1536) + j];
                    se += d * d;
                }
                sum += se / 1536;
                count++;
            }
        }
        Assert.InRange(count, 1, 7);
        Assert.Equal(sum / count, output.Loss.Item(), 4);
    }

    [Fact]
    public void Reconstruction_of_exact_targets_gives_back_the_original_pixels()
    {
        var config = TinyConfig();
        using var scope = Torch.NewScope();
        Torch.ManualSeed(6);
        var clip = Torch.Randn([2, 3, 4, 32, 32]).Mul(0.5);
        using var mask = new TubeMaskGenerator(config.Encoder.Grid, 0.5).NextBatch(new Random(3), 2);
        var exact = VideoViTEncoder.GatherTokens(VideoMAE.PatchTargets(clip, 2, 16, normalize: true), mask.Masked);
        var frames = VideoMAE.Reconstruct(clip, mask, exact, mask.Masked, config.Encoder, normalizedTargets: true, sample: 1);
        Assert.Equal((4, 32, 32), (frames.Frames, frames.Height, frames.Width));
        Assert.Equal(4 * 32 * 32 * 3, frames.Original.Length);
        AssertClose(frames.Original, frames.Reconstruction, 1e-4);
        Assert.All(frames.Original, v => Assert.InRange(v, 0f, 1f));
        // Sample 1's masked tubelets are grey in the input, the rest is the original.
        var masked = mask.Host[1];
        for (var n = 0; n < 8; n++)
        {
            var (t, y, x) = ((n / 4) * 2, ((n % 4) / 2) * 16, (n % 2) * 16);
            var at = ((((t * 32) + y) * 32) + x) * 3;
            Assert.Equal(masked[n] ? 0.5f : frames.Original[at], frames.Masked[at]);
        }
        // A wrong prediction shows up only where tokens were masked.
        var wrong = VideoMAE.Reconstruct(clip, mask, exact.Add(1.0), mask.Masked, config.Encoder, normalizedTargets: true, sample: 1);
        Assert.NotEqual(frames.Reconstruction, wrong.Reconstruction);
        // The prediction row carries only predicted pixels: NaN on visible tubelets, the reconstruction on masked ones.
        for (var n = 0; n < 8; n++)
        {
            var (t, y, x) = ((n / 4) * 2, ((n % 4) / 2) * 16, (n % 2) * 16);
            var pixel = (((t * 32) + y) * 32) + x;
            Assert.Equal(masked[n], frames.MaskedPixels[pixel]);
            Assert.Equal(masked[n] ? frames.Reconstruction[pixel * 3] : float.NaN, frames.Prediction[pixel * 3]);
        }
        Assert.Equal(masked.Count(m => m) * 2 * 16 * 16, frames.MaskedPixels.Count(m => m));
    }

    [Fact]
    public void Tiny_videomae_loss_falls_under_adamw()
    {
        var config = VideoMAEConfig.ForSize("vit_micro", overrides: c => c with { ImgSize = 32, NumFrames = 4, PatchSize = 8 }) with { MaskRatio = 0.75 };
        Torch.ManualSeed(0);
        using var model = new VideoMAEPretrainModel(config);
        var data = new float[2 * 3 * 4 * 32 * 32];
        for (var i = 0; i < data.Length; i++)
        {
            var (x, y, t, c, b) = (i % 32, i / 32 % 32, i / 1024 % 4, i / 4096 % 3, i / 12288);
            data[i] = (float)Math.Sin((0.35 * x * (b + 1)) + (0.25 * y) + (0.6 * t) + c);
        }
        using var clip = Tensor.From(data, 2, 3, 4, 32, 32);
        using var optimizer = new AdamW(ParamGroups.WeightDecaySplit(model, 0.05), lr: 2e-3, beta1: 0.9, beta2: 0.95);
        var rng = new Random(11);
        var losses = new List<double>();
        for (var step = 0; step < 80; step++)
        {
            using var scope = Torch.NewScope();
            var mask = model.EncoderMasks.NextBatch(rng, 2);
            var loss = model.Loss(clip, mask).Loss;
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
            losses.Add(loss.Item());
        }
        var (first, last) = (losses.Take(5).Average(), losses.TakeLast(5).Average());
        // Observed on CPU (libtorch 1.13): 1.086 → 0.527 (×0.49) in 80 steps; the bound leaves room for other BLAS/threads.
        Assert.True(last < 0.65 * first, $"loss went from {first:F4} to {last:F4}: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
    }
    [Fact]
    public void Accumulated_micro_batches_of_one_step_get_their_own_masks()
    {
        foreach (var v2 in (bool[])[false, true])
        {
            // A 4 x 4 spatial grid (12,870 tube masks per clip at ratio 0.5), so distinct keys drawing one mask by chance is negligible.
            using var task = new VideoMAETask(VideoMAEConfig.ForSize("vit_micro", v2, c => c with { ImgSize = 64, NumFrames = 4 }) with { MaskRatio = 0.5 }, seed: 5);
            Torch.ManualSeed(1);
            using var clips = Torch.Randn([2, 3, 4, 64, 64]);
            // Masks of micro-batch m of step s come from (seed, s, m): the same pair draws the same, another pair others.
            string Mask(long step, int micro)
            {
                var (encoder, decoder) = task.Network.NewMasks(StepRandom.For(5, step, micro), 2, clips.Device);
                using (encoder)
                using (decoder)
                {
                    return string.Join(",", encoder.Visible.ToArray<long>());
                }
            }
            Assert.Equal(Mask(0, 0), Mask(0, 0));
            Assert.Equal(4, new[] { Mask(0, 0), Mask(0, 1), Mask(0, 2), Mask(1, 0) }.Distinct().Count());
            // And the loss the loop calls uses them: the same clips give another loss in another micro-batch, the same in the same.
            using var scope = Torch.NewScope();
            using var noGrad = Torch.NoGrad();
            var l00 = task.Loss(PretrainBatch.OfClips(clips, 0, 0)).Loss.Item();
            Assert.Equal(l00, task.Loss(PretrainBatch.OfClips(clips, 0, 0)).Loss.Item());
            Assert.NotEqual(l00, task.Loss(PretrainBatch.OfClips(clips, 0, 1)).Loss.Item());
        }
    }
}
