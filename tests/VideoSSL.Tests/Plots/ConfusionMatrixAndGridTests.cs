using VideoSSL.Plots;

namespace VideoSSL.Tests.Plots;

public class ConfusionMatrixAndGridTests
{
    [Fact]
    public void Top_confusion_is_the_largest_off_diagonal_cell()
    {
        long[,] counts =
        {
            { 50, 3, 0 },
            { 1, 40, 9 },
            { 2, 3, 45 },
        };
        var plot = new ConfusionMatrixPlot(counts, ["walk", "run", "jump"]);

        var top = plot.TopConfusions(3);

        Assert.Equal(new Confusion(1, 2, 9), top[0]);
        Assert.Equal(new Confusion(0, 1, 3), top[1]); // ties broken by true class
        Assert.Equal(new Confusion(2, 1, 3), top[2]);
        Assert.Equal(135.0 / 153.0, plot.Accuracy, 12);
        Assert.StartsWith("       9  run -> jump  (18.0% of run)", plot.TopConfusionsText(1));
    }

    [Fact]
    public void Heatmap_renders_for_many_classes_and_rejects_non_square_input()
    {
        var n = 200;
        var counts = new long[n, n];
        for (var i = 0; i < n; i++)
        {
            counts[i, i] = 5;
            counts[i, (i + 1) % n] = 1;
        }
        var (w, h, _, _) = PngDecoder.Decode(new ConfusionMatrixPlot(counts).ToPng());
        Assert.InRange(w, 600, 1400);
        Assert.InRange(h, 600, 1400);
        Assert.Throws<ArgumentException>(() => new ConfusionMatrixPlot(new long[2, 3]));
        Assert.Throws<ArgumentException>(() => new ConfusionMatrixPlot(new long[2, 2], ["only one name"]));
    }

    [Fact]
    public void Heatmap_puts_the_first_true_class_on_top_and_colours_by_row_share()
    {
        long[,] counts =
        {
            { 10, 0, 0 },
            { 0, 0, 7 },
            { 0, 0, 3 },
        };
        var chart = new ConfusionMatrixPlot(counts, ["a", "b", "c"]).ToChart();
        var image = PngDecoder.Decode(chart.ToPng());

        // Cell (true t, predicted p) is centred on (p + 0.5, n - t - 0.5); ScottPlot's transform gives its pixel.
        int Darkness(int t, int p)
        {
            var pixel = chart.Plot.GetPixel(new ScottPlot.Coordinates(p + 0.2, 3 - t - 0.2)); // off-centre: away from the count label
            var (r, g, b) = PngDecoder.Pixel(image, (int)pixel.X, (int)pixel.Y);
            return 765 - (r + g + b);
        }
        Assert.True(Darkness(0, 0) > 400, "class a -> a is 100% of its row");
        Assert.True(Darkness(1, 2) > 400, "class b -> c is 100% of its row");
        Assert.True(Darkness(0, 2) < 60, "class a -> c is empty");
        Assert.True(Darkness(1, 1) < 60, "class b -> b is empty");
    }

    [Fact]
    public void Grid_places_each_frame_scaled_into_its_cell()
    {
        var red = new RgbImage([.. Enumerable.Repeat<byte[]>([255, 0, 0], 4).SelectMany(p => p)], 2, 2);
        var blue = new RgbImage([.. Enumerable.Repeat<byte[]>([0, 0, 255], 8).SelectMany(p => p)], 4, 2); // wider: letterboxed
        var grid = new ImageGrid { CellWidth = 20, CellHeight = 20, Gap = 4 };
        grid.AddRow("", [red, blue]);

        var (png, width, height) = grid.Encode();
        var image = PngDecoder.Decode(png);

        // No labels: the grid starts at the 12-pixel margin; cell 1 starts 24 pixels further right.
        Assert.Equal((width, height), (image.Width, image.Height));
        Assert.Equal(((byte)255, (byte)0, (byte)0), PngDecoder.Pixel(image, 12, 12));
        Assert.Equal(((byte)255, (byte)0, (byte)0), PngDecoder.Pixel(image, 31, 31));
        Assert.Equal(((byte)0, (byte)0, (byte)255), PngDecoder.Pixel(image, 36 + 10, 12 + 10));
        Assert.NotEqual(((byte)0, (byte)0, (byte)255), PngDecoder.Pixel(image, 36 + 10, 12 + 2)); // above the 20x10 letterboxed frame
        Assert.Equal(12 + 20 + 4 + 20 + 12, image.Width);
    }

    [Fact]
    public void Reconstruction_grid_has_four_rows_per_clip_and_shows_error_only_where_masked()
    {
        const int clips = 2, frames = 2, size = 4;
        var n = clips * frames * size * size;
        var original = Enumerable.Repeat(0.5f, n * 3).ToArray();
        var prediction = new float[n * 3];
        var masked = new bool[n];
        for (var i = 0; i < n; i++)
        {
            masked[i] = i % size < 2; // left half of every row hidden
            for (var c = 0; c < 3; c++)
            {
                prediction[(i * 3) + c] = masked[i] ? 0.5f : float.NaN; // exact where predicted
            }
        }
        var grid = ReconstructionGrid.Create("t", clips, frames, size, size, original, original, prediction, masked, "note: raw pixels");
        grid.CellWidth = grid.CellHeight = 40;

        var image = PngDecoder.Decode(grid.ToPng());

        Assert.Equal(8, grid.RowCount);
        Assert.Equal(3, grid.Notes.Count);
        Assert.True(image.Height > 8 * 40);
        Assert.Throws<ArgumentException>(() => ReconstructionGrid.Create("t", 3, frames, size, size, original, original, prediction, masked));
        // Error map of frame 1: hidden pixels exact -> inferno's black; visible -> light grey; a wrong one -> bright.
        prediction[((size * size) + 1) * 3] = 1f; // frame 1, pixel (0, 1): red off by 0.5, mean error 0.5/3
        var error = ReconstructionGrid.ErrorFrame(original, prediction, masked, 1, size, size);
        Assert.True(error.Pixels[0] + error.Pixels[1] + error.Pixels[2] < 30);
        Assert.Equal(new byte[] { 210, 210, 210 }, error.Pixels[(3 * 3)..(3 * 3 + 3)]);
        Assert.True(error.Pixels[3] > 100, "a wrong prediction shows in the error map");
    }

    [Fact]
    public void Png_of_raw_rgb_decodes_to_the_same_pixels()
    {
        byte[] rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3];
        var image = PngDecoder.Decode(PlotStyle.EncodePng(rgb, 3, 2));
        Assert.Equal((3, 2), (image.Width, image.Height));
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal((rgb[i * 3], rgb[(i * 3) + 1], rgb[(i * 3) + 2]), PngDecoder.Pixel(image, i % 3, i / 3));
        }
    }

    [Fact]
    public void Float_frames_are_clamped_and_nan_shows_magenta()
    {
        var image = RgbImage.FromFloats([-1f, 0.5f, 2f, float.NaN, 0, 0], 2, 1);
        Assert.Equal(new byte[] { 0, 128, 255, 255, 0, 255 }, image.Pixels);
    }
}
