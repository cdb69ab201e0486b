using System.Text;
using VideoSSL.Plots;

namespace VideoSSL.Tests.Plots;

public class PngWriterTests
{
    [Fact]
    public void Crc32_of_check_string_is_the_zlib_value()
    {
        Assert.Equal(0xCBF43926u, PngWriter.Crc32(Encoding.ASCII.GetBytes("123456789")));
    }

    [Fact]
    public void Rgb_image_decodes_back_to_the_same_pixels()
    {
        const int width = 7, height = 5;
        var pixels = new byte[width * height * 3];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 37) + 11);
        }

        var png = PngWriter.Encode(pixels, width, height);
        var (w, h, channels, decoded) = PngDecoder.Decode(png);

        Assert.Equal((width, height, 3), (w, h, channels));
        Assert.Equal(pixels, decoded);
    }

    [Fact]
    public void Rgba_image_decodes_back_with_colour_type_6()
    {
        byte[] pixels = [255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 40];
        var (w, h, channels, decoded) = PngDecoder.Decode(PngWriter.Encode(pixels, 2, 2, channels: 4));
        Assert.Equal((2, 2, 4), (w, h, channels));
        Assert.Equal(pixels, decoded);
    }

    [Fact]
    public void Wrong_buffer_size_is_rejected_with_the_expected_size()
    {
        var e = Assert.Throws<ArgumentException>(() => PngWriter.Encode(new byte[10], 2, 2));
        Assert.Contains("expected 2x2x3 = 12", e.Message);
    }

    [Fact]
    public void Save_writes_the_file_atomically_and_leaves_no_temp_file()
    {
        var dir = Directory.CreateTempSubdirectory("videossl-png-").FullName;
        try
        {
            var path = Path.Combine(dir, "sub", "a.png");
            PngWriter.Save(path, new byte[] { 1, 2, 3 }, 1, 1);
            PngWriter.Save(path, new byte[] { 4, 5, 6 }, 1, 1);
            Assert.Equal(new byte[] { 4, 5, 6 }, PngDecoder.Decode(File.ReadAllBytes(path)).Pixels);
            Assert.Single(Directory.GetFiles(Path.Combine(dir, "sub")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
