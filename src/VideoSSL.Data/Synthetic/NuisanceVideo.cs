namespace VideoSSL.Data.Synthetic;

/// <summary>Object and distractor textures of the nuisance-rich set.</summary>
public enum NuisanceTexture
{
    Checker,
    Stripes,
    Dots,
    Halves,
}

/// <summary>Background patterns of the nuisance-rich set.</summary>
public enum NuisanceBackground
{
    Gradient,
    Stripes,
    Blobs,
    Clouds,
}

/// <summary>
/// The nuisance statistics clips are drawn from: everything here varies per clip and carries no label. A transfer set
/// changes them (other palettes, textures, backgrounds, more distractors, more camera jitter) while the motions stay the same.
/// </summary>
public sealed record NuisanceStats
{
    /// <summary>Object side at mid-clip, as a share of the frame side (log-uniform between the two).</summary>
    public double ObjectSizeMin { get; init; } = 0.3;
    public double ObjectSizeMax { get; init; } = 0.45;

    /// <summary>HSV saturation range of object colours (hue is uniform).</summary>
    public double[] ObjectSaturation { get; init; } = [0.45, 1.0];

    /// <summary>
    /// HSV value distance of each object colour from the background's base value, brighter or darker at random where
    /// both fit: the object always stands out of its scene, whatever its hue and texture. With independent object and
    /// background colours, half the clips hid the moving object in a background of the same brightness, and neither
    /// supervised training nor any pretraining learned the motions at the benchmark's scale (experiments/README.md).
    /// </summary>
    public double[] ObjectContrast { get; init; } = [0.3, 0.6];

    /// <summary>HSV saturation range of background colours.</summary>
    public double[] BackgroundSaturation { get; init; } = [0.0, 0.6];

    /// <summary>HSV value range of the background's base value.</summary>
    public double[] BackgroundValue { get; init; } = [0.2, 0.9];

    /// <summary>Value spread of the background's texture colours around its base value (up to half this either way).</summary>
    public double[] BackgroundContrast { get; init; } = [0.0, 0.25];

    public NuisanceTexture[] Textures { get; init; } = [NuisanceTexture.Checker, NuisanceTexture.Stripes, NuisanceTexture.Dots, NuisanceTexture.Halves];

    public NuisanceBackground[] Backgrounds { get; init; } = [NuisanceBackground.Gradient, NuisanceBackground.Stripes, NuisanceBackground.Blobs, NuisanceBackground.Clouds];

    /// <summary>Static distractor objects per clip (inclusive range).</summary>
    public int[] Distractors { get; init; } = [1, 3];

    /// <summary>
    /// Camera jitter: a smooth drift of up to this many pixels in x and y (a random sinusoid per axis, 0.5–1.5 cycles
    /// per clip), as a hand-held camera moves. Independent per-frame shake of this size made the labeled task unlearnable
    /// even for supervised training at the benchmark's scale (experiments/README.md, second round).
    /// </summary>
    public int CameraJitter { get; init; } = 2;

    /// <summary>The pretraining pool's and the benchmark's labeled set's statistics.</summary>
    public static NuisanceStats Default { get; } = new();

    /// <summary>
    /// The transfer set's: pastel objects on saturated backgrounds, textures and backgrounds the default draws less of
    /// in other mixes, more distractors and more camera jitter.
    /// </summary>
    public static NuisanceStats Transfer { get; } = new()
    {
        ObjectSaturation = [0.1, 0.45],
        ObjectContrast = [0.25, 0.5],
        BackgroundSaturation = [0.5, 1.0],
        BackgroundValue = [0.15, 0.7],
        BackgroundContrast = [0.1, 0.35],
        Textures = [NuisanceTexture.Stripes, NuisanceTexture.Dots],
        Backgrounds = [NuisanceBackground.Stripes, NuisanceBackground.Clouds],
        Distractors = [3, 5],
        CameraJitter = 3,
    };

