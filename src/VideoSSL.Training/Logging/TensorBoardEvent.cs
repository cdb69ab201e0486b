using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace VideoSSL.Training.Logging;

/// <summary>
/// Encodes the few TensorBoard protobuf messages the suite writes (Event, Summary, Summary.Value, Summary.Image)
/// by hand, fields in number order and proto3 defaults (0, empty) left out, as protobuf's own serializer does.
/// </summary>
public static class TensorBoardEvent
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    /// <summary>The first record of every event file: Event{wall_time, file_version = "brain.Event:2"}.</summary>
    public static byte[] FileVersion(double wallTime)
    {
        var e = new ProtoWriter();
        e.Double(1, wallTime);
        e.Bytes(3, Encoding.UTF8.GetBytes("brain.Event:2"));
        return e.ToArray();
    }

    /// <summary>Event{wall_time, step, summary{value{tag, simple_value}}}.</summary>
    public static byte[] Scalar(double wallTime, long step, string tag, float value)
    {
        var v = new ProtoWriter();
        v.Bytes(1, Encoding.UTF8.GetBytes(tag));
        v.Float(2, value);
        return Event(wallTime, step, v.ToArray());
    }

    /// <summary>Event{wall_time, step, summary{value{tag, image{height, width, colorspace = 3 (RGB), encoded PNG}}}}.</summary>
    public static byte[] Image(double wallTime, long step, string tag, ReadOnlySpan<byte> png, int width, int height)
    {
        var image = new ProtoWriter();
        image.Varint(1, (ulong)height);
        image.Varint(2, (ulong)width);
        image.Varint(3, 3);
        image.Bytes(4, png);
        var v = new ProtoWriter();
        v.Bytes(1, Encoding.UTF8.GetBytes(tag));
        v.Bytes(4, image.ToArray());
        return Event(wallTime, step, v.ToArray());
    }

    private static byte[] Event(double wallTime, long step, byte[] value)
    {
        var summary = new ProtoWriter();
        summary.Bytes(1, value);
        var e = new ProtoWriter();
        e.Double(1, wallTime);
        e.Varint(2, unchecked((ulong)step));
        e.Bytes(5, summary.ToArray());
        return e.ToArray();
    }

    private sealed class ProtoWriter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new();

        public void Varint(int field, ulong value)
        {
            if (value == 0)
            {
                return;
            }
            Tag(field, WireVarint);
            WriteVarint(value);
        }

        public void Double(int field, double value)
        {
            if (value == 0)
            {
                return;
            }
            Tag(field, WireFixed64);
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void Float(int field, float value)
        {
            // simple_value sits in a oneof, which has presence: protobuf writes it even when it is 0.
            Tag(field, WireFixed32);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void Bytes(int field, ReadOnlySpan<byte> value)
        {
            Tag(field, WireLengthDelimited);
            WriteVarint((ulong)value.Length);
            _buffer.Write(value);
        }

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

        private void Tag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            WriteByte((byte)value);
        }

        private void WriteByte(byte value)
        {
            _buffer.GetSpan(1)[0] = value;
            _buffer.Advance(1);
        }
    }
}
