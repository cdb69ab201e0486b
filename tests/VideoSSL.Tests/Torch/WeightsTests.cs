using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Torch;

using static VideoSSL.Torch.Torch;

public class WeightsTests
{
    [Fact]
    public void Module_round_trips_through_safetensors_including_bf16()
    {
        var dir = Directory.CreateTempSubdirectory("vssl-weights-");
        var path = Path.Combine(dir.FullName, "model.safetensors");
        using var a = new NNTests.Mlp(3, 4, 2);
        using var b = new NNTests.Mlp(3, 4, 2);
        Weights.Save(path, a.StateDict(), new Dictionary<string, string> { ["step"] = "7" });
        Weights.LoadInto(b, path);
        using var scope = NewScope();
        Assert.Equal(a.Fc2.Weight.Value.ToArray<float>(), b.Fc2.Weight.Value.ToArray<float>());
        Assert.Equal("7", Weights.ReadMetadata(path)["step"]);

        var bf = Tensor([1.5f, -0.25f]).To(ScalarType.BFloat16);
        Weights.Save(path, [new("x", bf)]);
        var loaded = Weights.Load(path);
        Assert.Equal(ScalarType.BFloat16, loaded["x"].Dtype);
        Assert.Equal([1.5f, -0.25f], loaded["x"].Float().ToArray<float>());
        loaded["x"].Dispose();
        dir.Delete(true);
    }

    [Fact]
    public void Loading_a_mismatched_file_names_the_file_and_the_keys()
    {
        var dir = Directory.CreateTempSubdirectory("vssl-weights-");
        var path = Path.Combine(dir.FullName, "small.safetensors");
        using var small = new NNTests.Mlp(3, 4, 2);
        using var big = new NNTests.Mlp(3, 5, 2);
        Weights.Save(path, small.StateDict());
        var e = Assert.Throws<StateDictMismatchException>(() => Weights.LoadInto(big, path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("fc1.weight", e.Message, StringComparison.Ordinal);
        dir.Delete(true);
    }
}
