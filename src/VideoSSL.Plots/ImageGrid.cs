namespace VideoSSL.Plots;

/// <summary>
/// Rows of frames with a label on the left of each row, e.g. "original", "masked", "reconstruction" for a
/// masked-autoencoder clip. Every frame is scaled (nearest neighbour, aspect kept) into a common cell.
/// </summary>
public sealed class ImageGrid
{
    private readonly List<(string Label, IReadOnlyList<RgbImage?> Cells)> _rows = [];

    public string Title { get; set; } = "";

    /// <summary>Optional labels above the columns, e.g. "t=0", "t=2".</summary>
    public IReadOnlyList<string> ColumnLabels { get; set; } = [];

    /// <summary>Cell size in pixels; 0 means the largest frame, enlarged by a whole factor until it is at least <see cref="MinCellSize"/>.</summary>
    public int CellWidth { get; set; }
    public int CellHeight { get; set; }
    public int MinCellSize { get; set; } = 96;
    public int Gap { get; set; } = 4;
    public int TextScale { get; set; } = 2;

    public int RowCount => _rows.Count;

    /// <summary>Adds a row; a null cell stays empty (grey).</summary>
    public void AddRow(string label, IReadOnlyList<RgbImage?> cells) => _rows.Add((label, cells));

    public Raster Render()
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

        var s = TextScale;
        var capHeight = BitmapFont.CapHeight * s;
        const int margin = 12;
        var columns = Math.Max(_rows.Max(r => r.Cells.Count), ColumnLabels.Count);
        var labelWidth = _rows.Max(r => Raster.MeasureText(r.Label, s).Width);
        var gridLeft = margin + (labelWidth > 0 ? labelWidth + (2 * Gap) : 0);
        var titleHeight = Title.Length > 0 ? capHeight + margin : 0;
        var columnLabelHeight = ColumnLabels.Count > 0 ? capHeight + (2 * Gap) : 0;
        var gridTop = margin + titleHeight + columnLabelHeight;
        var width = gridLeft + (columns * (cellWidth + Gap)) - Gap + margin;
        width = Math.Max(width, (2 * margin) + Raster.MeasureText(Title, s).Width);
        var height = gridTop + (_rows.Count * (cellHeight + Gap)) - Gap + margin;

        var text = Rgb.Parse("#222222");
        var raster = new Raster(width, height);
        if (Title.Length > 0)
        {
            raster.DrawText(margin, margin, Title, text, s);
        }
        for (var c = 0; c < ColumnLabels.Count; c++)
        {
            var w = Raster.MeasureText(ColumnLabels[c], s).Width;
            raster.DrawText(gridLeft + (c * (cellWidth + Gap)) + ((cellWidth - w) / 2), gridTop - capHeight - Gap, ColumnLabels[c], text, s);
        }
        for (var r = 0; r < _rows.Count; r++)
        {
            var (label, cells) = _rows[r];
            var top = gridTop + (r * (cellHeight + Gap));
            raster.DrawText(margin + labelWidth - Raster.MeasureText(label, s).Width, top + ((cellHeight - capHeight) / 2), label, text, s);
            for (var c = 0; c < columns; c++)
            {
                var left = gridLeft + (c * (cellWidth + Gap));
                raster.FillRect(left, top, cellWidth, cellHeight, Rgb.Parse("#dddddd"));
                if (c >= cells.Count || cells[c] is not { } frame)
                {
                    continue;
                }
                // Fit inside the cell keeping the frame's aspect ratio, centred.
                var scale = Math.Min(cellWidth / (double)frame.Width, cellHeight / (double)frame.Height);
                var w = Math.Max(1, (int)Math.Round(frame.Width * scale));
                var h = Math.Max(1, (int)Math.Round(frame.Height * scale));
                raster.Blit(frame.Pixels, frame.Width, frame.Height, left + ((cellWidth - w) / 2), top + ((cellHeight - h) / 2), w, h);
            }
        }
        return raster;
    }

    public byte[] ToPng() => Render().ToPng();

    /// <summary>Writes the grid as a PNG, atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllBytes(path, ToPng());
}
