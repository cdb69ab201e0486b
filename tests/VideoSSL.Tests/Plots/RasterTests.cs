using VideoSSL.Plots;

namespace VideoSSL.Tests.Plots;

public class RasterTests
{
    private static readonly Rgb s_red = new(255, 0, 0);

    [Fact]
    public void Horizontal_one_pixel_line_covers_exactly_its_row()
    {
        var r = new Raster(20, 10);
        r.DrawLine(2, 5, 17, 5, s_red, width: 1);
        Assert.Equal(s_red, r.GetPixel(10, 5));
        Assert.Equal(Rgb.White, r.GetPixel(10, 4));
        Assert.Equal(Rgb.White, r.GetPixel(10, 6));
        Assert.Equal(Rgb.White, r.GetPixel(0, 5));
    }

    [Fact]
    public void Translucent_polyline_is_blended_once_at_joints()
    {
        var r = new Raster(30, 10);
        r.DrawPolyline([(2, 5), (15, 5), (27, 5)], Rgb.Black, width: 1, alpha: 0.5f);
        // White mixed halfway to black, at the joint as elsewhere.
        Assert.Equal(new Rgb(128, 128, 128), r.GetPixel(15, 5));
        Assert.Equal(new Rgb(128, 128, 128), r.GetPixel(8, 5));
    }

    [Fact]
    public void Text_is_drawn_inside_its_measured_box_only()
    {
        var r = new Raster(40, 20);
        r.DrawText(3, 4, "Ab1", Rgb.Black, scale: 2);
        var (w, h) = Raster.MeasureText("Ab1", 2);
        Assert.Equal((34, 14), (w, h));
        var inked = 0;
        for (var y = 0; y < 20; y++)
        {
            for (var x = 0; x < 40; x++)
            {
                if (r.GetPixel(x, y) == Rgb.Black)
                {
                    inked++;
                    Assert.InRange(x, 3, 3 + w - 1);
                    Assert.InRange(y, 4, 4 + h - 1);
                }
            }
        }
        Assert.True(inked > 40, $"only {inked} pixels inked");
    }

    [Fact]
    public void Vertical_text_is_the_horizontal_text_turned_anticlockwise()
    {
        var flat = new Raster(20, 10);
        flat.DrawText(0, 0, "Lq", Rgb.Black);
        var (w, _) = Raster.MeasureText("Lq");
        var turned = new Raster(10, 20);
        turned.DrawTextVertical(0, 0, "Lq", Rgb.Black);
        for (var y = 0; y < 8; y++)
        {
            for (var x = 0; x < w; x++)
            {
                Assert.Equal(flat.GetPixel(x, y), turned.GetPixel(y, w - 1 - x));
            }
        }
    }

    [Fact]
    public void Blit_scales_by_nearest_neighbour()
    {
        byte[] image = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]; // 2x2: red, green / blue, grey
        var r = new Raster(6, 6);
        r.Blit(image, 2, 2, 1, 1, 4, 4);
        Assert.Equal(new Rgb(255, 0, 0), r.GetPixel(2, 2));
        Assert.Equal(new Rgb(0, 255, 0), r.GetPixel(3, 1));
        Assert.Equal(new Rgb(0, 0, 255), r.GetPixel(1, 4));
        Assert.Equal(new Rgb(9, 9, 9), r.GetPixel(4, 4));
        Assert.Equal(Rgb.White, r.GetPixel(5, 5));
    }
}
