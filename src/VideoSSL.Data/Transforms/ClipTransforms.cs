namespace VideoSSL.Data.Transforms;

/// <summary>A crop rectangle in pixels.</summary>
public readonly record struct CropBox(int Left, int Top, int Width, int Height);

/// <summary>
/// Spatial augmentations on uint8 clips. Every frame of a clip gets the same crop and flip, as in the
/// reference code's Group* transforms. Each returns a new clip; randomness comes only from the given RNG.
/// </summary>
public static class ClipTransforms
{
    public static readonly double[] MultiScaleCropScales = [1, .875, .75, .66];

    /// <summary>VideoMAE pretraining augmentation: multi-scale crop, then resize to outWidth × outHeight.</summary>
    // MCG-NJU/VideoMAE transforms.py: GroupMultiScaleCrop(input_size, [1, .875, .75, .66]) (max_distort 1, fix_crop, more_fix_crop).
    public static Clip MultiScaleCrop(Clip clip, int outWidth, int outHeight, Random rng)
    {
        CropBox box = SampleMultiScaleCrop(clip.Width, clip.Height, outWidth, outHeight, rng);
        return BilinearResize.ResizeRegion(clip, box.Left, box.Top, box.Width, box.Height, outWidth, outHeight);
    }

    /// <summary>
    /// Crop sizes int(short side · scale), each snapped to the output size when within 3 px; (width, height)
    /// pairs whose scale indices differ by at most <paramref name="maxDistort"/>; one of the fixed offsets.
    /// </summary>
    // MCG-NJU/VideoMAE transforms.py: GroupMultiScaleCrop._sample_crop_size.
    public static CropBox SampleMultiScaleCrop(int imageWidth, int imageHeight, int outWidth, int outHeight, Random rng, double[]? scales = null, int maxDistort = 1)
    {
        scales ??= MultiScaleCropScales;
        int baseSize = Math.Min(imageWidth, imageHeight);
        var cropH = new int[scales.Length];
        var cropW = new int[scales.Length];
        for (int i = 0; i < scales.Length; i++)
        {
            int size = (int)(baseSize * scales[i]);
            cropH[i] = Math.Abs(size - outHeight) < 3 ? outHeight : size;
            cropW[i] = Math.Abs(size - outWidth) < 3 ? outWidth : size;
        }
        var pairs = new List<(int W, int H)>();
        for (int i = 0; i < cropH.Length; i++)
        {
            for (int j = 0; j < cropW.Length; j++)
            {
                if (Math.Abs(i - j) <= maxDistort)
                {
                    pairs.Add((cropW[j], cropH[i]));
                }
            }
        }
        (int w, int h) = pairs[rng.Next(pairs.Count)];
        // Snapping to the output size can exceed a frame smaller than the output; such a crop cannot be taken.
        if (w > imageWidth || h > imageHeight)
        {
            throw new ArgumentException($"multi-scale crop {w}x{h} does not fit a {imageWidth}x{imageHeight} frame; resize the video first");
        }
        IReadOnlyList<(int X, int Y)> offsets = FixedOffsets(imageWidth, imageHeight, w, h);
        (int x, int y) = offsets[rng.Next(offsets.Count)];
        return new CropBox(x, y, w, h);
    }

