using SkiaSharp;

namespace VideoSSL.Plots;

/// <summary>
/// Rows of frames with a label on the left of each row, e.g. original / masked input / prediction / error for
/// a masked-autoencoder clip; notes under the grid say how to read it. Every frame is scaled (nearest
/// neighbour, aspect kept) into a common cell. Drawn with SkiaSharp (ScottPlot's renderer) in the suite's font.
/// </summary>
public sealed class ImageGrid
{
    private const int Margin = 12;
    private readonly List<(string Label, IReadOnlyList<RgbImage?> Cells, bool GapAbove)> _rows = [];

    public string Title { get; set; } = "";

    /// <summary>Optional labels above the columns, e.g. "t=0", "t=2".</summary>
    public IReadOnlyList<string> ColumnLabels { get; set; } = [];

    /// <summary>Lines of small text under the grid (what the colours mean, how targets were mapped back).</summary>
    public List<string> Notes { get; } = [];

    /// <summary>Cell size in pixels; 0 means the largest frame, enlarged by a whole factor until it is at least <see cref="MinCellSize"/>.</summary>
    public int CellWidth { get; set; }
    public int CellHeight { get; set; }
    public int MinCellSize { get; set; } = 96;
    public int Gap { get; set; } = 4;
    public float FontSize { get; set; } = 15;

    public int RowCount => _rows.Count;

    /// <summary>Adds a row; a null cell stays empty (grey). <paramref name="gapAbove"/> separates groups of rows (clips).</summary>
    public void AddRow(string label, IReadOnlyList<RgbImage?> cells, bool gapAbove = false) => _rows.Add((label, cells, gapAbove));

    /// <summary>The grid as PNG bytes with its pixel size.</summary>
    public (byte[] Png, int Width, int Height) Encode()
    {
        using var bitmap = Render();
        return (PlotStyle.Encode(bitmap), bitmap.Width, bitmap.Height);
    }

    public byte[] ToPng() => Encode().Png;

    /// <summary>Writes the grid as a PNG, atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllBytes(path, ToPng());

    private SKBitmap Render()
    {
        if (_rows.Count == 0 || _rows.All(r => r.Cells.Count == 0))
        {
            throw new InvalidOperationException("image grid has no frames to render");
        }
        var frames = _rows.SelectMany(r => r.Cells).OfType<RgbImage>().ToList();
        var (cellWidth, cellHeight) = (CellWidth, CellHeight);
        if (cellWidth <= 0 || cellHeight <= 0)
        {
            (cellWidth, cellHeight) = (frames.Count == 0 ? MinCellSize : frames.Max(f => f.Width), frames.Count == 0 ? MinCellSize : frames.Max(f => f.Height));
            var factor = Math.Max(1, (int)Math.Ceiling(MinCellSize / (double)Math.Min(cellWidth, cellHeight)));
            (cellWidth, cellHeight) = (cellWidth * factor, cellHeight * factor);
        }

        using var typeface = PlotStyle.Typeface();
        using var bold = PlotStyle.Typeface(bold: true);
        using var font = new SKFont(typeface, FontSize);
        using var titleFont = new SKFont(bold, FontSize * 1.15f);
        using var noteFont = new SKFont(typeface, FontSize * 0.85f);
        var lineHeight = (int)Math.Ceiling(FontSize * 1.3);
        var columns = Math.Max(_rows.Max(r => r.Cells.Count), ColumnLabels.Count);
        var labelWidth = (int)Math.Ceiling(_rows.Max(r => font.MeasureText(r.Label)));
        var gridLeft = Margin + (labelWidth > 0 ? labelWidth + (2 * Gap) : 0);
        var titleHeight = Title.Length > 0 ? lineHeight + Margin : 0;
        var columnLabelHeight = ColumnLabels.Count > 0 ? lineHeight : 0;
        var gridTop = Margin + titleHeight + columnLabelHeight;
        var groupGap = 3 * Gap;
        var rowTops = new int[_rows.Count];
        var y = gridTop;
        for (var r = 0; r < _rows.Count; r++)
        {
            y += r > 0 && _rows[r].GapAbove ? groupGap : 0;
            rowTops[r] = y;
            y += cellHeight + Gap;
        }
        var gridBottom = y - Gap;
        var notesHeight = Notes.Count * (int)Math.Ceiling(FontSize * 1.15);
        var width = gridLeft + (columns * (cellWidth + Gap)) - Gap + Margin;
        width = Math.Max(width, (2 * Margin) + (int)Math.Ceiling(Math.Max(titleFont.MeasureText(Title), Notes.Select(n => noteFont.MeasureText(n)).DefaultIfEmpty(0).Max())));
        var height = gridBottom + (Notes.Count > 0 ? Margin + notesHeight : 0) + Margin;

        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var text = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
        using var empty = new SKPaint { Color = new SKColor(0xdd, 0xdd, 0xdd) };
        if (Title.Length > 0)
        {
            canvas.DrawText(Title, Margin, Margin + (FontSize * 1.1f), SKTextAlign.Left, titleFont, text);
        }
        for (var c = 0; c < ColumnLabels.Count; c++)
        {
            canvas.DrawText(ColumnLabels[c], gridLeft + (c * (cellWidth + Gap)) + (cellWidth / 2f), gridTop - (lineHeight * 0.3f), SKTextAlign.Center, font, text);
        }
        for (var r = 0; r < _rows.Count; r++)
        {
            var (label, cells, _) = _rows[r];
            var top = rowTops[r];
            canvas.DrawText(label, gridLeft - (2 * Gap), top + (cellHeight / 2f) + (FontSize * 0.35f), SKTextAlign.Right, font, text);
            for (var c = 0; c < columns; c++)
            {
                var left = gridLeft + (c * (cellWidth + Gap));
                canvas.DrawRect(left, top, cellWidth, cellHeight, empty);
                if (c >= cells.Count || cells[c] is not { } frame)
                {
                    continue;
                }
                // Fit inside the cell keeping the frame's aspect ratio, centred; nearest neighbour keeps patch edges sharp.
                var scale = Math.Min(cellWidth / (double)frame.Width, cellHeight / (double)frame.Height);
                var w = Math.Max(1, (int)Math.Round(frame.Width * scale));
                var h = Math.Max(1, (int)Math.Round(frame.Height * scale));
                using var source = ToBitmap(frame);
                using var image = SKImage.FromBitmap(source);
                var destination = SKRect.Create(left + ((cellWidth - w) / 2), top + ((cellHeight - h) / 2), w, h);
                canvas.DrawImage(image, destination, new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None));
            }
        }
        for (var n = 0; n < Notes.Count; n++)
        {
            canvas.DrawText(Notes[n], Margin, gridBottom + Margin + ((n + 1) * FontSize * 1.15f) - (FontSize * 0.25f), SKTextAlign.Left, noteFont, text);
        }
        canvas.Flush();
        return bitmap;
    }

    private static SKBitmap ToBitmap(RgbImage frame)
    {
        var bitmap = new SKBitmap(new SKImageInfo(frame.Width, frame.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[frame.Width * frame.Height * 4];
        var pixels = frame.Pixels;
        for (int i = 0, j = 0; i < pixels.Length; i += 3, j += 4)
        {
            (rgba[j], rgba[j + 1], rgba[j + 2], rgba[j + 3]) = (pixels[i], pixels[i + 1], pixels[i + 2], 255);
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }
}
