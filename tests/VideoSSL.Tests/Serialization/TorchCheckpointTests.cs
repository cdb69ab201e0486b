using System.IO.Compression;
using System.Numerics;
using VideoSSL.Torch;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Serialization;

/// <summary>Checkpoints written by the real torch.save (1.13) once per test class.</summary>
public sealed class TorchCheckpointFixtures : IDisposable
{
    private const string Script = """
        import argparse, collections, sys
        import numpy as np
        out = sys.argv[1]

        sd = collections.OrderedDict()
        sd['f32'] = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 1
        sd['f16'] = (torch.arange(6, dtype=torch.float32) * 0.25 - 0.5).to(torch.float16).reshape(2, 3)
        sd['bf16'] = torch.tensor([1.5, -2.0, 0.0078125, 65280.0, -0.0], dtype=torch.bfloat16)
        sd['i64'] = torch.tensor([-5, 0, 2**40, -(2**62)], dtype=torch.int64)
        sd['i32'] = torch.tensor([[-7], [2**31 - 1]], dtype=torch.int32)
        sd['u8'] = torch.tensor([0, 200, 255], dtype=torch.uint8)
        sd['bool'] = torch.tensor([True, False, True])
        sd['f64'] = torch.tensor([[0.1, -1e300]], dtype=torch.float64)
        sd['scalar'] = torch.tensor(7.25)
        sd['empty'] = torch.zeros(0, 3)
        sd['transposed'] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
        sd['param'] = torch.nn.Parameter(torch.full((2,), 3.5))
        torch.save(sd, out + '/plain.pth')

        store = torch.arange(10, dtype=torch.float32) * 10
        shared = collections.OrderedDict()
        shared['whole'] = store
        shared['middle'] = store[3:7]
        shared['grid'] = store[2:8].view(2, 3)
        shared['strided'] = store[1::3]
        shared['expanded'] = store[:2].unsqueeze(0).expand(3, 2)
        torch.save(shared, out + '/shared.pth')

        net = torch.nn.Sequential(collections.OrderedDict(fc=torch.nn.Linear(3, 2), norm=torch.nn.LayerNorm(2)))
        with torch.no_grad():
            net.fc.weight.copy_(torch.arange(6.).reshape(2, 3))
            net.fc.bias.fill_(0.5)
        wrapper = torch.nn.Module()
        wrapper.module = net
        nested = {'model': wrapper.state_dict(), 'epoch': 3,
                  'args': argparse.Namespace(lr=0.1, name='vit', sizes=[1, 2], flag=True, nothing=None),
                  'best': np.float64(81.25), 'steps': np.int64(7), 'big': 2**70, 'neg': -3,
                  'pair': (1, 'a'), 'blob': b'\x00\xffab'}
        torch.save(nested, out + '/nested.pth')
        torch.save(nested, out + '/nested_p4.pth', pickle_protocol=4)

        def block(value):
            return collections.OrderedDict([('module.backbone.pos_embed', torch.full((1, 2), value)),
                                            ('module.backbone.norm.weight', torch.full((2,), value))])
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))])
        opt.state_dict()
        torch.save({'encoder': block(1.0), 'predictor': block(9.0), 'target_encoder': block(2.0),
                    'opt': opt.state_dict(), 'epoch': 10}, out + '/vjepa.pth')

        torch.save(sd, out + '/legacy.pth', _use_new_zipfile_serialization=False)
        print('ok')
        """;

    private readonly TempDirectory _temp = new();

    public TorchCheckpointFixtures()
    {
        string output = SystemPython.RunWithTorch(Script, _temp.Path);
        Assert.Equal("ok", output.Trim());
    }

    public string File(string name) => _temp.File(name);

    public void Dispose() => _temp.Dispose();
}

