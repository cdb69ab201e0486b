using System.Buffers.Binary;
using System.IO.Compression;

namespace VideoSSL.Plots;

/// <summary>
/// Encodes 8-bit RGB or RGBA pixels (row-major, interleaved) as a PNG: IHDR, one IDAT holding the zlib
/// stream of unfiltered scanlines, IEND. Unfiltered rows compress well enough for charts and frame grids.
/// </summary>
public static class PngWriter
{
    private static readonly byte[] s_signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly uint[] s_crcTable = BuildCrcTable();

    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels = 3)
    {
        if (channels is not (3 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "PNG writer takes 3 (RGB) or 4 (RGBA) channels");
        }
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        }
        var stride = checked(width * channels);
        var expected = (long)stride * height;
        if (pixels.Length != expected)
        {
            throw new ArgumentException(
                $"pixel buffer holds {pixels.Length} bytes, expected {width}x{height}x{channels} = {expected}", nameof(pixels));
        }

        using var output = new MemoryStream();
        output.Write(s_signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;                                // bit depth
        header[9] = (byte)(channels == 3 ? 2 : 6);    // colour type: truecolour / truecolour with alpha
        header[10] = 0;                               // compression: deflate
        header[11] = 0;                               // filter method 0
        header[12] = 0;                               // no interlace
        WriteChunk(output, "IHDR"u8, header);

        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                for (var y = 0; y < height; y++)
                {
                    zlib.WriteByte(0); // filter type None
                    zlib.Write(pixels.Slice(y * stride, stride));
                }
            }
            WriteChunk(output, "IDAT"u8, compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        }

        WriteChunk(output, "IEND"u8, []);
        return output.ToArray();
    }

    /// <summary>Encodes and writes atomically (temp file, then rename).</summary>
    public static void Save(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels = 3) =>
        AtomicFile.WriteAllBytes(path, Encode(pixels, width, height, channels));

    /// <summary>CRC-32 with the zlib polynomial (0xEDB88320 reflected), as PNG chunks use.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data) => ~UpdateCrc32(0xFFFFFFFFu, data);

    private static uint UpdateCrc32(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            crc = s_crcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return crc;
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        // The chunk CRC covers the type and the data, not the length.
        var crc = ~UpdateCrc32(UpdateCrc32(0xFFFFFFFFu, type), data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[n] = c;
        }
        return table;
    }
}
