using System.Buffers.Binary;
using System.Text;
using VideoSSL.Training.Logging;

namespace VideoSSL.Tests.Plots;

public class TensorBoardWriterTests
{
    // From formats.md: Event{wall_time=1700000001.5, step=42, summary{value{tag="train/loss", simple_value=0.5}}}.
    private static readonly byte[] s_goldenEvent = Convert.FromHexString("0900006040fc54d941102a2a130a110a0a747261696e2f6c6f7373150000003f");
    private static readonly byte[] s_goldenRecord = Convert.FromHexString(
        "2000000000000000" + "29eda950" + "0900006040fc54d941102a2a130a110a0a747261696e2f6c6f7373150000003f" + "4b7c33f1");

    [Fact]
    public void Crc32C_of_check_string_is_the_castagnoli_value()
    {
        Assert.Equal(0xE3069283u, TfRecord.Crc32C(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, TfRecord.Crc32C([]));
    }

    [Fact]
    public void Scalar_event_matches_golden_bytes()
    {
        Assert.Equal(s_goldenEvent, TensorBoardEvent.Scalar(1700000001.5, 42, "train/loss", 0.5f));
    }

    [Fact]
    public void Framed_record_matches_golden_bytes()
    {
        Assert.Equal(s_goldenRecord, TfRecord.Frame(s_goldenEvent));
    }

    [Fact]
    public void Event_file_starts_with_file_version_and_holds_the_golden_scalar_record()
    {
        var dir = Directory.CreateTempSubdirectory("videossl-tb-").FullName;
        try
        {
            string path;
            using (var writer = new TensorBoardWriter(dir, () => 1700000001.5))
            {
                writer.AddScalar("train/loss", 0.5f, 42);
                writer.AddImage("recon", [0x89, 0x50, 0x4E, 0x47], 16, 8, 42);
                path = writer.FilePath;
            }
            Assert.Equal($"events.out.tfevents.1700000001.{Environment.MachineName}.{Environment.ProcessId}", Path.GetFileName(path));

            var records = ReadRecords(File.ReadAllBytes(path));
            Assert.Equal(3, records.Count);
            // Event{wall_time (field 1, fixed64), file_version (field 3) = "brain.Event:2"}.
            Assert.Equal("0900006040fc54d9411a0d", Convert.ToHexString(records[0].AsSpan(0, 11)).ToLowerInvariant());
            Assert.Equal("brain.Event:2", Encoding.ASCII.GetString(records[0], 11, 13));
            Assert.Equal(24, records[0].Length);
            Assert.Equal(s_goldenEvent, records[1]);
            // Image: ... value{tag "recon" (0a05...), image (22 len){height 8 (0808), width 16 (1010), colorspace 3 (1803), png (2204 ...)}}.
            Assert.EndsWith("0a057265636f6e220c080810101803220489504e47", Convert.ToHexString(records[2]).ToLowerInvariant());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Two_writers_in_the_same_second_get_different_files()
    {
        var dir = Directory.CreateTempSubdirectory("videossl-tb-").FullName;
        try
        {
            using var a = new TensorBoardWriter(dir, () => 1700000000);
            using var b = new TensorBoardWriter(dir, () => 1700000000);
            Assert.NotEqual(a.FilePath, b.FilePath);
            Assert.Contains("tfevents", Path.GetFileName(b.FilePath));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Reads TFRecords, checking both masked CRCs of each.</summary>
    private static List<byte[]> ReadRecords(byte[] file)
    {
        var records = new List<byte[]>();
        var offset = 0;
        while (offset < file.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(offset));
            Assert.Equal(TfRecord.MaskedCrc32C(file.AsSpan(offset, 8)), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 8)));
            var data = file.AsSpan(offset + 12, length).ToArray();
            Assert.Equal(TfRecord.MaskedCrc32C(data), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 12 + length)));
            records.Add(data);
            offset += 16 + length;
        }
        Assert.Equal(file.Length, offset);
        return records;
    }
}
