using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Training;

public class ConfigLoaderTests
{
    private static string Write(string json)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("vssl-config-").FullName, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Binds_snake_case_json_and_dotted_overrides()
    {
        var path = Write("""{ "name": "x", "train": { "base_lr": 0.001, "batch_size": 8, "betas": [0.8, 0.9] }, "model": { "encoder": "vit_small" } }""");
        var config = ConfigLoader.Load<PretrainConfig>(path, ["train.base_lr=2e-4", "mask.ratio=0.95"]);
        Assert.Equal("x", config.Name);
        Assert.Equal(2e-4, config.Train.BaseLr);
        Assert.Equal(8, config.Train.BatchSize);
        Assert.Equal(0.95, config.Mask.Ratio);
        Assert.Equal("vit_small", config.Model.Encoder);
        // A list replaces the default list; the binder alone would append to [0.9, 0.95].
        Assert.Equal([0.8, 0.9], config.Train.Betas);
        // Defaults stay where nothing was said.
        Assert.Equal(1e-5, config.Train.MinLr);
    }

    [Fact]
    public void List_override_on_command_line_replaces_the_list()
    {
        var config = ConfigLoader.Load<PretrainConfig>(null, ["train.betas=0.5,0.6"]);
        Assert.Equal([0.5, 0.6], config.Train.Betas);
    }

    [Fact]
    public void List_inside_a_list_element_is_overridden_not_dropped()
    {
        // The V-JEPA quick start's second mask generator: before, this --set was accepted and silently left 0.7 in place.
        var path = Write("""
            { "method": "vjepa", "vjepa": { "masks": [
              { "spatial_scale": [0.15, 0.15], "temporal_scale": [1, 1], "aspect_ratio": [0.75, 1.5], "num_blocks": 8 },
              { "spatial_scale": [0.7, 0.7], "temporal_scale": [1, 1], "aspect_ratio": [0.75, 1.5], "num_blocks": 2 } ] } }
            """);
        var config = ConfigLoader.Load<PretrainConfig>(path, ["vjepa.masks.1.spatial_scale=[0.5,0.5]", "vjepa.masks.0.num_blocks=3"]);
        var masks = config.Vjepa!.Masks;
        Assert.Equal([0.5, 0.5], masks[1].SpatialScale);
        Assert.Equal([0.15, 0.15], masks[0].SpatialScale);
        Assert.Equal(3, masks[0].NumBlocks);
        Assert.Equal(2, masks[1].NumBlocks);

        var bad = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, ["vjepa.masks.1.spatial_scale=[0.5,abc]"]));
        Assert.Contains("bad value 'abc' for config key 'vjepa.masks.1.spatial_scale.1': expected a number", bad.Message);

        var whole = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(null, ["vjepa.masks=[1,2]"]));
        Assert.Contains("'vjepa.masks' is a list of sections", whole.Message);
    }

    [Fact]
    public void Unknown_key_is_rejected_with_its_name_and_a_suggestion()
    {
        var path = Write("""{ "train": { "base_lrr": 0.001 } }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, []));
        Assert.Contains("train.base_lrr", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("did you mean 'train.base_lr'", e.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(null, ["trian.lr=1"]));
        Assert.Contains("--set trian.lr=1", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_type_is_rejected_with_the_key()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(null, ["train.batch_size=abc"]));
        Assert.Contains("train.batch_size", e.Message, StringComparison.Ordinal);
        Assert.Contains("abc", e.Message, StringComparison.Ordinal);
        var path = Write("""{ "train": { "epochs": "many" } }""");
        var e2 = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, []));
        Assert.Contains("train.epochs", e2.Message, StringComparison.Ordinal);
        Assert.Contains(path, e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_names_the_file()
    {
        var path = Write("""{ "train": { "epochs": 3, } ,,}""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(path, []));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolved_config_round_trips_through_its_json()
    {
        var config = ConfigLoader.Load<PretrainConfig>(null, ["train.base_lr=3e-4", "data.synthetic.classes=4"]);
        var json = ConfigLoader.ToJson(config);
        Assert.Contains("\"base_lr\": 0.0003", json, StringComparison.Ordinal);
        var again = ConfigLoader.Load<PretrainConfig>(Write(json), []);
        Assert.Equal(config.Train, again.Train with { Betas = config.Train.Betas });
        Assert.Equal(config.Train.Betas, again.Train.Betas);
        Assert.Equal(4, again.Data.Synthetic.Classes);
    }
}
