using System.Text;
using VideoSSL.Cli;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Pipelines;
using VideoSSL.Tests.Serialization;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.Reliability;

/// <summary>
/// Hostile or mistaken input files give an exception the CLI prints as one line (InvalidDataException, ConfigException...),
/// never a crash, a hang or a memory blow-up, and the message names the file.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    // ---- .pth -----------------------------------------------------------------------------------------------

    [Fact]
    public void Tuple_nested_100000_deep_is_refused_not_a_stack_overflow()
    {
        // {'model': ((((...)))) } with 100,000 TUPLE1 opcodes: a 100 KB file.
        var deepValue = new PickleBuilder().Op('}').Text("model").Op(')').Op(Enumerable.Repeat((byte)0x85, 100_000).ToArray()).Op('s');
        var path = _temp.File("deep.pth");
        PickleBuilder.WritePth(path, deepValue.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => Weights.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("nested more than", e.Message, StringComparison.Ordinal);

        // The same tuple as a dictionary key: hashing it used to recurse 100,000 frames.
        var deepKey = new PickleBuilder().Op('}').Op(')').Op(Enumerable.Repeat((byte)0x85, 100_000).ToArray()).Int(1).Op('s');
        PickleBuilder.WritePth(path, deepKey.ToArray());
        Assert.Contains("nested more than", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Read(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lists_nested_by_later_appends_are_refused_by_the_tree_walk()
    {
        // L0 = [L1], then L1.append(L2), L2.append(L3)...: each list is shallow when nested, deep in the end.
        var pickle = new PickleBuilder().Op('}').Text("lists").Op(']').Op('r').Op(0, 0, 0, 0);
        for (int i = 0; i < 3000; i++)
        {
            // push memo[i], push a new list, memoize it as i + 1, append it to memo[i], pop memo[i]
            pickle.Op('j').Op(BitConverter.GetBytes(i)).Op(']').Op('r').Op(BitConverter.GetBytes(i + 1)).Op('a').Op('0');
        }
        pickle.Op('s');
        var path = _temp.File("lists.pth");
        PickleBuilder.WritePth(path, pickle.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Read(path));
        Assert.Contains("nested more than", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1 << 29)]
    [InlineData(1 << 30)]
    [InlineData(int.MaxValue)]
    public void Stride_zero_tensor_claiming_more_elements_than_its_storage_is_refused_before_allocating(int elements)
    {
        // One float of storage viewed as `elements` floats (stride 0): a 600-byte file that used to allocate gigabytes.
        var pickle = new PickleBuilder().Op('}').Text("w").Tensor("0", 1, [elements], [0]).Op('s');
        var path = _temp.File("expand.pth");
        PickleBuilder.WritePth(path, pickle.ToArray(), new Dictionary<string, byte[]> { ["0"] = new byte[4] });
        Assert.True(new FileInfo(path).Length < 1000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Weights.Load(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "refusing must not allocate the tensor");
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains($"claims {elements} elements", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Strides_whose_reach_overflows_are_refused()
    {
        var pickle = new PickleBuilder().Op('}').Text("w").Tensor("0", 4, [2, 2], [int.MaxValue, int.MaxValue]).Op('s');
        var path = _temp.File("stride.pth");
        PickleBuilder.WritePth(path, pickle.ToArray(), new Dictionary<string, byte[]> { ["0"] = new byte[16] });
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => Weights.Load(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_far_larger_than_the_model_is_refused_before_its_bytes_are_read()
    {
        // 4M zeros deflate to a few KB: the file is small, the tensor is not, and vit_micro has nothing near that size.
        const int elements = 1 << 22;
        var pickle = new PickleBuilder().Op('}').Text("blocks.0.mlp.fc1.weight").Tensor("0", elements, [1 << 11, 1 << 11], [1 << 11, 1]).Op('s');
        var path = _temp.File("bomb.pth");
        PickleBuilder.WritePth(path, pickle.ToArray(), new Dictionary<string, byte[]> { ["0"] = new byte[4 * elements] }, compress: true);
        Assert.True(new FileInfo(path).Length < 200_000);
        var model = EvalSetup.ModelConfig(new ClassifierSection { Encoder = "vit_micro", ImgSize = 16, Frames = 2, Tubelet = 2, Patch = 8 });
        // Temporaries of the initialisation die with the scope, not later in a finalizer (the live-tensor tests count them).
        using var scope = VideoSSL.Torch.Torch.NewScope();
        using var encoder = new VideoSSL.Models.VideoViTEncoder(model);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => EvalSetup.InitEncoder(encoder, path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8 << 20, "the storage must not be read");
        Assert.Contains("'blocks.0.mlp.fc1.weight' [2048, 2048]", e.Message, StringComparison.Ordinal);
        Assert.Contains("another model size", e.Message, StringComparison.Ordinal);
    }

    // ---- safetensors and trainer_state -------------------------------------------------------------------

    [Fact]
    public void Invalid_utf8_in_a_safetensors_name_or_metadata_is_named()
    {
        var path = _temp.File("bad.safetensors");
        byte[] name = [.. "{\"w"u8.ToArray(), 0xC3, 0x28, .. "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8.ToArray()];
        PickleBuilder.WriteSafeTensors(path, name, new byte[4]);
        var e = Assert.Throws<InvalidDataException>(() => Weights.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);

        byte[] metadata = [.. "{\"__metadata__\":{\"k\":\""u8.ToArray(), 0xFF, 0xFE, .. "\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8.ToArray()];
        PickleBuilder.WriteSafeTensors(path, metadata, new byte[4]);
        var e2 = Assert.Throws<InvalidDataException>(() => Weights.ReadMetadata(path));
        Assert.Contains(path, e2.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"Step\": 3,", "not valid JSON")]
    [InlineData("null", "null")]
    [InlineData("{\"Step\":-5,\"Epoch\":0,\"BatchInEpoch\":0,\"OptimizerSteps\":0,\"LastLoss\":1,\"ConfigJson\":\"\"}", "step -5")]
    [InlineData("{\"Step\":5,\"Epoch\":1000000000000,\"BatchInEpoch\":0,\"OptimizerSteps\":5,\"LastLoss\":1,\"ConfigJson\":\"\"}", "epoch 1000000000000")]
    [InlineData("{\"Step\":5,\"Epoch\":0,\"BatchInEpoch\":-1,\"OptimizerSteps\":5,\"LastLoss\":1,\"ConfigJson\":\"\"}", "batch_in_epoch -1")]
    [InlineData("{\"Step\":5,\"Epoch\":9,\"BatchInEpoch\":0,\"OptimizerSteps\":5,\"LastLoss\":1,\"ConfigJson\":\"{\\\"train\\\":{\\\"epochs\\\":3}}\"}", "beyond the 3 epochs")]
    public void Malformed_or_crafted_trainer_state_is_refused_on_resume(string stateJson, string expected)
    {
        var path = _temp.File("last.safetensors");
        using var scope = VideoSSL.Torch.Torch.NewScope();
        using (var t = VideoSSL.Torch.Torch.Zeros([2]))
        {
            Weights.Save(path, [new KeyValuePair<string, VideoSSL.Torch.Tensor>("model.w", t)], new Dictionary<string, string> { ["format"] = "videossl-checkpoint-1", ["trainer_state"] = stateJson });
        }
        using var model = new VideoSSL.Torch.NN.Linear(2, 1);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, model, null));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_good_trainer_state_still_reads()
    {
        var state = Checkpoint.ReadState("x", "{\"Step\":5,\"Epoch\":3,\"BatchInEpoch\":0,\"OptimizerSteps\":5,\"LastLoss\":1,\"ConfigJson\":\"{\\\"train\\\":{\\\"epochs\\\":3}}\"}");
        Assert.Equal(3, state.Epoch);
    }

    [Fact]
    public void Resume_from_a_pth_says_it_is_not_a_videossl_checkpoint()
    {
        var pth = _temp.File("vit_b_k400_pretrain.pth");
        PickleBuilder.WritePth(pth, new PickleBuilder().Op('}').ToArray());
        var config = WriteConfig("{}");
        var e = Assert.Throws<InvalidDataException>(() => PretrainCommand.Run(config, [], null, resume: true, resumeCheckpoint: pth));
        Assert.Contains($"{pth} is not a VideoSSL checkpoint", e.Message, StringComparison.Ordinal);
        Assert.Contains("--resume takes", e.Message, StringComparison.Ordinal);
        Assert.Contains("init=", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("header length", e.Message, StringComparison.Ordinal);
    }

    // ---- annotations ----------------------------------------------------------------------------------------

    [Fact]
    public void Ssv2_training_entry_without_template_is_named_at_load()
    {
        var labels = _temp.File("labels.json");
        File.WriteAllText(labels, """{ "Pushing something": "0", "Pulling something": "1" }""");
        var split = _temp.File("train.json");
        File.WriteAllText(split, """
            [
              { "id": "11", "template": "Pushing [something]" },
              { "id": "12" },
              { "id": "13", "template": "Pulling [something]" }
            ]
            """);
        var e = Assert.Throws<InvalidDataException>(() => Ssv2Json.Read(labels, split, _temp.Path));
        Assert.StartsWith($"{split}:3:", e.Message, StringComparison.Ordinal);
        Assert.Contains("id 12", e.Message, StringComparison.Ordinal);
        Assert.Contains("template", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unlabelled_split_cannot_train_a_classifier()
    {
        var labels = _temp.File("labels.json");
        File.WriteAllText(labels, """{ "Pushing something": "0" }""");
        var split = _temp.File("test.json");
        File.WriteAllText(split, """[ { "id": "11" }, { "id": "12" } ]""");
        File.WriteAllText(_temp.File("11.webm"), "x");
        File.WriteAllText(_temp.File("12.webm"), "x");
        var data = new DataSection { Format = "ssv2", Root = _temp.Path, Annotations = split, Labels = labels };
        var e = Assert.Throws<InvalidDataException>(() => EvalSetup.OpenTrain(data));
        Assert.Contains(split, e.Message, StringComparison.Ordinal);
        Assert.Contains("no label", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_given_as_ssv2_and_json_given_as_kinetics_say_what_they_look_like()
    {
        var csv = _temp.File("train.csv");
        File.WriteAllText(csv, "label,youtube_id,time_start,time_end,split\nabseiling,abc,0,10,train\n");
        File.WriteAllText(_temp.File("something-something-v2-labels.json"), "{}");
        var e = Assert.Throws<InvalidDataException>(() => DatasetFactory.Open("ssv2", _temp.Path, csv));
        Assert.Contains(csv, e.Message, StringComparison.Ordinal);
        Assert.Contains("looks like a CSV", e.Message, StringComparison.Ordinal);

        var json = _temp.File("train.json");
        File.WriteAllText(json, "[ { \"id\": \"1\", \"template\": \"x\" } ]");
        var e2 = Assert.Throws<InvalidDataException>(() => DatasetFactory.Open("kinetics", _temp.Path, json));
        Assert.Contains(json, e2.Message, StringComparison.Ordinal);
        Assert.Contains("looks like JSON", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_data_format_gives_one_message_whatever_the_verb()
    {
        string[] set = ["data.format=webdataset"];
        var messages = new[]
        {
            Assert.Throws<ConfigException>(() => ConfigLoader.Load<PretrainConfig>(null, set)).Message,
            Assert.Throws<ConfigException>(() => ConfigLoader.Load<ProbeConfig>(null, set)).Message,
            Assert.Throws<ConfigException>(() => ConfigLoader.Load<FinetuneConfig>(null, set)).Message,
            Assert.Throws<ConfigException>(() => ConfigLoader.Load<EvalConfig>(null, set)).Message,
        };
        Assert.Single(messages.Distinct());
        Assert.Equal("data.format = \"webdataset\" (from --set data.format=webdataset): must be one of kinetics, list, ssv2, synthetic, procedural", messages[0]);
    }

    [Fact]
    public void A_probe_on_the_procedural_pool_is_refused_in_one_line()
    {
        var config = ConfigLoader.Load<ProbeConfig>(null, ["data.format=procedural", "model.encoder=vit_micro", "model.img_size=32", "data.input_size=32", "model.frames=4", "data.num_frames=4"]);
        var e = Assert.Throws<ConfigException>(() => EvalSetup.Validate("probe.json", config.Model, config.Protocol, config.Data, config.Test));
        Assert.Contains("data.format procedural", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal);
    }

    // ---- missing videos -------------------------------------------------------------------------------------

    [Fact]
    public void Missing_videos_count_toward_max_failed_share()
    {
        var list = WriteList(present: 1, missing: 9);
        var data = new DataSection { Format = "list", Root = _temp.Path, Annotations = list, MaxFailedShare = 0.05 };
        var e = Assert.Throws<InvalidDataException>(() => EvalSetup.OpenTrain(data));
        Assert.Contains(list, e.Message, StringComparison.Ordinal);
        Assert.Contains("9 of 10 annotated videos are not on disk", e.Message, StringComparison.Ordinal);
        Assert.Contains("data.max_failed_share", e.Message, StringComparison.Ordinal);

        // Within the share: the loader gets what is left of it (20% of 10 = 2 videos, 1 spent; 1 of 9 present may fail).
        var ok = DatasetFactory.Open("list", _temp.Path, WriteList(present: 9, missing: 1));
        Assert.Equal(1.0 / 9, ok.FailureBudget(0.2), 9);
    }

    [Fact]
    public void Pretraining_with_nothing_on_disk_stops_before_building_the_model()
    {
        var list = WriteList(present: 0, missing: 4);
        var config = WriteConfig($$"""{ "data": { "format": "list", "root": "{{_temp.Path}}", "annotations": "{{list}}", "max_failed_share": 0.5 } }""");
        var e = Assert.Throws<InvalidDataException>(() => PretrainCommand.Run(config, [], _temp.File("run"), resume: false, resumeCheckpoint: null));
        Assert.Contains("none of the 4 annotated videos is on disk", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.File("run")), "no run folder may be created");
    }

    private string WriteList(int present, int missing)
    {
        var path = _temp.File($"list_{present}_{missing}.txt");
        var lines = new StringBuilder();
        for (int i = 0; i < present + missing; i++)
        {
            var video = $"v{present}_{missing}_{i}.mp4";
            if (i < present)
            {
                File.WriteAllText(_temp.File(video), "x");
            }
            lines.AppendLine($"{video} {i % 2}");
        }
        File.WriteAllText(path, lines.ToString());
        return path;
    }

    private string WriteConfig(string json)
    {
        var path = _temp.File($"config_{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