    public void Validate()
    {
        static void Range(double[] r, string name, double lo, double hi)
        {
            if (r.Length != 2 || r[0] < lo || r[1] > hi || r[0] > r[1])
            {
                throw new ArgumentException($"{name} must be two values in [{lo}, {hi}], low first");
            }
        }
        Range([ObjectSizeMin, ObjectSizeMax], "object size", 0.02, 1);
        Range(ObjectSaturation, "object saturation", 0, 1);
        Range(ObjectContrast, "object contrast", 0, 1);
        Range(BackgroundSaturation, "background saturation", 0, 1);
        Range(BackgroundValue, "background value", 0, 1);
        Range(BackgroundContrast, "background contrast", 0, 1);
        if (Textures.Length == 0 || Backgrounds.Length == 0)
        {
            throw new ArgumentException("textures and backgrounds need at least one kind each");
        }
        if (Distractors.Length != 2 || Distractors[0] < 0 || Distractors[0] > Distractors[1])
        {
            throw new ArgumentException("distractors must be [min, max] with 0 <= min <= max");
        }
        if (CameraJitter < 0)
        {
            throw new ArgumentException("camera jitter must be >= 0");
        }
    }
}

/// <summary>
/// Clips whose classes differ only by motion, with per-clip random object colours, textures and shapes, random
/// textured backgrounds, static distractors and a drifting camera: a model has to track the moving object through the
/// clutter, and a flat-colour or texture shortcut tells it nothing about the class.
/// <para>
/// No single frame carries the label. Every motion is laid out around the clip's middle frame, whose state (position,
/// angle, size, opacity) is drawn from one class-independent distribution; translations wrap around the frame, so
/// positions are uniform in every frame; and each class has a partner that is its time reverse (left↔right,
/// clockwise↔counter-clockwise, approaching↔receding, appearing↔disappearing, speeding up↔slowing down, the last
/// with a random up/down direction), so only the order of frames tells them apart.
/// </para>
/// </summary>
public static class NuisanceVideo
{
    public static readonly IReadOnlyList<SyntheticClass> Classes =
    [
        new(0, "moving left to right", "Moving [something] from left to right", "translate +x"),
        new(1, "moving right to left", "Moving [something] from right to left", "translate -x"),
        new(2, "turning clockwise", "Turning [something] clockwise", "rotate +"),
        new(3, "turning counterclockwise", "Turning [something] counterclockwise", "rotate -"),
        new(4, "approaching camera", "Moving [something] closer to the camera", "grow"),
        new(5, "receding from camera", "Moving [something] away from the camera", "shrink"),
        new(6, "appearing", "Revealing [something]", "fade in"),
        new(7, "disappearing", "Hiding [something]", "fade out"),
        new(8, "speeding up", "Pushing [something] so it speeds up", "accelerate, vertical"),
        new(9, "slowing down", "Letting [something] slow down", "decelerate, vertical"),
    ];

    private enum Shape
    {
        Square,
        Circle,
        Triangle,
        Cross,
    }

    private sealed record Thing(Shape Shape, NuisanceTexture Texture, (double R, double G, double B) A, (double R, double G, double B) B, double Frequency, double TextureAngle);

    /// <summary>Renders clip <paramref name="seed"/> of class <paramref name="classId"/>: [frames, size, size] RGB. Same arguments, same bytes.</summary>
    public static Clip Render(int classId, int seed, NuisanceStats stats, int size = 64, int frames = 16)
    {
        if (classId < 0 || classId >= Classes.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(classId), classId, $"nuisance classes are 0..{Classes.Count - 1}");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 2);
        var rng = new Random(seed);
        int margin = stats.CameraJitter;
        int canvasSide = size + 2 * margin;

