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
    public void Grid_places_each_frame_scaled_into_its_cell()
    {
        var red = new RgbImage([.. Enumerable.Repeat<byte[]>([255, 0, 0], 4).SelectMany(p => p)], 2, 2);
        var blue = new RgbImage([.. Enumerable.Repeat<byte[]>([0, 0, 255], 8).SelectMany(p => p)], 4, 2); // wider: letterboxed
        var grid = new ImageGrid { CellWidth = 20, CellHeight = 20, Gap = 4 };
        grid.AddRow("", [red, blue]);

        var raster = grid.Render();

        // No labels: the grid starts at the 12-pixel margin; cell 1 starts 24 pixels further right.
        Assert.Equal(new Rgb(255, 0, 0), raster.GetPixel(12, 12));
        Assert.Equal(new Rgb(255, 0, 0), raster.GetPixel(31, 31));
        Assert.Equal(new Rgb(0, 0, 255), raster.GetPixel(36 + 10, 12 + 10));
        Assert.NotEqual(new Rgb(0, 0, 255), raster.GetPixel(36 + 10, 12 + 2)); // above the 20x10 letterboxed frame
        Assert.Equal(12 + 20 + 4 + 20 + 12, raster.Width);
    }

    [Fact]
    public void Float_frames_are_clamped_and_nan_shows_magenta()
    {
        var image = RgbImage.FromFloats([-1f, 0.5f, 2f, float.NaN, 0, 0], 2, 1);
        Assert.Equal(new byte[] { 0, 128, 255, 255, 0, 255 }, image.Pixels);
    }
}
