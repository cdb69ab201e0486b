using ScottPlot;
using SkiaSharp;

namespace VideoSSL.Plots;

/// <summary>
/// One look for every picture the suite draws: DejaVu Sans by file (the build installs fonts-dejavu-core, so text
/// renders the same on every machine; another sans is the fallback), matplotlib's tab10 colours, fixed pixel sizes.
/// </summary>
public static class PlotStyle
{
    public const string FontName = "DejaVu Sans";

    // Debian's fonts-dejavu-core; ScottPlot would otherwise pick whatever fontconfig lists first.
    private static readonly string[] s_fontDirs = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu"];

    private static readonly Lazy<string> s_font = new(RegisterFont);

    /// <summary>matplotlib's tab10, so curves look as in the Python tools people compare with.</summary>
    public static IReadOnlyList<Color> Palette { get; } =
    [
        Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#2ca02c"), Color.FromHex("#d62728"), Color.FromHex("#9467bd"),
        Color.FromHex("#8c564b"), Color.FromHex("#e377c2"), Color.FromHex("#7f7f7f"), Color.FromHex("#bcbd22"), Color.FromHex("#17becf"),
    ];

    /// <summary>The font family every picture uses: DejaVu Sans when installed, else ScottPlot's default sans.</summary>
    public static string Font => s_font.Value;

    /// <summary>SkiaSharp typeface of <see cref="Font"/>, for the image grids drawn without axes.</summary>
    public static SKTypeface Typeface(bool bold = false)
    {
        var file = FontFile(bold);
        return file is not null ? SKTypeface.FromFile(file) : SKTypeface.FromFamilyName(Font, bold ? SKFontStyle.Bold : SKFontStyle.Normal);
    }

    /// <summary>A plot with the suite's font on every label.</summary>
    public static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(Font);
        return plot;
    }

    /// <summary>PNG bytes of a plot at a fixed size.</summary>
    public static byte[] Png(Plot plot, int width, int height) => plot.GetImageBytes(width, height, ImageFormat.Png);

    /// <summary>Writes NAME.png and NAME.svg atomically; returns both paths.</summary>
    public static IReadOnlyList<string> Save(Plot plot, string directory, string name, int width, int height)
    {
        var png = Path.Combine(directory, name + ".png");
        var svg = Path.Combine(directory, name + ".svg");
        AtomicFile.WriteAllBytes(png, Png(plot, width, height));
        AtomicFile.WriteAllText(svg, SvgXml(plot, width, height));
        return [png, svg];
    }

    // Skia's SVG device has no path effects: it draws a dashed or dotted line solid and prints "Unsupported path
    // effect in addPaint." on the process's stderr for each one, tens of lines per fine-tuning run. The SVG is
    // drawn with those lines solid (the same file Skia writes) and the patterns put back for the PNG.
    private static string SvgXml(Plot plot, int width, int height)
    {
        var patterned = plot.GetPlottables().OfType<IHasLine>().Where(p => !p.LinePattern.Equals(LinePattern.Solid))
            .Select(p => (Plottable: p, p.LinePattern)).ToList();
        foreach (var (plottable, _) in patterned)
        {
            plottable.LinePattern = LinePattern.Solid;
        }
        try
        {
            return plot.GetSvgXml(width, height);
        }
        finally
        {
            foreach (var (plottable, pattern) in patterned)
            {
                plottable.LinePattern = pattern;
            }
        }
    }

    /// <summary>Encodes 8-bit RGB pixels [height, width, 3] as PNG.</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (rgb.Length != (long)width * height * 3)
        {
            throw new ArgumentException($"image buffer holds {rgb.Length} bytes, expected {height}x{width}x3", nameof(rgb));
        }
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new byte[width * height * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            (pixels[j], pixels[j + 1], pixels[j + 2], pixels[j + 3]) = (rgb[i], rgb[i + 1], rgb[i + 2], 255);
        }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        return Encode(bitmap);
    }

    internal static byte[] Encode(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static string? FontFile(bool bold)
    {
        var name = bold ? "DejaVuSans-Bold.ttf" : "DejaVuSans.ttf";
        return s_fontDirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    private static string RegisterFont()
    {
        if (FontFile(false) is { } regular)
        {
            Fonts.AddFontFile(FontName, regular, bold: false, italic: false);
            if (FontFile(true) is { } bold)
            {
                Fonts.AddFontFile(FontName, bold, bold: true, italic: false);
            }
            Fonts.Default = FontName;
            return FontName;
        }
        return Fonts.Default;
    }
}