    /// <summary>The 13 fixed crop positions on a grid of step ((W − w) / 4, (H − h) / 4), in the official order.</summary>
    // MCG-NJU/VideoMAE transforms.py: GroupMultiScaleCrop.fill_fix_offset(more_fix_crop=True).
    public static IReadOnlyList<(int X, int Y)> FixedOffsets(int imageWidth, int imageHeight, int cropWidth, int cropHeight)
    {
        int ws = (imageWidth - cropWidth) / 4;
        int hs = (imageHeight - cropHeight) / 4;
        return
        [
            (0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs),
            (0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
            (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs),
        ];
    }

    /// <summary>torchvision RandomResizedCrop: area fraction in <paramref name="scale"/>, log-uniform aspect ratio, 10 tries, then a centre crop clamped to the ratio range.</summary>
    // pytorch/vision torchvision/transforms/transforms.py: RandomResizedCrop.get_params.
    public static Clip RandomResizedCrop(Clip clip, int outWidth, int outHeight, Random rng, double minScale = 0.08, double maxScale = 1.0, double minRatio = 3.0 / 4, double maxRatio = 4.0 / 3)
    {
        CropBox box = SampleRandomResizedCrop(clip.Width, clip.Height, rng, minScale, maxScale, minRatio, maxRatio);
        return BilinearResize.ResizeRegion(clip, box.Left, box.Top, box.Width, box.Height, outWidth, outHeight);
    }

    public static CropBox SampleRandomResizedCrop(int width, int height, Random rng, double minScale = 0.08, double maxScale = 1.0, double minRatio = 3.0 / 4, double maxRatio = 4.0 / 3)
    {
        double area = (double)width * height;
        double logMin = Math.Log(minRatio);
        double logMax = Math.Log(maxRatio);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double targetArea = area * (minScale + rng.NextDouble() * (maxScale - minScale));
            double aspect = Math.Exp(logMin + rng.NextDouble() * (logMax - logMin));
            int w = (int)Math.Round(Math.Sqrt(targetArea * aspect));
            int h = (int)Math.Round(Math.Sqrt(targetArea / aspect));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = rng.Next(height - h + 1);
                int left = rng.Next(width - w + 1);
                return new CropBox(left, top, w, h);
            }
        }
        double ratio = (double)width / height;
        int cw;
        int ch;
        if (ratio < minRatio)
        {
            cw = width;
            ch = (int)Math.Round(cw / minRatio);
        }
        else if (ratio > maxRatio)
        {
            ch = height;
            cw = (int)Math.Round(ch * maxRatio);
        }
        else
        {
            cw = width;
            ch = height;
        }
        return new CropBox((width - cw) / 2, (height - ch) / 2, cw, ch);
    }

    /// <summary>Mirrors every frame left-right.</summary>
    public static Clip FlipHorizontal(Clip clip)
    {
        var output = new Clip(clip.Frames, clip.Height, clip.Width);
        int row = clip.Width * 3;
        int rows = clip.Frames * clip.Height;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<byte> src = clip.Pixels.AsSpan(r * row, row);
            Span<byte> dst = output.Pixels.AsSpan(r * row, row);
            for (int x = 0, m = row - 3; x < row; x += 3, m -= 3)
            {
                dst[m] = src[x];
                dst[m + 1] = src[x + 1];
                dst[m + 2] = src[x + 2];
            }
        }
        return output;
    }

    /// <summary>Flips with probability <paramref name="probability"/>; one draw from the RNG either way.</summary>
    public static Clip RandomFlip(Clip clip, double probability, Random rng) => rng.NextDouble() < probability ? FlipHorizontal(clip) : clip;

    /// <summary>Resizes so the short side is <paramref name="size"/>, the long side int(size · long / short) (torchvision Resize(int)).</summary>
    public static Clip ResizeShortSide(Clip clip, int size)
    {
        (int w, int h) = clip.Width <= clip.Height
            ? (size, (int)((long)size * clip.Height / clip.Width))
            : ((int)((long)size * clip.Width / clip.Height), size);
        return w == clip.Width && h == clip.Height ? clip : BilinearResize.Resize(clip, w, h);
    }

    /// <summary>Copies a rectangle out of every frame.</summary>
    public static Clip Crop(Clip clip, CropBox box)
    {
        if (box.Left < 0 || box.Top < 0 || box.Width < 1 || box.Height < 1 || box.Left + box.Width > clip.Width || box.Top + box.Height > clip.Height)
        {
            throw new ArgumentOutOfRangeException(nameof(box), $"crop {box} is not inside the {clip.Width}x{clip.Height} clip");
        }
        var output = new Clip(clip.Frames, box.Height, box.Width);
        int srcRow = clip.Width * 3;
        int dstRow = box.Width * 3;
        for (int t = 0; t < clip.Frames; t++)
        {
            ReadOnlySpan<byte> src = clip.Frame(t);
            Span<byte> dst = output.Frame(t);
            for (int y = 0; y < box.Height; y++)
            {
                src.Slice((box.Top + y) * srcRow + box.Left * 3, dstRow).CopyTo(dst.Slice(y * dstRow, dstRow));
            }
        }
        return output;
    }

    /// <summary>Centre crop, offsets rounded like torchvision's CenterCrop.</summary>
    public static Clip CenterCrop(Clip clip, int width, int height)
    {
        int top = (int)Math.Round((clip.Height - height) / 2.0);
        int left = (int)Math.Round((clip.Width - width) / 2.0);
        return Crop(clip, new CropBox(left, top, width, height));
    }

    /// <summary>
    /// Crop <paramref name="index"/> of <paramref name="count"/> square crops of side <paramref name="size"/> spread
    /// along the long side (start, middle, end for 3) at int(index · (long − size) / (count − 1)), centred on the
    /// short side. Expects the short side already resized to about <paramref name="size"/>.
    /// </summary>
    // MCG-NJU/VideoMAE kinetics.py / ssv2.py: __getitem__ mode 'test', spatial_step / spatial_start.
    public static Clip SpatialCrop(Clip clip, int size, int index, int count = 3) =>
        Crop(clip, SpatialCropBox(clip.Width, clip.Height, size, index, count));

    /// <summary>The rectangle <see cref="SpatialCrop"/> takes from a width × height frame.</summary>
    public static CropBox SpatialCropBox(int width, int height, int size, int index, int count = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        bool tall = height >= width;
        int longSide = tall ? height : width;
        int shortSide = tall ? width : height;
        double step = count > 1 ? (double)(longSide - size) / (count - 1) : (longSide - size) / 2.0;
        int along = count > 1 ? (int)(index * step) : (int)step;
        int across = (shortSide - size) / 2;
        return tall ? new CropBox(across, along, size, size) : new CropBox(along, across, size, size);
    }

    /// <summary>The three test crops (start, middle, end along the long side).</summary>
    public static Clip[] ThreeCrop(Clip clip, int size) => [SpatialCrop(clip, size, 0), SpatialCrop(clip, size, 1), SpatialCrop(clip, size, 2)];
}
