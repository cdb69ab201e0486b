using System.Buffers.Binary;
using System.Numerics;

namespace VideoSSL.Training.Logging;

/// <summary>
/// TFRecord framing as TensorBoard reads it: u64 LE length, masked CRC-32C of those 8 bytes, the data,
/// masked CRC-32C of the data.
/// </summary>
public static class TfRecord
{
    /// <summary>CRC-32C (Castagnoli). BitOperations.Crc32C is the raw update step (hardware where available): invert before and after.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        return ~crc;
    }

    /// <summary>TensorFlow stores a rotated, offset CRC so a CRC of data that itself holds CRCs is not degenerate.</summary>
    public static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        var crc = Crc32C(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
    }

    public static byte[] Frame(ReadOnlySpan<byte> data)
    {
        var record = new byte[8 + 4 + data.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(record, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), MaskedCrc32C(record.AsSpan(0, 8)));
        data.CopyTo(record.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12 + data.Length), MaskedCrc32C(data));
        return record;
    }
}
