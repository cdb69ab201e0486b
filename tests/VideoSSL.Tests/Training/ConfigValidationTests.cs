using System.Reflection;
using VideoSSL.Cli;
using VideoSSL.Tests.Serialization;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Training;

/// <summary>Every config value is checked when the config is loaded; the message names the key, the value and where it came from.</summary>
public sealed class ConfigValidationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("log.every_steps=0", "log.every_steps = 0", "must be >= 1")]
    [InlineData("log.checkpoint_every_steps=0", "log.checkpoint_every_steps = 0", "must be >= 1")]
    [InlineData("log.reconstruction_every_steps=0", "log.reconstruction_every_steps = 0", "must be >= 1")]
    [InlineData("log.keep_every_steps=-1", "log.keep_every_steps = -1", "must be >= 0")]
    [InlineData("train.betas=[0.9]", "train.betas = [0.9]", "needs exactly 2 values, got 1")]
    [InlineData("train.betas=0.9,1.5", "train.betas = [0.9,1.5]", "item 1: must lie in [0, 1)")]
    [InlineData("train.epochs=-3", "train.epochs = -3", "must be >= 1")]
    [InlineData("train.base_lr=-0.001", "train.base_lr = -0.001", "must be > 0")]
    [InlineData("train.accum_steps=0", "train.accum_steps = 0", "must be >= 1")]
    [InlineData("train.batch_size=0", "train.batch_size = 0", "must be >= 1")]
    [InlineData("data.max_failed_share=-0.1", "data.max_failed_share = -0.1", "must lie in [0, 1]")]
    [InlineData("mask.ratio=1", "mask.ratio = 1", "must lie in (0, 1)")]
    [InlineData("train.base_lr=NaN", "train.base_lr = NaN", "must be a finite number")]
    [InlineData("method=mae", "method = \"mae\"", "must be one of videomae, videomae_v2")]
    [InlineData("model.encoder=vit_enormous", "model.encoder = \"vit_enormous\"", "must be one of vit_micro")]
    [InlineData("train.device=gpu", "train.device = \"gpu\"", "must be cpu, cuda or cuda:N")]
    public void Out_of_range_pretrain_values_name_key_value_and_the_set_that_gave_them(string set, string shown, string problem)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(null, [set]));
        Assert.StartsWith($"{shown} (from --set {set}): {problem}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cudnn_attention_takes_auto_on_or_off()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(null, ["train.device=cuda", "train.cudnn_attention=maybe"]));
        Assert.StartsWith("train.cudnn_attention = \"maybe\" (from --set train.cudnn_attention=maybe): must be one of auto, on, off", e.Message, StringComparison.Ordinal);
        Assert.Equal("off", ConfigLoader.Load<PretrainConfig>(null, ["train.device=cuda", "train.cudnn_attention=off"]).Train.CudnnAttention);
        // auto: cuDNN attention only where a method's shapes stay fixed from step to step.
        Assert.True(PretrainCommand.CudnnAttentionEnabled("auto", shapesVary: false));
        Assert.False(PretrainCommand.CudnnAttentionEnabled("auto", shapesVary: true));
        Assert.True(PretrainCommand.CudnnAttentionEnabled("on", shapesVary: true));
        Assert.False(PretrainCommand.CudnnAttentionEnabled("off", shapesVary: false));
    }

    [Theory]
    [InlineData("aug.reprob=2", "aug.reprob = 2")]
    [InlineData("train.layer_decay=0", "train.layer_decay = 0")]
    [InlineData("test.clips=0", "test.clips = 0")]
    [InlineData("aug.auto_augment=rand-x9", "aug.auto_augment = \"rand-x9\"")]
    [InlineData("train.val_every_epochs=-1", "train.val_every_epochs = -1")]
    public void Out_of_range_finetune_values_are_named(string set, string shown)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<FinetuneConfig>(null, [set]));
        Assert.StartsWith($"{shown} (from --set {set}): ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_value_from_a_file_names_the_file()
    {
        var path = Write("""{ "train": { "accum_steps": 0 } }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, []));
        Assert.Equal($"train.accum_steps = 0 (from {path}): must be >= 1", e.Message);
    }

    [Fact]
    public void A_bad_set_value_blames_the_set_not_the_file()
    {
        var path = Write("""{ "train": { "batch_size": 4 } }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, ["train.batch_size=four"]));
        Assert.Equal("--set train.batch_size=four: bad value 'four' for config key 'train.batch_size': expected a whole number", e.Message);
        Assert.DoesNotContain(path, e.Message, StringComparison.Ordinal);
        var lr = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, ["train.base_lr=1e-3x"]));
        Assert.Equal("--set train.base_lr=1e-3x: bad value '1e-3x' for config key 'train.base_lr': expected a number", lr.Message);
        var crop = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, ["data.crop=foo"]));
        Assert.StartsWith("--set data.crop=foo: bad value 'foo' for config key 'data.crop': expected one of ", crop.Message, StringComparison.Ordinal);
        Assert.Contains("random_resized", crop.Message, StringComparison.Ordinal);
        var betas = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, ["train.betas=[0.9,x]"]));
        Assert.Contains("'x' for config key 'train.betas", betas.Message, StringComparison.Ordinal);
        Assert.EndsWith("expected a number", betas.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scalar_where_a_section_or_list_belongs_is_an_error()
    {
        var path = Write("""{ "train": 5 }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, []));
        Assert.StartsWith($"{path}: config key 'train' is a section of keys; got the value '5'", e.Message, StringComparison.Ordinal);

        var list = Write("""{ "train": { "betas": 0.9 } }""");
        var e2 = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(list, []));
        Assert.StartsWith($"{list}: config key 'train.betas' is a list; got the single value '0.9'", e2.Message, StringComparison.Ordinal);

        var e3 = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(null, ["data.synthetic=3"]));
        Assert.StartsWith("--set data.synthetic=3: config key 'data.synthetic' is a section", e3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_json_names_file_line_and_column()
    {
        var path = Write("{\n  \"train\": {\n    \"epochs\": 3\n    \"batch_size\": 4\n  }\n}\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, []));
        Assert.StartsWith($"{path}:4:5: not valid JSON", e.Message, StringComparison.Ordinal);

        var array = Write("[1, 2]");
        Assert.StartsWith($"{array}: a config is a JSON object", Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(array, [])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_key_of_every_verb_has_a_description_in_the_schema()
    {
        foreach (var root in new object[] { new PretrainConfig(), new PretrainConfig { Method = "vjepa", Vjepa = new VideoSSL.Methods.VJepaSettings() }, new ProbeConfig(), new FinetuneConfig(), new EvalConfig() })
        {
            var undocumented = ConfigSchema.Walk(root).Where(e => e.Rule is null).Select(e => e.Key).ToList();
            Assert.True(undocumented.Count == 0, $"{root.GetType().Name}: no ConfigSchema entry for {string.Join(", ", undocumented)}");
            // The defaults themselves satisfy every rule.
            ConfigSchema.Validate(root, _ => null);
        }
    }

    [Fact]
    public void Run_folder_config_holds_only_the_keys_of_its_method()
    {
        var vjepa = System.Text.Json.Nodes.JsonNode.Parse(ConfigLoader.ToResolvedJson(ConfigLoader.Load<PretrainConfig>(null, ["method=vjepa", "data.format=kinetics"])))!;
        Assert.Null(vjepa["mask"]);
        Assert.Null(vjepa["model"]!["decoder_dim"]);
        Assert.Null(vjepa["data"]!["synthetic"]);
        Assert.NotNull(vjepa["model"]!["encoder"]);
        var v2 = System.Text.Json.Nodes.JsonNode.Parse(ConfigLoader.ToResolvedJson(ConfigLoader.Load<PretrainConfig>(null, ["method=videomae_v2", "data.format=kinetics"])))!;
        Assert.Equal(0.5, v2["mask"]!["decoder_ratio"]!.GetValue<double>());
        Assert.NotNull(v2["model"]!["decoder_dim"]);
    }

    [Fact]
    public void Resolved_config_lists_only_the_keys_that_apply()
    {
        var v1 = ConfigLoader.Describe(ConfigLoader.Load<PretrainConfig>(null, ["data.format=kinetics"])).ToList();
        Assert.DoesNotContain(v1, l => l.StartsWith("mask.decoder_ratio", StringComparison.Ordinal));
        Assert.DoesNotContain(v1, l => l.StartsWith("data.synthetic.", StringComparison.Ordinal));
        Assert.Contains("mask.ratio = 0.9", v1);
        var v2 = ConfigLoader.Describe(ConfigLoader.Load<PretrainConfig>(null, ["method=videomae_v2", "data.format=synthetic"])).ToList();
        Assert.Contains("mask.decoder_ratio = 0.5", v2);
        Assert.Contains("data.synthetic.classes = 12", v2);
        Assert.DoesNotContain(v2, l => l.StartsWith("data.annotations", StringComparison.Ordinal));

        var ridge = ConfigLoader.Describe(ConfigLoader.Load<ProbeConfig>(null, ["probe.kind=ridge"])).ToList();
        Assert.Contains(ridge, l => l.StartsWith("probe.ridge_lambda", StringComparison.Ordinal));
        Assert.DoesNotContain(ridge, l => l.StartsWith("probe.attentive_depth", StringComparison.Ordinal));
        Assert.DoesNotContain(ridge, l => l.StartsWith("train.base_lr", StringComparison.Ordinal));
    }

    [Fact]
    public void Config_show_prints_every_key_with_default_type_and_meaning()
    {
        var output = new StringWriter();
        ConfigCommand.Show("pretrain", null, [], output);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var entry in ConfigSchema.Walk(new PretrainConfig()))
        {
            Assert.Contains(lines, l => l.StartsWith($"{entry.Key} = ", StringComparison.Ordinal));
        }
        Assert.Contains("train.accum_steps = 1  (integer; >= 1)  batches per optimizer step", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("method = videomae_v2)", lines.Single(l => l.StartsWith("mask.decoder_ratio", StringComparison.Ordinal)), StringComparison.Ordinal);

        var resolved = new StringWriter();
        ConfigCommand.Show("finetune", Write("""{ "train": { "epochs": 3 } }"""), ["aug.mixup=0", "aug.cutmix=0"], resolved);
        Assert.Contains("train.epochs = 3  (default 75)", resolved.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("aug.mixup_prob", resolved.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Cli_prints_one_line_and_exits_1_for_a_bad_value()
    {
        var config = Write("""{ "log": { "every_steps": 0 } }""");
        var (code, stderr) = RunCli("pretrain", config);
        Assert.Equal(1, code);
        Assert.Equal($"error: log.every_steps = 0 (from {config}): must be >= 1", stderr.Trim());

        (code, stderr) = RunCli("config", "show", "probe", config, "--set", "train.batch_size=0");
        Assert.Equal(1, code);
        Assert.Equal("error: train.batch_size = 0 (from --set train.batch_size=0): must be >= 1", stderr.Trim());
    }

    private static readonly object s_consoleLock = new();

    // Through the real entry point; Console.Error is swapped for the call, so calls are serialised.
    private static (int Code, string Stderr) RunCli(params string[] args)
    {
        var main = Type.GetType("VideoSSL.Cli.Program, videossl")!.GetMethod("Main", BindingFlags.NonPublic | BindingFlags.Static)!;
        lock (s_consoleLock)
        {
            var error = Console.Error;
            var output = Console.Out;
            var captured = new StringWriter();
            Console.SetError(captured);
            Console.SetOut(TextWriter.Null);
            try
            {
                var code = (int)main.Invoke(null, [args])!;
                return (code, captured.ToString());
            }
            finally
            {
                Console.SetError(error);
                Console.SetOut(output);
            }
        }
    }

    private string Write(string json)
    {
        var path = _temp.File($"config_{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
