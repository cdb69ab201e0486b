using System.Globalization;
using System.Security;
using System.Text;

namespace VideoSSL.Plots;

/// <summary>One curve of a <see cref="LineChart"/>. Non-finite points (and non-positive ones on a log axis) break the line.</summary>
public sealed class LineSeries
{
    public LineSeries(string name, IReadOnlyList<double> xs, IReadOnlyList<double> ys, Rgb color, double lineWidth = 2, float opacity = 1)
    {
        if (xs.Count != ys.Count)
        {
            throw new ArgumentException($"series '{name}' has {xs.Count} x values but {ys.Count} y values", nameof(ys));
        }
        Name = name;
        Xs = [.. xs];
        Ys = [.. ys];
        Color = color;
        LineWidth = lineWidth;
        Opacity = opacity;
    }

    public string Name { get; }
    public double[] Xs { get; }
    public double[] Ys { get; }
    public Rgb Color { get; }
    public double LineWidth { get; }
    public float Opacity { get; }
    public bool ShowInLegend { get; set; } = true;
}

/// <summary>
/// A line chart rendered either as SVG (real text, for papers and browsers) or as PNG through
/// <see cref="Raster"/> (for TensorBoard and terminals that preview images). Both use one layout.
/// </summary>
public sealed partial class LineChart
{
    private const int Pad = 14;
    private const int TickLength = 6;
    private const int Gap = 8;

    public string Title { get; set; } = "";
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    public bool LogY { get; set; }
    public int Width { get; set; } = 900;
    public int Height { get; set; } = 560;

    /// <summary>Integer scale of the 5x8 bitmap font in the PNG; SVG text is sized to match.</summary>
    public int TextScale { get; set; } = 2;

    public List<LineSeries> Series { get; } = [];

    /// <summary>Adds a series; without a colour it takes the next one of <see cref="Rgb.Palette"/>.</summary>
    public LineSeries AddSeries(string name, IReadOnlyList<double> xs, IReadOnlyList<double> ys, Rgb? color = null, double lineWidth = 2, float opacity = 1)
    {
        var series = new LineSeries(name, xs, ys, color ?? Rgb.Palette[Series.Count % Rgb.Palette.Count], lineWidth, opacity);
        Series.Add(series);
        return series;
    }

    public string ToSvg() => ToSvg([this]);

    public Raster ToRaster() => ToRaster([this]);

    public byte[] ToPng() => ToRaster().ToPng();

    public void SaveSvg(string path) => AtomicFile.WriteAllText(path, ToSvg());

    public void SavePng(string path) => AtomicFile.WriteAllBytes(path, ToPng());

