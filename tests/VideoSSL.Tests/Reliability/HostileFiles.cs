using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace VideoSSL.Tests.Reliability;

/// <summary>Crafts hostile checkpoint files byte by byte: pickles no torch.save would write, in the zip layout it uses.</summary>
internal sealed class PickleBuilder
{
    private readonly MemoryStream _bytes = new();

    public PickleBuilder()
    {
        Op(0x80, 2); // PROTO 2
    }

    public PickleBuilder Op(params byte[] bytes)
    {
        _bytes.Write(bytes);
        return this;
    }

    public PickleBuilder Op(char opcode) => Op((byte)opcode);

    public PickleBuilder Text(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)utf8.Length);
        return Op((byte)'X').Op(length.ToArray()).Op(utf8);
    }

    public PickleBuilder Int(int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return Op((byte)'J').Op(bytes.ToArray());
    }

    public PickleBuilder Global(string module, string name) => Op(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    /// <summary>A tensor as torch pickles it: _rebuild_tensor_v2((storage pid), offset, size, stride, False, OrderedDict()).</summary>
    public PickleBuilder Tensor(string storageKey, int storageNumel, int[] size, int[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2").Op('(');
        Op('(').Text("storage").Global("torch", "FloatStorage").Text(storageKey).Text("cpu").Int(storageNumel).Op('t').Op('Q');
        Int(0);
        Op('(');
        foreach (int s in size)
        {
            Int(s);
        }
        Op('t').Op('(');
        foreach (int s in stride)
        {
            Int(s);
        }
        Op('t').Op(0x89).Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R');
        return this;
    }

    public byte[] ToArray() => [.. _bytes.ToArray(), (byte)'.'];

    /// <summary>Writes <c>archive/data.pkl</c> and the given storages as torch.save's zip.</summary>
    public static void WritePth(string path, byte[] pickle, IReadOnlyDictionary<string, byte[]>? storages = null, bool compress = false)
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] data)
        {
            using var stream = zip.CreateEntry(name, compress ? CompressionLevel.Fastest : CompressionLevel.NoCompression).Open();
            stream.Write(data);
        }
        Add("archive/data.pkl", pickle);
        foreach (var (key, data) in storages ?? new Dictionary<string, byte[]>())
        {
            Add($"archive/data/{key}", data);
        }
        Add("archive/version", "3\n"u8.ToArray());
    }

    /// <summary>A safetensors file whose header is the given bytes (padded with spaces), followed by <paramref name="data"/>.</summary>
    public static void WriteSafeTensors(string path, byte[] header, byte[] data)
    {
        int padded = (header.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        header.CopyTo(bytes, 8);
        bytes.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + padded);
        File.WriteAllBytes(path, bytes);
    }
}