        // Every draw below happens in this order whatever the class, so one seed gives the same scene for every class.
        (double[] canvas, double backgroundValue) = Background(rng, stats, canvasSide);
        int distractors = rng.Next(stats.Distractors[0], stats.Distractors[1] + 1);
        for (int i = 0; i < distractors; i++)
        {
            Thing thing = DrawThing(rng, stats, backgroundValue);
            double half = canvasSide * (0.06 + 0.07 * rng.NextDouble());
            double x = rng.NextDouble() * canvasSide;
            double y = rng.NextDouble() * canvasSide;
            Paint(canvas, canvasSide, thing, x, y, half, rng.NextDouble() * Math.PI * 2, 1, wrap: false);
        }
        Thing obj = DrawThing(rng, stats, backgroundValue);
        double midHalf = size * Math.Exp(Lerp(Math.Log(stats.ObjectSizeMin), Math.Log(stats.ObjectSizeMax), rng.NextDouble())) / 2;
        double midX = rng.NextDouble() * size;
        double midY = rng.NextDouble() * size;
        double midAngle = rng.NextDouble() * Math.PI * 2;
        double travel = size * (0.4 + 0.25 * rng.NextDouble());    // pixels crossed over the clip
        double turn = Math.PI * (0.6 + 0.5 * rng.NextDouble());     // rotation over the clip
        double growth = Math.Log(1.8 + 0.8 * rng.NextDouble());     // log of the size ratio last/first frame
        double fadeCentre = (rng.NextDouble() - 0.5) * 0.3;         // in clip time, 0 = the middle frame
        double fadeLength = 0.25 + 0.15 * rng.NextDouble();
        double vertical = rng.NextDouble() < 0.5 ? -1 : 1;          // speed-change classes move up or down
        var shake = new (int X, int Y)[frames];
        double[] amplitude = [margin * rng.NextDouble(), margin * rng.NextDouble()];
        double[] cycles = [0.5 + rng.NextDouble(), 0.5 + rng.NextDouble()];
        double[] phase = [2 * Math.PI * rng.NextDouble(), 2 * Math.PI * rng.NextDouble()];
        for (int t = 0; t < frames; t++)
        {
            double at = (double)t / (frames - 1);
            int Offset(int axis) => (int)Math.Round(amplitude[axis] * Math.Sin((2 * Math.PI * cycles[axis] * at) + phase[axis]));
            shake[t] = (Offset(0), Offset(1));
        }

