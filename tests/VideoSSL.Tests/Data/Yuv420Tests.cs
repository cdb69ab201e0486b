using VideoSSL.Data;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Video;
using Xunit.Abstractions;

namespace VideoSSL.Tests.Data;

public sealed class Yuv420Tests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vssl-yuv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Clip Filled(int width, Func<int, (byte R, byte G, byte B)> colourOfColumn)
    {
        var clip = new Clip(1, 2, width);
        for (int y = 0; y < 2; y++)
        {
            for (int x = 0; x < width; x++)
            {
                (byte r, byte g, byte b) = colourOfColumn(x);
                clip.Pixels[3 * ((y * width) + x)] = r;
                clip.Pixels[(3 * ((y * width) + x)) + 1] = g;
                clip.Pixels[(3 * ((y * width) + x)) + 2] = b;
            }
        }
        return clip;
    }

    [Fact]
    public void Flat_colours_survive_and_chroma_blends_across_a_cell_edge_bilinearly()
    {
        // Grey has no chroma: only the limited-range luma rounding (219 levels for 256) can move it.
        Clip grey = Filled(4, _ => (100, 100, 100));
        Yuv420.RoundTrip(grey);
        Assert.All(grey.Pixels, p => Assert.InRange(p, 99, 101));

        // Red in columns 0-1, blue in 2-3: each 2 x 2 chroma cell is flat. Column 0 sits on the red cell's sample
        // (chroma x = max(0, -0.25) = 0); column 1 is at chroma x 0.25, three quarters red cell and one quarter blue.
        Clip edge = Filled(4, x => x < 2 ? ((byte)200, (byte)30, (byte)30) : ((byte)30, (byte)30, (byte)200));
        Yuv420.RoundTrip(edge);
        Assert.InRange(edge.Pixels[0], 198, 202);
        Assert.InRange(edge.Pixels[2], 28, 32);
        // Hand computation of column 1: Y of red 85.42 -> 85; Cb/Cr of the red cell (102.8, 202.7) -> (103, 203), of
        // the blue cell (202.7, 115.5) -> (203, 115); so Cb - 128 = 0.75*103 + 0.25*203 - 128 = 0, Cr - 128 = 53:
        // R = 1.164383*69 + 1.596027*53 = 164.9, B = 80.3 (without the blend: R 200, B 30).
        Assert.Equal(165, edge.Pixels[3]);
        Assert.Equal(80, edge.Pixels[5]);
    }

    [Theory]
    [InlineData(VideoCodec.H264Mp4)]
    [InlineData(VideoCodec.Vp9Webm)]
    public void The_round_trip_brings_a_render_closer_to_its_encoded_file(VideoCodec codec)
    {
        double clean = 0, emulated = 0;
        const int Clips = 4;
        for (int seed = 0; seed < Clips; seed++)
        {
            Clip render = NuisanceVideo.Render(seed % NuisanceVideo.Classes.Count, 900 + seed, NuisanceStats.Default, 64, 8);
            string path = Path.Combine(_dir, $"c{seed}{(codec == VideoCodec.H264Mp4 ? ".mp4" : ".webm")}");
            FfmpegEncoder.Encode(render, 8, path, codec);
            Clip decoded;
            using (var reader = VideoReader.Open(path))
            {
                decoded = reader.Read(Enumerable.Range(0, render.Frames).ToArray());
            }
            clean += Psnr(decoded, render);
            var copy = new Clip(render.Frames, render.Height, render.Width, (byte[])render.Pixels.Clone());
            Yuv420.RoundTrip(copy);
            emulated += Psnr(decoded, copy);
        }
        clean /= Clips;
        emulated /= Clips;
        output.WriteLine($"{codec}: PSNR of the file to the render {clean:F1} dB, to its 4:2:0 round trip {emulated:F1} dB");
        Assert.True(emulated > clean + 2, $"{codec}: the round trip is {emulated:F1} dB from the decoded file, the clean render {clean:F1} dB");
    }

    [Fact]
    public void A_yuv420_pool_renders_the_round_trip_of_the_clean_pool_and_refuses_odd_sides()
    {
        var options = new ProceduralOptions { Clips = 3, Size = 32, Frames = 4 };
        VideoSample sample = ProceduralDataset.Create(options).Samples[2];
        Clip clean = ProceduralDataset.Render(sample, options);
        Clip yuv = ProceduralDataset.Render(sample, options with { Yuv420 = true });
        Assert.NotEqual(clean.Pixels, yuv.Pixels);
        Yuv420.RoundTrip(clean);
        Assert.Equal(clean.Pixels, yuv.Pixels);

        var odd = Assert.Throws<ArgumentException>(() => ProceduralDataset.Create(options with { Size = 33, Yuv420 = true }));
        Assert.Contains("size 33", odd.Message, StringComparison.Ordinal);
    }

    private static double Psnr(Clip a, Clip b)
    {
        Assert.Equal(a.Pixels.Length, b.Pixels.Length);
        double sum = 0;
        for (int i = 0; i < a.Pixels.Length; i++)
        {
            double d = a.Pixels[i] - b.Pixels[i];
            sum += d * d;
        }
        return 10 * Math.Log10(255.0 * 255.0 / (sum / a.Pixels.Length));
    }
}
