namespace VideoSSL.Plots;

/// <summary>
/// A masked-autoencoder picture for several fixed clips: per clip the rows original / masked input / prediction only /
/// error map, one column per frame. Visible patches are not pasted into the prediction row (they are drawn dark), so
/// it shows only what the model produced.
/// </summary>
public static class ReconstructionGrid
{
    /// <summary>Error at which the map saturates (mean absolute error over RGB, pixels in 0..1).</summary>
    public const float ErrorScale = 0.5f;

    private static readonly byte[] s_visible = [40, 40, 40];

    /// <param name="original">[clips, frames, height, width, 3] in 0..1, as the other views.</param>
    /// <param name="prediction">Predicted pixels, NaN where nothing was predicted (visible patches).</param>
    /// <param name="maskedPixels">[clips, frames, height, width]: true where the encoder did not see the pixel.</param>
    public static ImageGrid Create(string title, int clips, int frames, int height, int width,
        float[] original, float[] masked, float[] prediction, bool[] maskedPixels, string? note = null)
    {
        var frameSize = height * width * 3;
        var expected = (long)clips * frames * frameSize;
        if (original.Length != expected || masked.Length != expected || prediction.Length != expected || maskedPixels.Length != expected / 3)
        {
            throw new ArgumentException($"reconstruction views must hold {clips} clips x {frames} frames x {height}x{width}x3 values");
        }
        var grid = new ImageGrid { Title = title, ColumnLabels = [.. Enumerable.Range(0, frames).Select(t => $"t={t}")] };
        for (var k = 0; k < clips; k++)
        {
            RgbImage?[] Row(Func<int, RgbImage> frame) => [.. Enumerable.Range(0, frames).Select(t => (RgbImage?)frame((k * frames) + t))];
            grid.AddRow($"clip {k}: original", Row(f => RgbImage.FromFloats(original.AsSpan(f * frameSize, frameSize), width, height)), gapAbove: k > 0);
            grid.AddRow("masked input", Row(f => RgbImage.FromFloats(masked.AsSpan(f * frameSize, frameSize), width, height)));
            grid.AddRow("prediction", Row(f => PredictionFrame(prediction, maskedPixels, f, width, height)));
            grid.AddRow("error", Row(f => ErrorFrame(original, prediction, maskedPixels, f, width, height)));
        }
        grid.Notes.Add("masked input: hidden patches grey. prediction: the model's output on hidden patches only; visible patches dark grey, not pasted back.");
        grid.Notes.Add($"error: mean |prediction - original| over RGB on hidden patches, black 0 to yellow >= {ErrorScale:0.0#}; visible patches light grey.");
        if (!string.IsNullOrEmpty(note))
        {
            grid.Notes.Add(note);
        }
        return grid;
    }

    private static RgbImage PredictionFrame(float[] prediction, bool[] maskedPixels, int frame, int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
        {
            var at = (frame * width * height) + p;
            for (var c = 0; c < 3; c++)
            {
                var v = prediction[(at * 3) + c];
                pixels[(p * 3) + c] = maskedPixels[at] && !float.IsNaN(v) ? (byte)Math.Round(Math.Clamp(v, 0f, 1f) * 255f) : s_visible[c];
            }
        }
        return new RgbImage(pixels, width, height);
    }

    /// <summary>Frame <paramref name="frame"/> of the error map: inferno colours on hidden pixels, light grey on visible ones.</summary>
    public static RgbImage ErrorFrame(float[] original, float[] prediction, bool[] maskedPixels, int frame, int width, int height)
    {
        var colormap = new ScottPlot.Colormaps.Inferno();
        var pixels = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
        {
            var at = (frame * width * height) + p;
            var error = 0f;
            for (var c = 0; c < 3; c++)
            {
                error += Math.Abs(prediction[(at * 3) + c] - original[(at * 3) + c]) / 3;
            }
            if (!maskedPixels[at] || float.IsNaN(error))
            {
                // Light grey, not dark: inferno's black means "no error".
                (pixels[p * 3], pixels[(p * 3) + 1], pixels[(p * 3) + 2]) = ((byte)210, (byte)210, (byte)210);
                continue;
            }
            var color = colormap.GetColor(Math.Clamp(error / ErrorScale, 0, 1));
            (pixels[p * 3], pixels[(p * 3) + 1], pixels[(p * 3) + 2]) = (color.R, color.G, color.B);
        }
        return new RgbImage(pixels, width, height);
    }
}