        var clip = new Clip(frames, size, size);
        var frame = new double[size * size * 3];
        for (int t = 0; t < frames; t++)
        {
            double s = (double)t / (frames - 1) - 0.5;  // clip time in [-0.5, 0.5], 0 at the middle frame
            double x = midX, y = midY, angle = midAngle, half = midHalf, alpha = 1;
            double u = s + 0.5;
            switch (classId)
            {
                case 0: x += travel * s; break;
                case 1: x -= travel * s; break;
                case 2: angle += turn * s; break;  // y points down, so a growing angle turns clockwise on screen
                case 3: angle -= turn * s; break;
                case 4: half *= Math.Exp(growth * s); break;
                case 5: half *= Math.Exp(-growth * s); break;
                case 6: alpha = Math.Clamp((s - fadeCentre) / fadeLength + 0.5, 0, 1); break;
                case 7: alpha = 1 - Math.Clamp((s - fadeCentre) / fadeLength + 0.5, 0, 1); break;
                // Position u² (speeding up) or 1 − (1 − u)² (slowing down), centred on the middle frame's position
                // at u = ½ (¼ and ¾): a time-reversed speed-up is a slow-down in the opposite direction.
                case 8: y += vertical * travel * (u * u - 0.25); break;
                default: y += vertical * travel * (1 - ((1 - u) * (1 - u)) - 0.75); break;
            }
            (int dx, int dy) = shake[t];
            // The camera moves by (dx, dy): the static canvas and the object shift together.
            for (int row = 0; row < size; row++)
            {
                Array.Copy(canvas, ((row + margin + dy) * canvasSide + margin + dx) * 3, frame, row * size * 3, size * 3);
            }
            Paint(frame, size, obj, Wrap(x - dx, size), Wrap(y - dy, size), half, angle, alpha, wrap: true);
            Span<byte> pixels = clip.Frame(t);
            for (int i = 0; i < frame.Length; i++)
            {
                pixels[i] = (byte)Math.Clamp((int)Math.Round(frame[i]), 0, 255);
            }
        }
        return clip;
    }

    private static double Lerp(double a, double b, double t) => a + (b - a) * t;

    private static double Wrap(double v, int size) => ((v % size) + size) % size;

    private static double Draw(Random rng, double[] range) => Lerp(range[0], range[1], rng.NextDouble());

    private static (double R, double G, double B) Colour(Random rng, double[] saturation, double value)
    {
        double h = rng.NextDouble() * 6;
        double s = Draw(rng, saturation);
        double v = Math.Clamp(value, 0, 1) * 255;
        int sector = (int)h % 6;
        double f = h - Math.Floor(h);
        double p = v * (1 - s), q = v * (1 - s * f), r = v * (1 - s * (1 - f));
        return sector switch
        {
            0 => (v, r, p),
            1 => (q, v, p),
            2 => (p, v, r),
            3 => (p, q, v),
            4 => (r, p, v),
            _ => (v, p, q),
        };
    }

    private static Thing DrawThing(Random rng, NuisanceStats stats, double backgroundValue)
    {
        var shape = (Shape)rng.Next(4);
        NuisanceTexture texture = stats.Textures[rng.Next(stats.Textures.Length)];
        // Brighter or darker than the background: whichever fits the nearest contrast, at random where both do.
        double near = stats.ObjectContrast[0];
        bool brighter = backgroundValue + near > 1 ? false : backgroundValue - near < 0 || rng.NextDouble() < 0.5;
        double Value() => backgroundValue + ((brighter ? 1 : -1) * Draw(rng, stats.ObjectContrast));
        var a = Colour(rng, stats.ObjectSaturation, Value());
        var b = Colour(rng, stats.ObjectSaturation, Value());
        return new(shape, texture, a, b, 2 + 2 * rng.NextDouble(), rng.NextDouble() * Math.PI);
    }

    private static (double[] Pixels, double BaseValue) Background(Random rng, NuisanceStats stats, int side)
    {
        NuisanceBackground kind = stats.Backgrounds[rng.Next(stats.Backgrounds.Length)];
        double baseValue = Draw(rng, stats.BackgroundValue);
        double spread = Draw(rng, stats.BackgroundContrast);
        double Value() => baseValue + (spread * (rng.NextDouble() - 0.5));
        var a = Colour(rng, stats.BackgroundSaturation, Value());
        var b = Colour(rng, stats.BackgroundSaturation, Value());
        double angle = rng.NextDouble() * Math.PI;
        double frequency = (1.5 + 4 * rng.NextDouble()) / side;  // cycles per pixel
        double phase = rng.NextDouble();
        var blobs = new (double X, double Y, double R, (double R, double G, double B) C)[4];
        for (int i = 0; i < blobs.Length; i++)
        {
            blobs[i] = (rng.NextDouble() * side, rng.NextDouble() * side, side * (0.1 + 0.2 * rng.NextDouble()), Colour(rng, stats.BackgroundSaturation, Value()));
        }
        const int Grid = 5;
        var cloud = new double[(Grid + 1) * (Grid + 1)];
        for (int i = 0; i < cloud.Length; i++)
        {
            cloud[i] = rng.NextDouble();
        }
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        var pixels = new double[side * side * 3];
        for (int y = 0; y < side; y++)
        {
            for (int x = 0; x < side; x++)
            {
                double along = x * cos + y * sin;
                double w = kind switch
                {
                    NuisanceBackground.Gradient => Math.Clamp(along / (side * 1.42) + 0.3, 0, 1),
                    NuisanceBackground.Stripes => 0.5 + 0.5 * Math.Sin(2 * Math.PI * (along * frequency + phase)),
                    NuisanceBackground.Clouds => Bilinear(cloud, Grid, (double)x / side * Grid, (double)y / side * Grid),
                    _ => 0,
                };
                var c = (R: Lerp(a.R, b.R, w), G: Lerp(a.G, b.G, w), B: Lerp(a.B, b.B, w));
                if (kind == NuisanceBackground.Blobs)
                {
                    foreach (var blob in blobs)
                    {
                        double d = Math.Sqrt(((x - blob.X) * (x - blob.X)) + ((y - blob.Y) * (y - blob.Y))) / blob.R;
                        double k = Math.Clamp(1.5 - d, 0, 1);
                        c = (Lerp(c.R, blob.C.R, k), Lerp(c.G, blob.C.G, k), Lerp(c.B, blob.C.B, k));
                    }
                }
                // No per-pixel grain: under the normalised-pixel loss every flat patch of grain becomes unit-variance
                // noise no model can predict (the loss sat at 0.99 of its start with it; experiments/README.md).
                int o = (y * side + x) * 3;
                pixels[o] = c.R;
                pixels[o + 1] = c.G;
                pixels[o + 2] = c.B;
            }
        }
        return (pixels, baseValue);
    }

    private static double Bilinear(double[] grid, int n, double gx, double gy)
    {
        int x0 = Math.Min((int)gx, n - 1), y0 = Math.Min((int)gy, n - 1);
        double fx = gx - x0, fy = gy - y0;
        double top = Lerp(grid[y0 * (n + 1) + x0], grid[y0 * (n + 1) + x0 + 1], fx);
        double bottom = Lerp(grid[(y0 + 1) * (n + 1) + x0], grid[(y0 + 1) * (n + 1) + x0 + 1], fx);
        return Lerp(top, bottom, fy);
    }

    // Blends a textured shape centred at (cx, cy) into an RGB double image; with wrap, copies one frame side away too,
    // so an object leaving one edge enters at the other.
    private static void Paint(double[] image, int side, Thing thing, double cx, double cy, double half, double angle, double alpha, bool wrap)
    {
        if (alpha <= 0 || half <= 0.5)
        {
            return;
        }
        int copies = wrap ? 1 : 0;
        for (int ox = -copies; ox <= copies; ox++)
        {
            for (int oy = -copies; oy <= copies; oy++)
            {
                PaintOnce(image, side, thing, cx + ox * side, cy + oy * side, half, angle, alpha);
            }
        }
    }

    private static void PaintOnce(double[] image, int side, Thing thing, double cx, double cy, double half, double angle, double alpha)
    {
        double reach = half * 1.5;
        int x0 = Math.Max(0, (int)Math.Floor(cx - reach)), x1 = Math.Min(side - 1, (int)Math.Ceiling(cx + reach));
        int y0 = Math.Max(0, (int)Math.Floor(cy - reach)), y1 = Math.Min(side - 1, (int)Math.Ceiling(cy + reach));
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        double tcos = Math.Cos(thing.TextureAngle), tsin = Math.Sin(thing.TextureAngle);
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                double px = x + 0.5 - cx, py = y + 0.5 - cy;
                // Object coordinates in [-1, 1]: the pixel rotated back by the object's angle, so textures turn with it.
                double u = (px * cos + py * sin) / half;
                double v = (-px * sin + py * cos) / half;
                bool inside = thing.Shape switch
                {
                    Shape.Square => Math.Abs(u) <= 1 && Math.Abs(v) <= 1,
                    Shape.Circle => u * u + v * v <= 1,
                    Shape.Triangle => v <= 1 && v >= -1 && Math.Abs(u) <= (v + 1) / 2,
                    _ => (Math.Abs(u) <= 1 && Math.Abs(v) <= 0.4) || (Math.Abs(v) <= 1 && Math.Abs(u) <= 0.4),
                };
                if (!inside)
                {
                    continue;
                }
                double tu = u * tcos + v * tsin, tv = -u * tsin + v * tcos;
                bool second = thing.Texture switch
                {
                    NuisanceTexture.Checker => (((int)Math.Floor((tu + 1) * thing.Frequency * 0.75) + (int)Math.Floor((tv + 1) * thing.Frequency * 0.75)) & 1) == 1,
                    NuisanceTexture.Stripes => Math.Sin(Math.PI * thing.Frequency * tu) > 0,
                    NuisanceTexture.Dots => Frac(tu * thing.Frequency * 0.5) is var a && Frac(tv * thing.Frequency * 0.5) is var b && ((a - 0.5) * (a - 0.5)) + ((b - 0.5) * (b - 0.5)) < 0.08,
                    _ => tu > 0,
                };
                var c = second ? thing.B : thing.A;
                int o = (y * side + x) * 3;
                image[o] += (c.R - image[o]) * alpha;
                image[o + 1] += (c.G - image[o + 1]) * alpha;
                image[o + 2] += (c.B - image[o + 2]) * alpha;
            }
        }
    }

    private static double Frac(double v) => v - Math.Floor(v);
}
