using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Tests.Serialization;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Methods;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// SVT against tools/reference/svt_reference.py, a transcription of the official TimeSformer divided ViT, DINOHead,
/// DINOLoss and MultiCropWrapper (run by /usr/bin/python3 with torch 1.13), and against hand computations.
/// </summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class SvtTests
{
    private static readonly string s_script = Path.Combine(RepoPaths.Root, "tools", "reference", "svt_reference.py");

    private static readonly Lazy<string> s_fixtures = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("vssl-svt-").FullName;
        SystemPython.RunWithTorch(File.ReadAllText(s_script), "fixtures", dir);
        return dir;
    });

    /// <summary>The fixtures' divided ViT: 64 px, patch 16 (4 × 4 table), 4 frames, dim 64, depth 2, 2 heads, no drop path.</summary>
    internal static VideoViTConfig TinyDivided => ModelRegistry.Get("vit_micro_divst") with { ImgSize = 64, NumFrames = 4, DropPathRate = 0 };

    /// <summary>The fixtures' head: 64 → 48 → 48 → 16, out 128.</summary>
    internal static SvtSettings TinySettings => new() { OutDim = 128, HiddenDim = 48, BottleneckDim = 16 };

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var (e, a) = (expected.Float().ToArray<float>(), actual.Float().ToArray<float>());
        var worst = e.Zip(a, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(worst <= tolerance, $"max |official − ours| = {worst:G3} > {tolerance:G3}");
    }

    private static Dictionary<string, Tensor> Load(string name) => Weights.Load(Path.Combine(s_fixtures.Value, name));

    private static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values)
        {
            t.Dispose();
        }
    }

    [Theory]
    [InlineData("same")]
    [InlineData("s48t2")]
    [InlineData("s32t6")]
    [InlineData("s96t8")]
    public void Divided_vit_matches_the_official_timesformer_with_resized_tables(string shape)
    {
        using var vit = new DividedViT(TinyDivided);
        var state = Load("divst.pth");
        var io = Load("divst_io.pth");
        try
        {
            vit.LoadStateDict(state);
            using var scope = Torch.NewScope();
            using var noGrad = Torch.NoGrad();
            var tokens = vit.ForwardTokens(io[$"clip_{shape}"]);
            AssertClose(io[$"tokens_{shape}"], tokens, 1e-5);
            AssertClose(io[$"tokens_{shape}"].Select(1, 0), vit.Forward(io[$"clip_{shape}"]), 1e-5);
        }
        finally
        {
            DisposeAll(state);
            DisposeAll(io);
        }
    }

    [Theory]
    [InlineData(4, 3, new[] { 0, 1, 2 })]
    [InlineData(4, 6, new[] { 0, 0, 1, 2, 2, 3 })]
    [InlineData(4, 8, new[] { 0, 0, 1, 1, 2, 2, 3, 3 })]
    [InlineData(14, 6, new[] { 0, 2, 4, 7, 9, 11 })]
    [InlineData(14, 10, new[] { 0, 1, 2, 4, 5, 7, 8, 9, 11, 12 })]
    [InlineData(16, 7, new[] { 0, 2, 4, 6, 9, 11, 13 })]
    [InlineData(8, 3, new[] { 0, 2, 5 })]
    public void Nearest_resizing_picks_the_sources_torch_1_13_picks(int inSize, int outSize, int[] expected) =>
        // Values printed by F.interpolate(mode='nearest') in torch 1.13 (single-precision scale: 14 → 6 picks 7, not 6, at 3).
        Assert.Equal(expected, DividedViT.NearestIndices(inSize, outSize));

    [Fact]
    public void Divided_vit_has_the_official_names_and_zero_temporal_fc()
    {
        using var vit = new DividedViT(ModelRegistry.Get("vit_micro_divst"));
        var names = vit.NamedParameters().Select(p => p.Key).ToHashSet();
        foreach (var name in (string[])["cls_token", "pos_embed", "time_embed", "patch_embed.proj.weight", "blocks.0.temporal_norm1.weight",
                     "blocks.0.temporal_attn.qkv.weight", "blocks.0.temporal_attn.qkv.bias", "blocks.0.temporal_fc.weight", "blocks.1.attn.proj.bias",
                     "blocks.1.norm2.bias", "blocks.1.mlp.fc2.weight", "norm.weight"])
        {
            Assert.Contains(name, names);
        }
        Assert.Equal([1L, 1 + (14 * 14), 64], vit.PosEmbed.Shape);
        Assert.Equal([1L, 8, 64], vit.TimeEmbed.Shape);
        foreach (var block in vit.Blocks)
        {
            Assert.Equal(0, block.TemporalFc.Weight.Value.Abs().Sum().Item());
            Assert.Equal(0, block.TemporalFc.Bias!.Value.Abs().Sum().Item());
        }
        Assert.Equal(SpaceTimeAttention.Divided, ModelRegistry.Get("vit_base_divst").SpaceTime);
        Assert.Equal(768, ModelRegistry.Get("vit_base_divst").EmbedDim);
        Assert.Throws<ArgumentException>(() => new VideoViTEncoder(ModelRegistry.Get("vit_micro_divst")));
    }

    [Fact]
    public void Dino_head_matches_the_official_head()
    {
        using var head = new DinoHead(64, 128, normLastLayer: false, layers: 3, hiddenDim: 48, bottleneckDim: 16);
        var state = Load("head.pth");
        var io = Load("dino_io.pth");
        try
        {
            head.LoadStateDict(state);
            Assert.Equal(["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight", "mlp.4.bias", "last_layer.weight_g", "last_layer.weight_v"],
                head.NamedParameters().Select(p => p.Key).ToArray());
            using var scope = Torch.NewScope();
            using var noGrad = Torch.NoGrad();
            AssertClose(io["out"], head.Forward(io["x"]), 1e-5);
        }
        finally
        {
            DisposeAll(state);
            DisposeAll(io);
        }
    }

    [Fact]
    public void Dino_head_freezes_weight_g_only_with_norm_last_layer()
    {
        using var normed = new DinoHead(8, 16, normLastLayer: true, hiddenDim: 8, bottleneckDim: 4);
        using var free = new DinoHead(8, 16, normLastLayer: false, hiddenDim: 8, bottleneckDim: 4);
        Assert.False(normed.LastLayer.WeightG.Value.RequiresGrad);
        Assert.True(free.LastLayer.WeightG.Value.RequiresGrad);
        Assert.Equal(16, normed.LastLayer.WeightG.Value.Sum().Item());
    }

    [Fact]
    public void Dino_loss_and_centre_update_match_the_official_loss_over_two_steps()
    {
        var io = Load("dino_io.pth");
        try
        {
            using var loss = new DinoLoss(128);
            using var scope = Torch.NewScope();
            loss.Center.Copy_(io["center0"]);
            // DINOLoss(128, 4 crops, warmup 0.02 -> 0.05 over 3 epochs, 10 epochs): epoch 1 is 0.035, epoch 4 is 0.05.
            var temps = SvtTask.TeacherTemperature(new SvtSettings { WarmupTeacherTemp = 0.02, TeacherTemp = 0.05, WarmupTeacherTempEpochs = 3 }, new SchedulePlan(10, 1, 0));
            Assert.Equal(0.035, temps.At(1), 12);
            Assert.Equal(0.05, temps.At(4), 12);
            var first = loss.Forward(io["student"], io["teacher"], views: 4, globalViews: 2, temps.At(1));
            Assert.Equal(io["loss1"].Item(), first.Loss.Item(), 5);
            AssertClose(io["center1"], loss.Center, 1e-6);
            var second = loss.Forward(io["student"] * 0.5, io["teacher"] * 1.5, views: 4, globalViews: 2, temps.At(4));
            Assert.Equal(io["loss2"].Item(), second.Loss.Item(), 5);
            AssertClose(io["center2"], loss.Center, 1e-6);
        }
        finally
        {
            DisposeAll(io);
        }
    }

    [Fact]
    public void Two_view_dino_loss_by_hand()
    {
        // Teacher [1, 0] and [0, 1] at τt = 1 with a zero centre: p0 = (a, 1 − a), p1 = (1 − a, a), a = e / (1 + e).
        // Student [0.1, 0] and [0, 0.1] at τs = 0.1: log-softmax (ln a, ln(1 − a)) and (ln(1 − a), ln a).
        // Pairs (teacher 0, student 1) and (teacher 1, student 0) each give −(a·ln(1 − a) + (1 − a)·ln a).
        using var loss = new DinoLoss(2);
        using var scope = Torch.NewScope();
        var teacher = Tensor.From(new float[] { 1, 0, 0, 1 }, 2, 2);
        var student = Tensor.From(new float[] { 0.1f, 0, 0, 0.1f }, 2, 2);
        var output = loss.Forward(student, teacher, views: 2, globalViews: 2, teacherTemp: 1.0);
        var a = Math.E / (1 + Math.E);
        Assert.Equal(-((a * Math.Log(1 - a)) + ((1 - a) * Math.Log(a))), output.Loss.Item(), 5);
        // centre = 0.9 · 0 + 0.1 · mean([1, 0], [0, 1]) = [0.05, 0.05].
        Assert.Equal([0.05f, 0.05f], loss.Center.ToArray<float>());
        // Entropy of (a, 1 − a); KL from their mean (0.5, 0.5) = ln 2 − entropy.
        var entropy = -((a * Math.Log(a)) + ((1 - a) * Math.Log(1 - a)));
        Assert.Equal(entropy, output.TeacherEntropy.Item(), 5);
        Assert.Equal(Math.Log(2) - entropy, output.KlTeacherCentre.Item(), 5);
    }

    [Fact]
    public void Official_checkpoint_loads_and_reproduces_the_svt_loss_and_centre()
    {
        using var model = new SvtModel(TinyDivided, TinySettings);
        model.LoadOfficial(Path.Combine(s_fixtures.Value, "svt.pth"));
        var io = Load("svt_io.pth");
        try
        {
            using var scope = Torch.NewScope();
            using var noGrad = Torch.NoGrad();
            var views = Enumerable.Range(0, 4).Select(i => io[$"view{i}"]).ToList();
            AssertClose(io["student_output"], model.Student.Forward(views), 1e-5);
            AssertClose(io["teacher_output"], model.Teacher.Forward(views.Take(2).ToList()), 1e-5);
            var output = model.Loss(views, globalViews: 2, teacherTemp: 0.04);
            Assert.Equal(io["loss"].Item(), output.Loss.Item(), 5);
            AssertClose(io["center_after"], model.DinoLoss.Center, 1e-5);
        }
        finally
        {
            DisposeAll(io);
        }
    }

    [Fact]
    public void Official_checkpoint_initialises_a_probe_encoder_with_the_teacher_backbone()
    {
        // A probe config naming the divided encoder builds a DividedViT; InitEncoder reads the checkpoint's `teacher`.
        var section = new VideoSSL.Training.Config.ClassifierSection { Encoder = "vit_micro_divst", ImgSize = 64, Frames = 4, Tubelet = 1, DropPath = 0 };
        using var encoder = ModelRegistry.CreateBackbone(VideoSSL.Training.Evaluation.EvalSetup.ModelConfig(section));
        Assert.IsType<DividedViT>(encoder);
        var path = Path.Combine(s_fixtures.Value, "svt.pth");
        VideoSSL.Training.Evaluation.EvalSetup.InitEncoder(encoder, path);
        using var model = new SvtModel(TinyDivided, TinySettings);
        model.LoadOfficial(path);
        var io = Load("svt_io.pth");
        try
        {
            using var scope = Torch.NewScope();
            using var noGrad = Torch.NoGrad();
            encoder.Eval();
            model.Teacher.Backbone.Eval();
            var expected = model.Teacher.Features(io["view0"]);
            AssertClose(expected, encoder.ClipFeature(io["view0"]), 0);
            Assert.Equal([2L, 1 + (16 * 4), 64], encoder.Tokens(io["view0"]).Shape);
        }
        finally
        {
            DisposeAll(io);
        }
    }

    [Fact]
    public void Divided_classifier_fine_tunes_from_the_teacher_backbone_of_an_official_checkpoint()
    {
        var section = new VideoSSL.Training.Config.ClassifierSection { Encoder = "vit_micro_divst", ImgSize = 64, Frames = 4, Tubelet = 1, DropPath = 0 };
        using var classifier = VideoClassifiers.Create(VideoSSL.Training.Evaluation.EvalSetup.ModelConfig(section), numClasses: 5);
        var divided = Assert.IsType<DividedViTClassifier>(classifier);
        var message = VideoSSL.Training.Evaluation.EvalSetup.InitClassifier(classifier, Path.Combine(s_fixtures.Value, "svt.pth"));
        Assert.StartsWith("loaded the encoder", message, StringComparison.Ordinal);
        using var model = new SvtModel(TinyDivided, TinySettings);
        model.LoadOfficial(Path.Combine(s_fixtures.Value, "svt.pth"));
        var teacher = model.Teacher.Backbone.StateDict();
        foreach (var (name, tensor) in divided.StateDict().Where(kv => !kv.Key.StartsWith("head.", StringComparison.Ordinal)))
        {
            Assert.Equal(teacher[name].ToArray<float>(), tensor.ToArray<float>());
        }
        using var scope = Torch.NewScope();
        Assert.Equal([3L, 5], divided.Classify(Torch.Randn([3, 3, 2, 48, 48])).Shape);
        // Layer-wise lr decay puts TimeSformer's time_embed with the other embeddings (layer 0).
        Assert.Equal(0, ParamGroups.LayerId("time_embed", 2));
        Assert.Equal(2, ParamGroups.LayerId("blocks.1.temporal_fc.weight", 2));
    }

    [Fact]
    public void Official_checkpoint_of_another_size_names_the_entry()
    {
        using var model = new SvtModel(TinyDivided, TinySettings with { OutDim = 64 });
        var e = Assert.Throws<StateDictMismatchException>(() => model.LoadOfficial(Path.Combine(s_fixtures.Value, "svt.pth")));
        Assert.Contains("[student]", e.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, Tensor> RandomViews(SvtSettings settings, int batch)
    {
        var views = new Dictionary<string, Tensor>();
        foreach (var v in settings.Views().Views)
        {
            views[v.Name] = Torch.Randn([batch, 3, v.Frames, v.Size, v.Size]).DetachFromScope();
        }
        return views;
    }

    /// <summary>Micro settings: 2 global views of 4 and 2 frames at 32 px, 2 local views of 2 frames at 16 px.</summary>
    internal static SvtSettings MicroSettings => new()
    {
        OutDim = 32, HiddenDim = 16, BottleneckDim = 8,
        GlobalFrames = [4, 2], GlobalSize = 32, LocalFrames = [2, 2], LocalSize = 16,
    };

    [Fact]
    public void Task_step_freezes_the_last_layer_in_the_first_epoch_clips_each_gradient_and_moves_the_teacher()
    {
        Torch.ManualSeed(3);
        var encoder = ModelRegistry.Get("vit_micro_divst") with { ImgSize = 32, NumFrames = 4 };
        using var task = new SvtTask(encoder, MicroSettings with { ClipGrad = 1e-3 });
        var model = task.Network;
        var plan = new SchedulePlan(TotalSteps: 10, StepsPerEpoch: 5, WarmupSteps: 0);
        var schedules = task.Schedules(plan);
        Assert.Equal(0.996, schedules[SvtTask.MomentumName].At(0), 12);
        Assert.Equal(1.0, schedules[SvtTask.MomentumName].At(10), 12);
        Assert.Equal(0.998, schedules[SvtTask.MomentumName].At(5), 12);
        Assert.Equal(new[] { "global0", "global1", "local0", "local1" }, task.Views!.Views.Select(v => v.Name));

        // Teacher = student at start, no grads, never in eval mode.
        Assert.All(model.Teacher.Parameters(), p => Assert.False(p.Value.RequiresGrad));
        Assert.True(model.Teacher.Training);
        var studentBefore = model.Student.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone().DetachFromScope());
        foreach (var (name, t) in model.Teacher.StateDict())
        {
            Assert.Equal(studentBefore[name].ToArray<float>(), t.ToArray<float>());
        }

        var views = RandomViews(MicroSettings, 2);
        foreach (var step in new long[] { 0, 5 })
        {
            using var scope = Torch.NewScope();
            var output = task.Loss(new PretrainBatch(views, step));
            Assert.True(double.IsFinite(output.Loss.Item()));
            Assert.Contains("collapse/teacher_entropy", output.Metrics!.Keys);
            Assert.Contains("collapse/kl_teacher_centre", output.Metrics!.Keys);
            model.Student.ZeroGrad();
            output.Loss.Backward();
            var scalars = schedules.ToDictionary(kv => kv.Key, kv => kv.Value.At(step));
            task.BeforeOptimizerStep(new OptimizerStepContext(step, plan, scalars));
            var lastLayer = model.Student.Head.LastLayer.WeightV.Value.Grad;
            if (step == 0)
            {
                Assert.Null(lastLayer); // freeze_last_layer = 1: dropped in epoch 0
            }
            else
            {
                Assert.NotNull(lastLayer);
                lastLayer!.Dispose();
            }
            foreach (var p in model.Student.Parameters())
            {
                using var grad = p.Value.Grad;
                if (grad is not null)
                {
                    Assert.True(grad.Norm(2).Item() <= 1e-3 * (1 + 1e-4), "each gradient's norm is clipped on its own");
                }
            }
        }

        // EMA: teacher ← m·teacher + (1 − m)·student.
        using (Torch.NoGrad())
        {
            foreach (var p in model.Student.Parameters())
            {
                p.Value.Add_(1.0);
            }
        }
        task.AfterOptimizerStep(new OptimizerStepContext(0, plan, new Dictionary<string, double> { [SvtTask.MomentumName] = 0.75 }));
        var teacher = model.Teacher.StateDict();
        foreach (var (name, before) in studentBefore)
        {
            var expected = before.ToArray<float>().Select(v => (0.75f * v) + (0.25f * (v + 1))).ToArray();
            var actual = teacher[name].ToArray<float>();
            Assert.True(expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max() < 1e-5, name);
            before.Dispose();
        }
        foreach (var t in views.Values)
        {
            t.Dispose();
        }
    }

    [Fact]
    public void Param_groups_follow_dino_get_params_groups()
    {
        using var task = new SvtTask(ModelRegistry.Get("vit_micro_divst") with { ImgSize = 32, NumFrames = 4 }, MicroSettings);
        var groups = task.ParamGroups(0.04);
        var decay = groups[0].Parameters.ToHashSet();
        var named = task.Network.Student.NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value);
        // Tokens and tables DO get weight decay (dino regularises every parameter of 2+ dimensions).
        Assert.Contains(named["backbone.pos_embed"], decay);
        Assert.Contains(named["backbone.cls_token"], decay);
        Assert.Contains(named["backbone.time_embed"], decay);
        Assert.DoesNotContain(named["backbone.blocks.0.norm1.weight"], decay);
        Assert.Contains(named["backbone.blocks.0.norm1.weight"], groups[1].Parameters);
        // weight_g is frozen with norm_last_layer: in no group; teacher parameters in none either.
        Assert.DoesNotContain(named["head.last_layer.weight_g"], decay.Concat(groups[1].Parameters));
        Assert.Equal(named.Values.Count(p => p.Value.RequiresGrad), groups.Sum(g => g.Parameters.Count));
    }

    [Fact]
    public void Svt_runs_on_the_joint_vit_with_mean_pooling()
    {
        Torch.ManualSeed(4);
        var encoder = ModelRegistry.Get("vit_micro") with { ImgSize = 32, NumFrames = 4, TubeletSize = 2 };
        var settings = MicroSettings; // views of 4 and 2 frames at 32 px, 2 frames at 16 px: the joint encoder computes its table per view
        using var task = new SvtTask(encoder, settings);
        var views = RandomViews(settings, 2);
        using var scope = Torch.NewScope();
        var output = task.Loss(new PretrainBatch(views, 0));
        Assert.True(double.IsFinite(output.Loss.Item()));
        Assert.Throws<ArgumentException>(() => new SvtTask(encoder, settings with { Pool = "cls" }));
        foreach (var t in views.Values)
        {
            t.Dispose();
        }
    }
}
