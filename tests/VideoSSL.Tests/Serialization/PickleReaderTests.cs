using System.Numerics;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Serialization;

/// <summary>The same object pickled by CPython with every protocol, once per test class.</summary>
public sealed class PickleFixtures : IDisposable
{
    private const string Script = """
        import argparse, collections, pickle, sys
        shared = ['x', 'y']
        obj = {'int': 1, 'neg': -70000, 'i2': 60000, 'big': 2**100, 'bigneg': -2**64, 'float': 2.5,
               'str': 'h\u00e9llo \u4e16\U0001F600 back\\slash\nline', 'bytes': b'\x01\x02\\\n\xff',
               'list': [1, [2, 3]], 'tuple': (1, 2, 3, 4), 'none': None, 't': True, 'f': False,
               'set': {7}, (1, 'k'): 'tuple key', 3: 'int key',
               'ns': argparse.Namespace(a=1), 'od': collections.OrderedDict(z=1, a=2),
               'shared': shared, 'shared2': shared, 'long': 'x' * 300}
        for protocol in range(6):
            with open(f'{sys.argv[1]}/p{protocol}.pkl', 'wb') as f:
                pickle.dump(obj, f, protocol=protocol)
        print('ok')
        """;

    private readonly TempDirectory _temp = new();

    public PickleFixtures()
    {
        Assert.Equal("ok", SystemPython.Run(Script, _temp.Path).Trim());
    }

    public string File(string name) => _temp.File(name);

    public void Dispose() => _temp.Dispose();
}

public sealed class PickleReaderTests(PickleFixtures fixtures) : IClassFixture<PickleFixtures>
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Load_EveryProtocol_GivesThePythonValues(int protocol)
    {
        var root = Assert.IsType<OrderedDictionary<object, object?>>(PickleReader.Load(File.ReadAllBytes(fixtures.File($"p{protocol}.pkl"))));

        Assert.Equal(1L, root["int"]);
        Assert.Equal(-70000L, root["neg"]);
        Assert.Equal(60000L, root["i2"]);
        Assert.Equal(BigInteger.Pow(2, 100), root["big"]);
        Assert.Equal(-BigInteger.Pow(2, 64), root["bigneg"]);
        Assert.Equal(2.5, root["float"]);
        Assert.Equal("h\u00e9llo \u4e16\U0001F600 back\\slash\nline", root["str"]);
        Assert.Equal(new byte[] { 1, 2, (byte)'\\', (byte)'\n', 0xFF }, root["bytes"]);
        Assert.Equal(new List<object?> { 1L, new List<object?> { 2L, 3L } }, root["list"]);
        Assert.Equal(new object?[] { 1L, 2L, 3L, 4L }, root["tuple"]);
        Assert.Null(root["none"]);
        Assert.Equal(true, root["t"]);
        Assert.Equal(false, root["f"]);
        Assert.Equal(new HashSet<object> { 7L }, Assert.IsType<HashSet<object>>(root["set"]));
        Assert.Equal("tuple key", root[new object?[] { 1L, "k" }]);
        Assert.Equal("int key", root[3L]);
        Assert.Equal(new string('x', 300), root["long"]);

        var ns = Assert.IsType<PickleObject>(root["ns"]);
        Assert.Equal("argparse.Namespace", ns.Type.FullName);
        Assert.Equal(1L, ns.GetAttribute("a"));

        var od = Assert.IsType<OrderedDictionary<object, object?>>(root["od"]);
        Assert.Equal(["z", "a"], od.Keys);

        // The memo makes a shared object one object, as in Python.
        Assert.Same(root["shared"], root["shared2"]);
    }

    [Fact]
    public void Load_TruncatedPickle_ThrowsNamingTheSource()
    {
        byte[] bytes = File.ReadAllBytes(fixtures.File("p2.pkl"));
        var error = Assert.Throws<InvalidDataException>(() => PickleReader.Load(bytes[..(bytes.Length - 5)], "ckpt.pth: data.pkl"));
        Assert.StartsWith("ckpt.pth: data.pkl: byte ", error.Message);
    }

    [Fact]
    public void Load_UnknownOpcode_ThrowsWithItsPosition()
    {
        var error = Assert.Throws<InvalidDataException>(() => PickleReader.Load([0x80, 0x02, 0xFF], "x.pkl"));
        Assert.Equal("x.pkl: byte 2: unsupported pickle opcode 0xff ('\u00ff')", error.Message);
    }

    [Fact]
    public void Load_PersistentIdWithoutLoader_IsRejected()
    {
        // PROTO 2, SHORT_BINUNICODE 'k', BINPERSID, STOP
        var error = Assert.Throws<InvalidDataException>(() => PickleReader.Load([0x80, 0x02, 0x8c, 0x01, (byte)'k', (byte)'Q', (byte)'.'], "x.pkl"));
        Assert.Contains("persistent id", error.Message);
    }
}
