namespace VideoSSL.Plots;

/// <summary>
/// An RGB24 canvas (row-major, 3 bytes per pixel) with just the drawing the suite's plots need.
/// Pixel centres sit on integer coordinates, so a 1-wide line from (10, 5) to (90, 5) covers exactly row 5.
/// </summary>
public sealed class Raster
{
    public Raster(int width, int height)
        : this(width, height, Rgb.White)
    {
    }

    public Raster(int width, int height, Rgb background)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"raster size {width}x{height} must be positive");
        }
        Width = width;
        Height = height;
        Pixels = new byte[checked(width * height * 3)];
        Clear(background);
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Row-major RGB24, [Height, Width, 3].</summary>
    public byte[] Pixels { get; }

    public void Clear(Rgb color)
    {
        for (var i = 0; i < Pixels.Length; i += 3)
        {
            Pixels[i] = color.R;
            Pixels[i + 1] = color.G;
            Pixels[i + 2] = color.B;
        }
    }

    public Rgb GetPixel(int x, int y)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"pixel ({x}, {y}) is outside the {Width}x{Height} raster");
        }
        var i = ((y * Width) + x) * 3;
        return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    /// <summary>Sets a pixel; coordinates outside the canvas are ignored (everything here clips).</summary>
    public void SetPixel(int x, int y, Rgb color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
        {
            return;
        }
        var i = ((y * Width) + x) * 3;
        Pixels[i] = color.R;
        Pixels[i + 1] = color.G;
        Pixels[i + 2] = color.B;
    }

    /// <summary>Mixes <paramref name="color"/> over the pixel with opacity <paramref name="alpha"/> in [0, 1].</summary>
    public void BlendPixel(int x, int y, Rgb color, float alpha)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || alpha <= 0)
        {
            return;
        }
        if (alpha >= 1)
        {
            SetPixel(x, y, color);
            return;
        }
        var i = ((y * Width) + x) * 3;
        Pixels[i] = Mix(Pixels[i], color.R, alpha);
        Pixels[i + 1] = Mix(Pixels[i + 1], color.G, alpha);
        Pixels[i + 2] = Mix(Pixels[i + 2], color.B, alpha);
    }

    public void FillRect(int x, int y, int width, int height, Rgb color, float alpha = 1)
    {
        var x0 = Math.Max(x, 0);
        var y0 = Math.Max(y, 0);
        var x1 = Math.Min(x + width, Width);
        var y1 = Math.Min(y + height, Height);
        for (var yy = y0; yy < y1; yy++)
        {
            for (var xx = x0; xx < x1; xx++)
            {
                BlendPixel(xx, yy, color, alpha);
            }
        }
    }

    /// <summary>A 1-pixel outline whose outer edge is the rectangle (x, y, width, height).</summary>
    public void DrawRect(int x, int y, int width, int height, Rgb color)
    {
        if (width <= 0 || height <= 0)
        {
            return;
        }
        FillRect(x, y, width, 1, color);
        FillRect(x, y + height - 1, width, 1, color);
        FillRect(x, y, 1, height, color);
        FillRect(x + width - 1, y, 1, height, color);
    }

    public void DrawLine(double x0, double y0, double x1, double y1, Rgb color, double width = 1, bool antiAlias = true, float alpha = 1) =>
        DrawPolyline([(x0, y0), (x1, y1)], color, width, antiAlias, alpha);

    /// <summary>
    /// Strokes connected segments. Coverage is accumulated as a per-pixel maximum before blending once,
    /// so joints are not painted twice and a translucent line has the same opacity everywhere.
    /// </summary>
    public void DrawPolyline(IReadOnlyList<(double X, double Y)> points, Rgb color, double width = 1, bool antiAlias = true, float alpha = 1)
    {
        if (points.Count == 0 || width <= 0)
        {
            return;
        }
        var reach = (width / 2) + 1;
        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue;
        foreach (var (px, py) in points)
        {
            if (!double.IsFinite(px) || !double.IsFinite(py))
            {
                throw new ArgumentException($"polyline point ({px}, {py}) is not finite", nameof(points));
            }
            minX = Math.Min(minX, px);
            minY = Math.Min(minY, py);
            maxX = Math.Max(maxX, px);
            maxY = Math.Max(maxY, py);
        }
        var bx0 = (int)Math.Max(0, Math.Floor(minX - reach));
        var by0 = (int)Math.Max(0, Math.Floor(minY - reach));
        var bx1 = (int)Math.Min(Width - 1, Math.Ceiling(maxX + reach));
        var by1 = (int)Math.Min(Height - 1, Math.Ceiling(maxY + reach));
        if (bx1 < bx0 || by1 < by0)
        {
            return;
        }
        var bw = bx1 - bx0 + 1;
        var coverage = new float[bw * (by1 - by0 + 1)];
        if (points.Count == 1)
        {
            StrokeSegment(coverage, bx0, by0, bx1, by1, points[0], points[0], width, antiAlias);
        }
        for (var i = 1; i < points.Count; i++)
        {
            StrokeSegment(coverage, bx0, by0, bx1, by1, points[i - 1], points[i], width, antiAlias);
        }
        for (var y = by0; y <= by1; y++)
        {
            for (var x = bx0; x <= bx1; x++)
            {
                var c = coverage[((y - by0) * bw) + (x - bx0)];
                if (c > 0)
                {
                    BlendPixel(x, y, color, c * alpha);
                }
            }
        }
    }

    public void FillCircle(double cx, double cy, double radius, Rgb color, float alpha = 1) =>
        DrawPolyline([(cx, cy)], color, 2 * radius, antiAlias: true, alpha);

    /// <summary>Size in pixels of <paramref name="text"/> drawn at integer <paramref name="scale"/> (cap height, no descenders).</summary>
    public static (int Width, int Height) MeasureText(string text, int scale = 1) =>
        (text.Length == 0 ? 0 : ((text.Length * BitmapFont.Advance) - 1) * scale, BitmapFont.CapHeight * scale);

    /// <summary>Draws text with its top-left corner at (x, y), each font pixel a scale x scale block.</summary>
    public void DrawText(int x, int y, string text, Rgb color, int scale = 1)
    {
        for (var k = 0; k < text.Length; k++)
        {
            var glyph = BitmapFont.Glyph(text[k]);
            var gx = x + (k * BitmapFont.Advance * scale);
            for (var col = 0; col < BitmapFont.GlyphWidth; col++)
            {
                for (var row = 0; row < BitmapFont.GlyphHeight; row++)
                {
                    if ((glyph[col] & (1 << row)) != 0)
                    {
                        FillRect(gx + (col * scale), y + (row * scale), scale, scale, color);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Draws text turned 90 degrees counter-clockwise (read bottom to top, as a y-axis label);
    /// (x, y) is the top-left corner of its box, which is CapHeight*scale wide and MeasureText().Width tall.
    /// </summary>
    public void DrawTextVertical(int x, int y, string text, Rgb color, int scale = 1)
    {
        var length = MeasureText(text, scale).Width;
        for (var k = 0; k < text.Length; k++)
        {
            var glyph = BitmapFont.Glyph(text[k]);
            for (var col = 0; col < BitmapFont.GlyphWidth; col++)
            {
                for (var row = 0; row < BitmapFont.GlyphHeight; row++)
                {
                    if ((glyph[col] & (1 << row)) != 0)
                    {
                        // Upright (u, v) maps to (v, length - 1 - u) after a quarter turn anticlockwise.
                        var u = ((k * BitmapFont.Advance) + col) * scale;
                        FillRect(x + (row * scale), y + length - u - scale, scale, scale, color);
                    }
                }
            }
        }
    }

    /// <summary>Copies an RGB24 image [srcHeight, srcWidth, 3] into the rectangle (x, y, width, height), nearest-neighbour scaled.</summary>
    public void Blit(ReadOnlySpan<byte> rgb, int srcWidth, int srcHeight, int x, int y, int width, int height)
    {
        if (srcWidth <= 0 || srcHeight <= 0 || rgb.Length != srcWidth * srcHeight * 3)
        {
            throw new ArgumentException($"image buffer holds {rgb.Length} bytes, expected {srcWidth}x{srcHeight}x3", nameof(rgb));
        }
        for (var dy = 0; dy < height; dy++)
        {
            var ty = y + dy;
            if ((uint)ty >= (uint)Height)
            {
                continue;
            }
            var sy = (int)((long)dy * srcHeight / height);
            for (var dx = 0; dx < width; dx++)
            {
                var tx = x + dx;
                if ((uint)tx >= (uint)Width)
                {
                    continue;
                }
                var sx = (int)((long)dx * srcWidth / width);
                var s = ((sy * srcWidth) + sx) * 3;
                var t = ((ty * Width) + tx) * 3;
                Pixels[t] = rgb[s];
                Pixels[t + 1] = rgb[s + 1];
                Pixels[t + 2] = rgb[s + 2];
            }
        }
    }

    public byte[] ToPng() => PngWriter.Encode(Pixels, Width, Height);

    /// <summary>Writes the canvas as a PNG, atomically.</summary>
    public void SavePng(string path) => AtomicFile.WriteAllBytes(path, ToPng());

    private static byte Mix(byte under, byte over, float alpha) => (byte)Math.Round(under + ((over - under) * alpha));

    private static void StrokeSegment(
        float[] coverage, int bx0, int by0, int bx1, int by1,
        (double X, double Y) a, (double X, double Y) b, double width, bool antiAlias)
    {
        var half = width / 2;
        var reach = half + 1;
        var x0 = (int)Math.Max(bx0, Math.Floor(Math.Min(a.X, b.X) - reach));
        var x1 = (int)Math.Min(bx1, Math.Ceiling(Math.Max(a.X, b.X) + reach));
        var y0 = (int)Math.Max(by0, Math.Floor(Math.Min(a.Y, b.Y) - reach));
        var y1 = (int)Math.Min(by1, Math.Ceiling(Math.Max(a.Y, b.Y) + reach));
        var dx = b.X - a.X;
        var dy = b.Y - a.Y;
        var length2 = (dx * dx) + (dy * dy);
        var bw = bx1 - bx0 + 1;
        for (var y = y0; y <= y1; y++)
        {
            for (var x = x0; x <= x1; x++)
            {
                var t = length2 > 0 ? Math.Clamp((((x - a.X) * dx) + ((y - a.Y) * dy)) / length2, 0, 1) : 0;
                var ex = a.X + (t * dx) - x;
                var ey = a.Y + (t * dy) - y;
                var distance = Math.Sqrt((ex * ex) + (ey * ey));
                // A pixel is a unit square: coverage ramps from 1 to 0 over the last pixel of the stroke edge.
                var c = antiAlias ? (float)Math.Clamp(half + 0.5 - distance, 0, 1) : (distance <= Math.Max(half, 0.5) ? 1f : 0f);
                ref var slot = ref coverage[((y - by0) * bw) + (x - bx0)];
                slot = Math.Max(slot, c);
            }
        }
    }
}