    /// <summary>Several charts side by side in one SVG (e.g. loss and accuracy per epoch).</summary>
    public static string ToSvg(IReadOnlyList<LineChart> panels)
    {
        var (width, height) = PanelSize(panels);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">""").Append('\n');
        svg.Append("""<rect width="100%" height="100%" fill="#ffffff"/>""").Append('\n');
        var x = 0;
        foreach (var panel in panels)
        {
            panel.WriteSvg(svg, x);
            x += panel.Width;
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>Several charts side by side on one canvas.</summary>
    public static Raster ToRaster(IReadOnlyList<LineChart> panels)
    {
        var (width, height) = PanelSize(panels);
        var raster = new Raster(width, height);
        var x = 0;
        foreach (var panel in panels)
        {
            panel.Draw(raster, x);
            x += panel.Width;
        }
        return raster;
    }

    private static (int Width, int Height) PanelSize(IReadOnlyList<LineChart> panels)
    {
        if (panels.Count == 0)
        {
            throw new ArgumentException("no charts to render", nameof(panels));
        }
        return (panels.Sum(p => p.Width), panels.Max(p => p.Height));
    }

    private void Draw(Raster raster, int ox)
    {
        var layout = new Layout(this);
        var s = TextScale;
        var grid = Rgb.Parse("#e8e8e8");
        var frame = Rgb.Parse("#444444");
        var text = Rgb.Parse("#222222");

        foreach (var tick in layout.YTicks)
        {
            raster.FillRect(ox + layout.Left + 1, (int)Math.Round(tick.Pixel), layout.Right - layout.Left - 1, 1, grid);
        }
        foreach (var tick in layout.XTicks)
        {
            raster.FillRect(ox + (int)Math.Round(tick.Pixel), layout.Top + 1, 1, layout.Bottom - layout.Top - 1, grid);
        }

        foreach (var segment in layout.Segments)
        {
            var series = Series[segment.SeriesIndex];
            var points = segment.Points.Select(p => (p.X + ox, p.Y)).ToList();
            if (points.Count == 1)
            {
                raster.FillCircle(points[0].Item1, points[0].Y, MarkerRadius(series), series.Color, series.Opacity);
            }
            else
            {
                raster.DrawPolyline(points, series.Color, series.LineWidth, antiAlias: true, series.Opacity);
            }
        }

        raster.DrawRect(ox + layout.Left, layout.Top, layout.Right - layout.Left + 1, layout.Bottom - layout.Top + 1, frame);
        foreach (var tick in layout.YTicks)
        {
            var y = (int)Math.Round(tick.Pixel);
            raster.FillRect(ox + layout.Left - TickLength, y, TickLength, 1, frame);
            var (w, h) = Raster.MeasureText(tick.Label, s);
            raster.DrawText(ox + layout.Left - TickLength - Gap - w, y - (h / 2), tick.Label, text, s);
        }
        foreach (var tick in layout.XTicks)
        {
            var x = (int)Math.Round(tick.Pixel);
            raster.FillRect(ox + x, layout.Bottom + 1, 1, TickLength, frame);
            var (w, _) = Raster.MeasureText(tick.Label, s);
            raster.DrawText(ox + x - (w / 2), layout.XTickLabelTop, tick.Label, text, s);
        }

        if (layout.NoData)
        {
            var (w, h) = Raster.MeasureText("no data", s);
            raster.DrawText(ox + ((layout.Left + layout.Right - w) / 2), ((layout.Top + layout.Bottom) / 2) - (h / 2), "no data", Rgb.Parse("#888888"), s);
        }

        if (layout.Legend is { } legend)
        {
            raster.FillRect(ox + legend.X, legend.Y, legend.Width, legend.Height, Rgb.White, 0.9f);
            raster.DrawRect(ox + legend.X, legend.Y, legend.Width, legend.Height, Rgb.Parse("#bbbbbb"));
            foreach (var entry in legend.Entries)
            {
                var series = Series[entry.SeriesIndex];
                raster.DrawLine(ox + entry.SampleX0, entry.CenterY, ox + entry.SampleX1, entry.CenterY, series.Color, Math.Max(series.LineWidth, 2.5), antiAlias: true, Math.Max(series.Opacity, 0.6f));
                raster.DrawText(ox + entry.TextX, entry.CenterY - (BitmapFont.CapHeight * s / 2), series.Name, text, s);
            }
        }

        if (Title.Length > 0)
        {
            var (w, _) = Raster.MeasureText(Title, layout.TitleScale);
            var x = ox + Math.Max(Pad, ((layout.Left + layout.Right) / 2) - (w / 2));
            raster.DrawText(x, Pad, Title, text, layout.TitleScale);
        }
        if (XLabel.Length > 0)
        {
            var (w, _) = Raster.MeasureText(XLabel, s);
            raster.DrawText(ox + ((layout.Left + layout.Right) / 2) - (w / 2), layout.XLabelTop, XLabel, text, s);
        }
        if (YLabel.Length > 0)
        {
            var (w, _) = Raster.MeasureText(YLabel, s);
            raster.DrawTextVertical(ox + Pad, ((layout.Top + layout.Bottom) / 2) - (w / 2), YLabel, text, s);
        }
    }

    private void WriteSvg(StringBuilder svg, int ox)
    {
        var layout = new Layout(this);
        var s = TextScale;
        // Sans-serif capitals are about 0.72 em tall: size SVG text to the bitmap font's cap height.
        var fontSize = F(BitmapFont.CapHeight * s / 0.72 * 0.92);
        var capHeight = BitmapFont.CapHeight * s;

        // Half-pixel shift: SVG pixel i spans [i, i+1], the raster's pixel i is centred on i.
        svg.Append(CultureInfo.InvariantCulture, $"""<g transform="translate({ox + 0.5} 0.5)" font-size="{fontSize}" fill="#222222">""").Append('\n');

        svg.Append("""<g stroke="#e8e8e8" stroke-width="1">""");
        foreach (var tick in layout.YTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{layout.Left}" y1="{F(tick.Pixel)}" x2="{layout.Right}" y2="{F(tick.Pixel)}"/>""");
        }
        foreach (var tick in layout.XTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{F(tick.Pixel)}" y1="{layout.Top}" x2="{F(tick.Pixel)}" y2="{layout.Bottom}"/>""");
        }
        svg.Append("</g>\n");

