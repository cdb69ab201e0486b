using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using VideoSSL.Torch;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Serialization;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static List<TensorData> AllDtypes() =>
    [
        TensorData.FromFloats("f32", ScalarType.Float32, [2, 3], [1.5f, -2f, 0f, float.MaxValue, 1e-30f, -0f]),
        TensorData.FromFloats("f16", ScalarType.Float16, [3], [0.25f, -65504f, 1f / 1024]),
        TensorData.FromFloats("bf16", ScalarType.BFloat16, [2, 2], [1.5f, -2f, 0.0078125f, 65280f]),
        TensorData.FromFloats("f64", ScalarType.Float64, [2], [0.1f, -3f]),
        TensorData.FromValues<long>("i64", ScalarType.Int64, [3], [-5, 1L << 40, long.MinValue]),
        TensorData.FromValues<int>("i32", ScalarType.Int32, [2], [-7, int.MaxValue]),
        TensorData.FromValues<short>("i16", ScalarType.Int16, [2], [-300, 300]),
        TensorData.FromValues<sbyte>("i8", ScalarType.Int8, [2], [-128, 127]),
        TensorData.FromValues<byte>("u8", ScalarType.UInt8, [1, 2], [0, 255]),
        TensorData.FromValues<byte>("bool", ScalarType.Bool, [3], [1, 0, 1]),
        TensorData.FromFloats("scalar", ScalarType.Float32, [], [7.25f]),
        TensorData.FromFloats("empty", ScalarType.Float32, [0, 4], []),
    ];

    [Fact]
    public void RoundTrip_AllSupportedDtypes_KeepsOrderShapesBytesAndMetadata()
    {
        string path = _temp.File("all.safetensors");
        var tensors = AllDtypes();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };

        SafeTensors.Write(path, tensors, metadata);

        using var file = SafeTensors.Read(path);
        Assert.Equal(tensors.Select(t => t.Name), file.Tensors.Keys);
        Assert.Equal(metadata, file.Metadata);
        foreach (var expected in tensors)
        {
            var actual = file[expected.Name];
            Assert.Equal(expected.Dtype, actual.Dtype);
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
        }
        Assert.Equal([0.25f, -65504f, 1f / 1024], file["f16"].ToFloatArray());
        Assert.Equal([1.5f, -2f, 0.0078125f, 65280f], file["bf16"].ToFloatArray());
        Assert.Equal([-5L, 1L << 40, long.MinValue], file["i64"].ToInt64Array());
        Assert.Equal([-128L, 127], file["i8"].ToInt64Array());
        Assert.Equal(0UL, (8 + BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path))) % 8);
    }

    [Fact]
    public void Write_OneTensor_GivesGoldenBytes()
    {
        string path = _temp.File("golden.safetensors");
        SafeTensors.Write(path, [TensorData.FromFloats("w", ScalarType.Float32, [2], [1f, 2f])]);

        // 54 bytes of JSON padded with 2 spaces to 56, so the data starts at byte 64.
        const string json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ";
        var expected = new List<byte>();
        expected.AddRange(BitConverter.GetBytes(56UL));
        expected.AddRange(Encoding.ASCII.GetBytes(json));
        expected.AddRange(new byte[] { 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40 });
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void Read_FileBuiltFromTheSpec_GivesValuesInDataOrder()
    {
        // Header lists the tensors out of data order and is not padded: both are legal.
        string json = """{"b":{"dtype":"I16","shape":[2],"data_offsets":[8,12]},"__metadata__":{"source":"hand"},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"c":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]}}""";
        var data = new byte[14];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2f);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(8), -3);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(10), 300);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(12), 0xC0A0); // bf16 -5.0
        string path = WriteRaw("spec.safetensors", json, data);

        using var file = SafeTensors.Read(path);
        Assert.Equal(["a", "b", "c"], file.Tensors.Keys);
        Assert.Equal("hand", file.Metadata["source"]);
        Assert.Equal(ScalarType.Float32, file["a"].Dtype);
        Assert.Equal([2L, 1], file["a"].Shape);
        Assert.Equal([1.5f, -2f], file["a"].ToFloatArray());
        Assert.Equal([-3L, 300], file["b"].ToInt64Array());
        Assert.Equal([-5f], file["c"].ToFloatArray());
    }

    public static TheoryData<string, string, byte[], string> MalformedFiles()
    {
        byte[] eight = new byte[8];
        return new TheoryData<string, string, byte[], string>
        {
            { "out of range", Entry("a", "F32", "[4]", 0, 16), eight, "'a': data_offsets [0, 16] run past the 8-byte data buffer" },
            { "overlap", Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 4, 12), new byte[12], "'b': data_offsets [4, 12] overlap tensor 'a'" },
            { "hole", Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 12, 20), new byte[20], "'b': data_offsets begin at 12, leaving a hole" },
            { "bad dtype", Entry("a", "F33", "[2]", 0, 8), eight, "'a': unknown dtype 'F33'" },
            { "size mismatch", Entry("a", "F32", "[3]", 0, 8), eight, "'a': data_offsets [0, 8] hold 8 bytes but F32 [3] needs 12" },
            { "negative dim", Entry("a", "F32", "[-2]", 0, 8), eight, "'a': 'shape' holds -2" },
            { "trailing bytes", Entry("a", "F32", "[2]", 0, 8), new byte[12], "cover 8 bytes of a 12-byte data buffer" },
            { "duplicate", Entry("a", "F32", "[1]", 0, 4) + "," + Entry("a", "F32", "[1]", 4, 8), eight, "entry 'a' appears twice" },
            { "offsets reversed", Entry("a", "F32", "[0]", 8, 0), eight, "'a': data_offsets [8, 0] end before they begin" },
            { "metadata not strings", "\"__metadata__\":{\"k\":1}", [], "metadata 'k' is not a string" },
        };
    }

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void Read_MalformedHeader_IsRejectedNamingFileAndEntry(string label, string entries, byte[] data, string message)
    {
        string path = WriteRaw(label.Replace(' ', '_') + ".safetensors", "{" + entries + "}", data);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.StartsWith(path, error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Read_HeaderLengthOverLimit_IsRejected()
    {
        string path = _temp.File("huge.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(200_000_000UL), .. Encoding.ASCII.GetBytes("{}      ")]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("header length 200000000 exceeds the 100000000-byte limit", error.Message);
    }

    [Fact]
    public void Read_TruncatedFiles_AreRejected()
    {
        string good = _temp.File("good.safetensors");
        SafeTensors.Write(good, AllDtypes());
        byte[] bytes = File.ReadAllBytes(good);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);

        foreach (int length in new[] { 0, 5, 8 + 10, headerEnd, bytes.Length - 1 })
        {
            string path = _temp.File($"cut{length}.safetensors");
            File.WriteAllBytes(path, bytes[..length]);
            var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
            Assert.StartsWith(path, error.Message);
            Assert.Matches("too short|truncated|not valid JSON", error.Message);
        }
    }

    [Fact]
    public void Read_NotJson_IsRejected()
    {
        string path = WriteRaw("garbage.safetensors", "{\"a\": [1, 2", []);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Theory]
    [InlineData("U16")]
    [InlineData("U32")]
    [InlineData("U64")]
    [InlineData("F8_E4M3")]
    [InlineData("F8_E5M2")]
    [InlineData("C64")]
    public void Read_UnsupportedDtype_ThrowsNotSupportedNamingTensor(string dtype)
    {
        string path = WriteRaw($"{dtype}.safetensors", "{" + Entry("ok", "F32", "[1]", 0, 4) + "," + Entry("odd_one", dtype, "[1]", 4, 8) + "}", new byte[8]);
        var error = Assert.Throws<NotSupportedException>(() => SafeTensors.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'odd_one'", error.Message);
        Assert.Contains(dtype, error.Message);
    }

    [Fact]
    public void Write_EnumerableThrowsMidway_LeavesPreviousFileIntact()
    {
        string path = _temp.File("model.safetensors");
        SafeTensors.Write(path, AllDtypes());
        byte[] before = File.ReadAllBytes(path);

        IEnumerable<TensorData> Failing()
        {
            yield return TensorData.FromFloats("x", ScalarType.Float32, [1], [1f]);
            throw new InvalidOperationException("producer failed");
        }

        Assert.Throws<InvalidOperationException>(() => SafeTensors.Write(path, Failing()));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void Write_TensorBytesFailWhileWriting_LeavesPreviousFileIntactAndNoTempFile()
    {
        string path = _temp.File("model.safetensors");
        SafeTensors.Write(path, AllDtypes());
        byte[] before = File.ReadAllBytes(path);
        var failing = new TensorData("late", ScalarType.Float32, [2], new FailingMemory(8).Memory);

        var error = Assert.Throws<IOException>(() => SafeTensors.Write(path, [AllDtypes()[0], failing]));
        Assert.Equal("disk gone", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void Weights_save_holds_one_tensor_at_a_time_and_reads_back_the_same_bytes()
    {
        // Eight 1 MiB tensors: a save that copied the whole state first would allocate 8 MiB of managed arrays.
        using var scope = VideoSSL.Torch.Torch.NewScope();
        var tensors = Enumerable.Range(0, 8).Select(i => new KeyValuePair<string, Tensor>($"t{i}", VideoSSL.Torch.Torch.Randn([512, 512]).Add(i))).ToList();
        string warm = _temp.File("warm.safetensors");
        Weights.Save(warm, tensors); // first use of the pool and the writer's code paths
        string path = _temp.File("state.safetensors");
        var before = GC.GetAllocatedBytesForCurrentThread();
        Weights.Save(path, tensors);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 3L << 20, $"a save of 8 MiB of tensors allocated {allocated} managed bytes");
        var loaded = Weights.Load(path);
        foreach (var (name, tensor) in tensors)
        {
            Assert.Equal(tensor.ToBytes(), loaded[name].ToBytes());
            loaded[name].Dispose();
        }
        Assert.Equal(File.ReadAllBytes(warm), File.ReadAllBytes(path));
    }

    [Fact]
    public void Write_an_entry_that_writes_the_wrong_length_is_refused_and_leaves_no_file()
    {
        string path = _temp.File("short.safetensors");
        var entry = new SafeTensors.Entry("x", ScalarType.Float32, [2], 8, stream => stream.Write(new byte[4]));
        var e = Assert.Throws<InvalidOperationException>(() => SafeTensors.Write(path, [entry]));
        Assert.Contains("tensor 'x': wrote 4 bytes, the header says 8", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
        var mismatch = Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [entry with { ByteLength = 12 }]));
        Assert.Contains("tensor 'x': 12 bytes given", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_RejectsDuplicateAndReservedNames()
    {
        var a = TensorData.FromFloats("a", ScalarType.Float32, [1], [1f]);
        Assert.Contains("'a' is given twice", Assert.Throws<ArgumentException>(() => SafeTensors.Write(_temp.File("d.safetensors"), [a, a])).Message);
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(_temp.File("r.safetensors"), [a.WithName("__metadata__")]));
        Assert.Empty(Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void Tensors_AfterDispose_ThrowInsteadOfReadingUnmappedMemory()
    {
        string path = _temp.File("m.safetensors");
        SafeTensors.Write(path, AllDtypes());
        var file = SafeTensors.Read(path);
        var tensor = file["f32"];
        var copy = tensor.Detach();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tensor.Data.Span[0]);
        Assert.Equal(1.5f, copy.ToFloatArray()[0]);
    }

    [Fact]
    public void TensorData_RejectsByteCountThatDoesNotMatchShape()
    {
        var error = Assert.Throws<ArgumentException>(() => new TensorData("w", ScalarType.Float16, [3], new byte[4]));
        Assert.Contains("'w'", error.Message);
    }

    [Fact]
    public void BFloat16Conversion_RoundsToNearestEven()
    {
        // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0).
        Assert.Equal(0x3F80, TensorData.SingleToBFloat16(1f + 1f / 256));
        Assert.Equal(0x3F82, TensorData.SingleToBFloat16(1f + 3f / 256)); // tie between 0x3F81 and 0x3F82 → even
        Assert.Equal(0x3F81, TensorData.SingleToBFloat16(1f + 1.5f / 256));
        Assert.True(float.IsNaN(TensorData.BFloat16ToSingle(TensorData.SingleToBFloat16(float.NaN))));
    }

    [Fact]
    public void WrittenFile_ReadByPython_GivesIdenticalValues()
    {
        string path = _temp.File("cross.safetensors");
        var tensors = AllDtypes();
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        // safetensors is not installed for the system Python: parse the spec with struct/json and torch.frombuffer.
        const string script = """
            import json, struct, sys
            dtypes = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64,
                      'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
                      'U8': torch.uint8, 'BOOL': torch.bool}
            raw = open(sys.argv[1], 'rb').read()
            n, = struct.unpack('<Q', raw[:8])
            header = json.loads(raw[8:8 + n])
            data = bytearray(raw[8 + n:])
            out = {'__aligned__': (8 + n) % 8 == 0, '__metadata__': header.pop('__metadata__')}
            for name, e in header.items():
                b, f = e['data_offsets']
                t = torch.frombuffer(data[b:f], dtype=dtypes[e['dtype']]) if f > b else torch.empty(0, dtype=dtypes[e['dtype']])
                t = t.reshape(e['shape'])
                values = t.float().flatten().tolist() if t.is_floating_point() else t.flatten().tolist()
                if t.dtype == torch.float64:
                    values = t.flatten().tolist()
                out[name] = {'shape': list(t.shape), 'values': values}
            print(json.dumps(out))
            """;
        using var result = JsonDocument.Parse(SystemPython.RunWithTorch(script, path));
        var root = result.RootElement;
        Assert.True(root.GetProperty("__aligned__").GetBoolean());
        Assert.Equal("pt", root.GetProperty("__metadata__").GetProperty("format").GetString());
        foreach (var tensor in tensors)
        {
            var entry = root.GetProperty(tensor.Name);
            Assert.Equal(tensor.Shape, entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            var values = entry.GetProperty("values").EnumerateArray().ToList();
            if (tensor.Dtype == ScalarType.Float64)
            {
                var expected = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(tensor.Data.Span).ToArray();
                Assert.Equal(expected, values.Select(v => v.GetDouble()));
            }
            else if (tensor.Dtype.IsFloatingPoint())
            {
                Assert.Equal(tensor.ToFloatArray(), values.Select(v => (float)v.GetDouble()));
            }
            else if (tensor.Dtype == ScalarType.Bool)
            {
                Assert.Equal(tensor.ToInt64Array().Select(v => v != 0), values.Select(v => v.GetBoolean()));
            }
            else
            {
                Assert.Equal(tensor.ToInt64Array(), values.Select(v => v.GetInt64()));
            }
        }
    }

    private string WriteRaw(string name, string json, byte[] data)
    {
        string path = _temp.File(name);
        byte[] header = Encoding.UTF8.GetBytes(json);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. data]);
        return path;
    }

    /// <summary>Bytes that cannot be read: stands for a source failing while the writer copies it.</summary>
    private sealed class FailingMemory(int length) : MemoryManager<byte>
    {
        public int Length { get; } = length;

        public override Span<byte> GetSpan() => throw new IOException("disk gone");

        public override Memory<byte> Memory => CreateMemory(Length);

        public override MemoryHandle Pin(int elementIndex = 0) => throw new IOException("disk gone");

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
