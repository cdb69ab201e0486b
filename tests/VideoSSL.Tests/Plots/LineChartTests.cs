using System.Xml.Linq;
using VideoSSL.Plots;

namespace VideoSSL.Tests.Plots;

public class LineChartTests
{
    private static readonly XNamespace s_svg = "http://www.w3.org/2000/svg";

    [Theory]
    [InlineData(1.0, 6, 0.2)]
    [InlineData(1.0, 10, 0.1)]
    [InlineData(9000.0, 5, 2000.0)]
    [InlineData(1.5e-4, 7, 5e-5)]
    [InlineData(0.3, 3, 0.1)]
    public void Nice_step_is_1_2_or_5_times_a_power_of_ten(double span, int maxCount, double expected)
    {
        Assert.Equal(expected, Ticks.NiceStep(span, maxCount), 12);
    }

    [Theory]
    [InlineData(0.6000000000000001, 0.2, "0.6")]
    [InlineData(1.0, 0.2, "1")]
    [InlineData(0.0, 0.2, "0")]
    [InlineData(6.000000000000001e-5, 2e-5, "6e-5")]
    [InlineData(1.2e-4, 2e-5, "1.2e-4")]
    [InlineData(25000.0, 5000.0, "25000")]
    [InlineData(0.001, 2e-4, "1e-3")]
    [InlineData(0.004, 0.002, "0.004")]
    [InlineData(3e6, 1e6, "3e6")]
    [InlineData(-0.5, 0.25, "-0.5")]
    public void Tick_labels_are_short(double value, double step, string expected)
    {
        Assert.Equal(expected, Ticks.Format(value, step));
    }

    [Fact]
    public void Svg_of_unit_range_has_ticks_every_fifth_and_is_well_formed()
    {
        var chart = new LineChart { Title = "acc & <loss>", XLabel = "step", YLabel = "value" };
        chart.AddSeries("val/acc1", [0, 1, 2, 3, 4, 5], [0.0, 0.3, 0.55, 0.7, 0.9, 1.0]);

        var doc = XDocument.Parse(chart.ToSvg());

        Assert.Equal(s_svg + "svg", doc.Root!.Name);
        var texts = doc.Descendants(s_svg + "text").Select(t => t.Value).ToList();
        foreach (var label in new[] { "0", "0.2", "0.4", "0.6", "0.8", "1" })
        {
            Assert.Contains(label, texts);
        }
        Assert.DoesNotContain("1.2", texts);
        Assert.Contains("acc & <loss>", texts);
        Assert.Contains("val/acc1", texts);
        Assert.Single(doc.Descendants(s_svg + "polyline"));
    }

    [Fact]
    public void Nan_breaks_the_line_into_two_polylines()
    {
        var chart = new LineChart();
        chart.AddSeries("loss", [0, 1, 2, 3, 4, 5], [1, 0.9, double.NaN, 0.7, 0.6, double.PositiveInfinity]);
        var doc = XDocument.Parse(chart.ToSvg());
        Assert.Equal(2, doc.Descendants(s_svg + "polyline").Count());
    }

    [Fact]
    public void Degenerate_series_render_to_valid_svg_and_png()
    {
        var empty = new LineChart { Title = "empty" };
        empty.AddSeries("nothing", [], []);
        var onePoint = new LineChart();
        onePoint.AddSeries("one", [10], [0.5]);
        var constant = new LineChart();
        constant.AddSeries("flat", [0, 1, 2], [3, 3, 3]);
        var allNan = new LineChart { LogY = true };
        allNan.AddSeries("bad", [0, 1], [double.NaN, -1]);

        foreach (var chart in new[] { empty, onePoint, constant, allNan })
        {
            var doc = XDocument.Parse(chart.ToSvg());
            var texts = doc.Descendants(s_svg + "text").Select(t => t.Value).ToList();
            Assert.True(texts.Count >= 3, "ticks are labelled even for degenerate data");
            var (w, h, _, _) = PngDecoder.Decode(chart.ToPng());
            Assert.Equal((chart.Width, chart.Height), (w, h));
        }
        Assert.Contains("no data", XDocument.Parse(empty.ToSvg()).Descendants(s_svg + "text").Select(t => t.Value));
        Assert.Single(XDocument.Parse(onePoint.ToSvg()).Descendants(s_svg + "circle"));
        // The constant 3 must sit inside the axis, labelled.
        Assert.Contains("3", XDocument.Parse(constant.ToSvg()).Descendants(s_svg + "text").Select(t => t.Value));
    }

    [Fact]
    public void Log_axis_labels_decades()
    {
        var chart = new LineChart { LogY = true };
        chart.AddSeries("lr", [0, 1, 2, 3], [1e-6, 1e-5, 1e-4, 3e-4]);
        var texts = XDocument.Parse(chart.ToSvg()).Descendants(s_svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("1e-6", texts);
        Assert.Contains("1e-4", texts);
        Assert.Contains("0.001", texts);
    }

    [Fact]
    public void Png_draws_the_series_colour_inside_the_plot()
    {
        var chart = new LineChart();
        var color = new Rgb(200, 30, 40);
        chart.AddSeries("s", [0, 1], [0.5, 0.5], color, lineWidth: 3);
        var raster = chart.ToRaster();
        var found = false;
        for (var y = 0; y < raster.Height && !found; y++)
        {
            found = raster.GetPixel(raster.Width / 2, y) == color;
        }
        Assert.True(found, "the horizontal series line crosses the middle column");
    }

    [Fact]
    public void Long_series_are_decimated_in_svg()
    {
        var n = 200_000;
        var xs = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        var ys = xs.Select(x => Math.Sin(x / 1000) + (0.1 * Math.Sin(x))).ToArray();
        var chart = new LineChart();
        chart.AddSeries("loss", xs, ys);
        var svg = chart.ToSvg();
        Assert.True(svg.Length < 200_000, $"svg is {svg.Length} characters");
        XDocument.Parse(svg);
    }
}