        foreach (var segment in layout.Segments)
        {
            var series = Series[segment.SeriesIndex];
            var opacity = series.Opacity < 1 ? $""" stroke-opacity="{F(series.Opacity)}" fill-opacity="{F(series.Opacity)}" """ : " ";
            if (segment.Points.Count == 1)
            {
                var p = segment.Points[0];
                svg.Append(CultureInfo.InvariantCulture, $"""<circle cx="{F(p.X)}" cy="{F(p.Y)}" r="{F(MarkerRadius(series))}" fill="{series.Color}"{opacity}/>""").Append('\n');
                continue;
            }
            svg.Append(CultureInfo.InvariantCulture, $"""<polyline fill="none" stroke="{series.Color}" stroke-width="{F(series.LineWidth)}"{opacity}stroke-linejoin="round" stroke-linecap="round" points=" """);
            foreach (var p in segment.Points)
            {
                svg.Append(F(p.X)).Append(',').Append(F(p.Y)).Append(' ');
            }
            svg.Append("\"/>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{layout.Left}" y="{layout.Top}" width="{layout.Right - layout.Left}" height="{layout.Bottom - layout.Top}" fill="none" stroke="#444444" stroke-width="1"/>""").Append('\n');
        svg.Append("""<g stroke="#444444" stroke-width="1">""");
        foreach (var tick in layout.YTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{layout.Left - TickLength}" y1="{F(tick.Pixel)}" x2="{layout.Left}" y2="{F(tick.Pixel)}"/>""");
        }
        foreach (var tick in layout.XTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{F(tick.Pixel)}" y1="{layout.Bottom}" x2="{F(tick.Pixel)}" y2="{layout.Bottom + TickLength}"/>""");
        }
        svg.Append("</g>\n");
        foreach (var tick in layout.YTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{layout.Left - TickLength - Gap}" y="{F(tick.Pixel + (capHeight / 2.0))}" text-anchor="end">{Escape(tick.Label)}</text>""").Append('\n');
        }
        foreach (var tick in layout.XTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{F(tick.Pixel)}" y="{layout.XTickLabelTop + capHeight}" text-anchor="middle">{Escape(tick.Label)}</text>""").Append('\n');
        }

        if (layout.NoData)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{(layout.Left + layout.Right) / 2}" y="{((layout.Top + layout.Bottom) / 2) + (capHeight / 2)}" text-anchor="middle" fill="#888888">no data</text>""").Append('\n');
        }

        if (layout.Legend is { } legend)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{legend.X}" y="{legend.Y}" width="{legend.Width - 1}" height="{legend.Height - 1}" fill="#ffffff" fill-opacity="0.9" stroke="#bbbbbb" stroke-width="1"/>""").Append('\n');
            foreach (var entry in legend.Entries)
            {
                var series = Series[entry.SeriesIndex];
                svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{entry.SampleX0}" y1="{entry.CenterY}" x2="{entry.SampleX1}" y2="{entry.CenterY}" stroke="{series.Color}" stroke-width="{F(Math.Max(series.LineWidth, 2.5))}" stroke-opacity="{F(Math.Max(series.Opacity, 0.6f))}"/>""");
                svg.Append(CultureInfo.InvariantCulture, $"""<text x="{entry.TextX}" y="{entry.CenterY + (capHeight / 2.0)}">{Escape(series.Name)}</text>""").Append('\n');
            }
        }

        if (Title.Length > 0)
        {
            var titleSize = F(BitmapFont.CapHeight * layout.TitleScale / 0.72 * 0.92);
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{(layout.Left + layout.Right) / 2}" y="{Pad + (BitmapFont.CapHeight * layout.TitleScale)}" text-anchor="middle" font-size="{titleSize}" font-weight="bold">{Escape(Title)}</text>""").Append('\n');
        }
        if (XLabel.Length > 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{(layout.Left + layout.Right) / 2}" y="{layout.XLabelTop + capHeight}" text-anchor="middle">{Escape(XLabel)}</text>""").Append('\n');
        }
        if (YLabel.Length > 0)
        {
            var x = Pad + capHeight;
            var y = (layout.Top + layout.Bottom) / 2;
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x}" y="{y}" text-anchor="middle" transform="rotate(-90 {x} {y})">{Escape(YLabel)}</text>""").Append('\n');
        }
        svg.Append("</g>\n");
    }

    private static double MarkerRadius(LineSeries series) => Math.Max(3, series.LineWidth * 1.5);

    private static string F(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    // Control characters are not allowed in XML 1.0 at all, escaped or not.
    private static string Escape(string text) =>
        SecurityElement.Escape(new string([.. text.Select(c => char.IsControl(c) ? ' ' : c)]));
}