public sealed class TorchCheckpointTests(TorchCheckpointFixtures fixtures) : IClassFixture<TorchCheckpointFixtures>, IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void ReadStateDict_PlainOrderedDict_GivesExactValuesInOrder()
    {
        var sd = TorchCheckpoint.ReadStateDict(fixtures.File("plain.pth"));

        Assert.Equal(["f32", "f16", "bf16", "i64", "i32", "u8", "bool", "f64", "scalar", "empty", "transposed", "param"], sd.Keys);
        Check(sd["f32"], ScalarType.Float32, [3, 4], Enumerable.Range(0, 12).Select(i => i * 0.5f - 1).ToArray());
        Check(sd["f16"], ScalarType.Float16, [2, 3], [-0.5f, -0.25f, 0f, 0.25f, 0.5f, 0.75f]);
        Check(sd["bf16"], ScalarType.BFloat16, [5], [1.5f, -2f, 0.0078125f, 65280f, -0f]);
        Assert.True(float.IsNegative(sd["bf16"].ToFloatArray()[4]));
        Assert.Equal(ScalarType.Int64, sd["i64"].Dtype);
        Assert.Equal([-5L, 0, 1L << 40, -(1L << 62)], sd["i64"].ToInt64Array());
        Assert.Equal([2L, 1], sd["i32"].Shape);
        Assert.Equal([-7L, int.MaxValue], sd["i32"].ToInt64Array());
        Assert.Equal([0L, 200, 255], sd["u8"].ToInt64Array());
        Assert.Equal(ScalarType.Bool, sd["bool"].Dtype);
        Assert.Equal([1L, 0, 1], sd["bool"].ToInt64Array());
        Assert.Equal(ScalarType.Float64, sd["f64"].Dtype);
        Assert.Equal([0.1, -1e300], System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(sd["f64"].Data.Span).ToArray());
        Check(sd["scalar"], ScalarType.Float32, [], [7.25f]);
        Check(sd["empty"], ScalarType.Float32, [0, 3], []);
        Check(sd["param"], ScalarType.Float32, [2], [3.5f, 3.5f]);
    }

    [Fact]
    public void ReadStateDict_TransposedTensor_IsMaterialisedRowMajor()
    {
        var sd = TorchCheckpoint.ReadStateDict(fixtures.File("plain.pth"));
        Check(sd["transposed"], ScalarType.Float32, [3, 2], [0f, 3f, 1f, 4f, 2f, 5f]);
    }

    [Fact]
    public void ReadStateDict_ViewsSharingOneStorage_ReadTheirOwnElements()
    {
        var sd = TorchCheckpoint.ReadStateDict(fixtures.File("shared.pth"));
        Check(sd["whole"], ScalarType.Float32, [10], Enumerable.Range(0, 10).Select(i => i * 10f).ToArray());
        Check(sd["middle"], ScalarType.Float32, [4], [30f, 40f, 50f, 60f]);
        Check(sd["grid"], ScalarType.Float32, [2, 3], [20f, 30f, 40f, 50f, 60f, 70f]);
        Check(sd["strided"], ScalarType.Float32, [3], [10f, 40f, 70f]);
        Check(sd["expanded"], ScalarType.Float32, [3, 2], [0f, 10f, 0f, 10f, 0f, 10f]);
    }

    [Theory]
    [InlineData("nested.pth")]
    [InlineData("nested_p4.pth")]
    public void ReadStateDict_NestedTrainingCheckpoint_FindsModelAndStripsModulePrefix(string file)
    {
        var sd = TorchCheckpoint.ReadStateDict(fixtures.File(file));
        Assert.Equal(["fc.weight", "fc.bias", "norm.weight", "norm.bias"], sd.Keys);
        Check(sd["fc.weight"], ScalarType.Float32, [2, 3], [0f, 1f, 2f, 3f, 4f, 5f]);
        Check(sd["fc.bias"], ScalarType.Float32, [2], [0.5f, 0.5f]);
        Check(sd["norm.weight"], ScalarType.Float32, [2], [1f, 1f]);
        Check(sd["norm.bias"], ScalarType.Float32, [2], [0f, 0f]);

        var fcOnly = TorchCheckpoint.ReadStateDict(fixtures.File(file), key: "model", stripPrefix: "fc");
        Assert.Equal(["weight", "bias", "norm.weight", "norm.bias"], fcOnly.Keys);
    }

    [Theory]
    [InlineData("nested.pth")]
    [InlineData("nested_p4.pth")]
    public void Read_NestedTrainingCheckpoint_KeepsPythonValuesAndOpaqueObjects(string file)
    {
        var root = Assert.IsType<OrderedDictionary<object, object?>>(TorchCheckpoint.Read(fixtures.File(file)));

        Assert.Equal(3L, root["epoch"]);
        Assert.Equal(81.25, root["best"]);
        Assert.Equal(7L, root["steps"]);
        Assert.Equal(BigInteger.Pow(2, 70), root["big"]);
        Assert.Equal(-3L, root["neg"]);
        Assert.Equal(new object?[] { 1L, "a" }, root["pair"]);
        Assert.Equal(new byte[] { 0, 0xFF, (byte)'a', (byte)'b' }, root["blob"]);

        var args = Assert.IsType<PickleObject>(root["args"]);
        Assert.Equal("argparse.Namespace", args.Type.FullName);
        Assert.Equal(0.1, args.GetAttribute("lr"));
        Assert.Equal("vit", args.GetAttribute("name"));
        Assert.Equal(new List<object?> { 1L, 2L }, args.GetAttribute("sizes"));
        Assert.Equal(true, args.GetAttribute("flag"));
        Assert.Null(args.GetAttribute("nothing"));

        var model = Assert.IsType<OrderedDictionary<object, object?>>(root["model"]);
        var weight = Assert.IsType<TensorData>(model["module.fc.weight"]);
        Assert.Equal("model.module.fc.weight", weight.Name);
        Assert.Equal([0f, 1f, 2f, 3f, 4f, 5f], weight.ToFloatArray());
    }

    [Fact]
    public void ReadStateDict_VJepaCheckpoint_PrefersTargetEncoderAndStripsBackbonePrefix()
    {
        string path = fixtures.File("vjepa.pth");
        var target = TorchCheckpoint.ReadStateDict(path);
        Assert.Equal(["pos_embed", "norm.weight"], target.Keys);
        Check(target["pos_embed"], ScalarType.Float32, [1, 2], [2f, 2f]);

        var encoder = TorchCheckpoint.ReadStateDict(path, key: "encoder");
        Check(encoder["norm.weight"], ScalarType.Float32, [2], [1f, 1f]);

        Assert.Contains("'opt' is not a dictionary of tensors", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.ReadStateDict(path, key: "opt")).Message);
        Assert.Contains("'encoder', 'predictor'", Assert.Throws<KeyNotFoundException>(() => TorchCheckpoint.ReadStateDict(path, key: "ema")).Message);
    }

    [Fact]
    public void Read_OptimizerState_KeepsIntegerKeysAndTensors()
    {
        var root = (OrderedDictionary<object, object?>)TorchCheckpoint.Read(fixtures.File("vjepa.pth"))!;
        var opt = (OrderedDictionary<object, object?>)root["opt"]!;
        var groups = Assert.IsType<List<object?>>(opt["param_groups"]);
        var group = (OrderedDictionary<object, object?>)groups[0]!;
        Assert.Equal(new List<object?> { 0L }, group["params"]);
        Assert.Equal(0.001, group["lr"]);
        Assert.Empty((OrderedDictionary<object, object?>)opt["state"]!);
    }

    [Fact]
    public void Read_LegacyFormat_IsRejectedWithResaveAdvice()
    {
        string path = fixtures.File("legacy.pth");
        var error = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Read(path));
        Assert.StartsWith(path, error.Message);
        Assert.Contains("re-save it with torch >= 1.6", error.Message);
    }

    [Fact]
    public void Read_TruncatedArchive_IsRejectedNamingTheFile()
    {
        byte[] bytes = File.ReadAllBytes(fixtures.File("plain.pth"));
        string path = _temp.File("cut.pth");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.ReadStateDict(path));
        Assert.StartsWith(path, error.Message);
    }

    [Fact]
    public void Read_MissingStorage_IsRejectedNamingTensorAndEntry()
    {
        string path = _temp.File("missing.pth");
        File.Copy(fixtures.File("plain.pth"), path);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            zip.Entries.Single(e => e.FullName == "plain/data/0").Delete();
        }
        var error = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.ReadStateDict(path));
        Assert.StartsWith(path, error.Message);
        Assert.Contains("tensor 'f32' needs storage plain/data/0", error.Message);
    }

    [Fact]
    public void Read_NotACheckpoint_IsRejected()
    {
        string path = _temp.File("text.pth");
        File.WriteAllText(path, "hello");
        Assert.Contains("not a PyTorch checkpoint", Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Read(path)).Message);
    }

    private static void Check(TensorData tensor, ScalarType dtype, long[] shape, float[] values)
    {
        Assert.Equal(dtype, tensor.Dtype);
        Assert.Equal(shape, tensor.Shape);
        Assert.Equal(values, tensor.ToFloatArray());
    }
}
