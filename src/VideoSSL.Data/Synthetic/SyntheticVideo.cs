namespace VideoSSL.Data.Synthetic;

/// <summary>A synthetic class: its Kinetics-style name and its Something-Something-style template.</summary>
public sealed record SyntheticClass(int Id, string Name, string Template, string Motion);

/// <summary>Frame size, length and rate of synthetic clips. Small by default so tests and smoke runs are quick.</summary>
public sealed record SyntheticClipOptions(int Width = 64, int Height = 64, int Frames = 16, int Fps = 8);

/// <summary>
/// Procedurally drawn clips whose classes differ only by how an object moves (left↔right, up/down,
/// clockwise/counter-clockwise, approaching/receding, appearing/disappearing), plus two classes that
/// differ only by the object's shape. Background and palette are fixed; every random choice (background
/// noise, position, speed, size, angle, timing) is drawn from the clip seed in the same order whatever the class, so one seed gives
/// the same scene for every class and only the motion (or shape) changes: a model can only tell the
/// motion classes apart by looking at more than one frame.
/// </summary>
public static class SyntheticVideo
{
    public static readonly IReadOnlyList<SyntheticClass> Classes =
    [
        new(0, "moving left to right", "Moving [something] from left to right", "translate +x"),
        new(1, "moving right to left", "Moving [something] from right to left", "translate -x"),
        new(2, "moving up", "Moving [something] up", "translate -y"),
        new(3, "moving down", "Moving [something] down", "translate +y"),
        new(4, "turning clockwise", "Turning [something] clockwise", "rotate +"),
        new(5, "turning counterclockwise", "Turning [something] counterclockwise", "rotate -"),
        new(6, "approaching camera", "Moving [something] closer to the camera", "grow"),
        new(7, "receding from camera", "Moving [something] away from the camera", "shrink"),
        new(8, "appearing", "Revealing [something]", "fade in"),
        new(9, "disappearing", "Hiding [something]", "fade out"),
        new(10, "wobbling round thing", "Wobbling [something round]", "wobble, circle"),
        new(11, "wobbling triangular thing", "Wobbling [something triangular]", "wobble, triangle"),
    ];

    private enum Shape
    {
        Square,
        Circle,
        Triangle,
    }

    /// <summary>Renders clip <paramref name="seed"/> of class <paramref name="classId"/>. Same arguments, same bytes.</summary>
    /// <param name="drawObject">False renders only the background (the object's frames minus the object), for checks.</param>
    public static Clip RenderFrames(int classId, int seed, SyntheticClipOptions? options = null, bool drawObject = true)
    {
        if (classId < 0 || classId >= Classes.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(classId), classId, $"synthetic classes are 0..{Classes.Count - 1}");
        }
        options ??= new SyntheticClipOptions();
        int w = options.Width;
        int h = options.Height;
        int frames = options.Frames;
        var clip = new Clip(frames, h, w);
        var rng = new Random(seed);
        byte[] background = DrawBackground(rng, w, h);

        // Object parameters, always drawn in this order so they do not depend on the class.
        double minSide = Math.Min(w, h);
        double size = minSide * (0.22 + 0.1 * rng.NextDouble());
        // One fixed palette: with per-clip colours, colour is what a pixel-reconstruction loss mostly learns, and a tiny
        // encoder pretrained that way carried no motion (linear probe at chance, below a random encoder).
        (byte R, byte G, byte B) colorA = (240, 200, 40);
        (byte R, byte G, byte B) colorB = (30, 30, 160);
        double baseAngle = rng.NextDouble() * Math.PI / 2;
        double travel = 0.5 + 0.15 * rng.NextDouble();       // share of the frame crossed
        double across = 0.3 + 0.4 * rng.NextDouble();        // fixed coordinate of a translation
        double jitter = (rng.NextDouble() - 0.5) * 0.1;
        double centreX = 0.4 + 0.2 * rng.NextDouble();
        double centreY = 0.4 + 0.2 * rng.NextDouble();
        double turn = (0.5 + 0.6 * rng.NextDouble()) * Math.PI;  // total rotation over the clip
        double fadeStart = 0.1 + 0.2 * rng.NextDouble();
        double fadeLength = 0.3 + 0.2 * rng.NextDouble();
        double wobblePhase = rng.NextDouble() * 2 * Math.PI;
        double wobbleCycles = 1 + rng.NextDouble();

        if (drawObject)
        {
            for (int t = 0; t < frames; t++)
            {
                double s = frames > 1 ? (double)t / (frames - 1) : 0;  // 0 → 1 over the clip
                double cx = centreX * w;
                double cy = centreY * h;
                double angle = baseAngle;
                double scale = 1;
                double alpha = 1;
                Shape shape = Shape.Square;
                double along = 0.5 - travel / 2 + jitter + travel * s;
                switch (classId)
                {
                    case 0: cx = along * w; cy = across * h; break;
                    case 1: cx = (1 - along) * w; cy = across * h; break;
                    case 2: cy = (1 - along) * h; cx = across * w; break;
                    case 3: cy = along * h; cx = across * w; break;
                    case 4: angle += turn * s; break;  // y points down, so a growing angle turns clockwise on screen
                    case 5: angle -= turn * s; break;
                    case 6: scale = 0.5 + s; break;
                    case 7: scale = 1.5 - s; break;
                    case 8: alpha = Math.Clamp((s - fadeStart) / fadeLength, 0, 1); break;
                    case 9: alpha = 1 - Math.Clamp((s - fadeStart) / fadeLength, 0, 1); break;
                    default:
                        shape = classId == 10 ? Shape.Circle : Shape.Triangle;
                        double phase = wobblePhase + 2 * Math.PI * wobbleCycles * s;
                        cx += 0.06 * w * Math.Sin(phase);
                        cy += 0.04 * h * Math.Sin(2 * phase);
                        break;
                }
                Span<byte> frame = clip.Frame(t);
                background.CopyTo(frame);
                DrawObject(frame, w, h, cx, cy, size * scale / 2, angle, alpha, shape, colorA, colorB);
            }
        }
        else
        {
            for (int t = 0; t < frames; t++)
            {
                background.CopyTo(clip.Frame(t));
            }
        }
        return clip;
    }

    private static byte[] DrawBackground(Random rng, int w, int h)
    {
        // Plain grey with fixed fine noise: static, so it carries no motion, and plain, so that a few hundred clips are
        // enough to learn the classes. Textured backgrounds (gradients, blobs) gave a tiny model thousands of per-clip
        // nuisance patterns to memorise: even supervised ViTs and the pretrained encoder then stayed at chance.
        (double r, double g, double b) = (110, 110, 110);
        var noise = new Random(rng.Next());
        var pixels = new byte[w * h * 3];
        for (int o = 0; o < pixels.Length; o += 3)
        {
            double n = (noise.NextDouble() - 0.5) * 12;
            pixels[o] = ToByte(r + n);
            pixels[o + 1] = ToByte(g + n);
            pixels[o + 2] = ToByte(b + n);
        }
        return pixels;
    }

    private static void DrawObject(Span<byte> frame, int w, int h, double cx, double cy, double half, double angle, double alpha,
        Shape shape, (byte R, byte G, byte B) colorA, (byte R, byte G, byte B) colorB)
    {
        if (alpha <= 0 || half <= 0)
        {
            return;
        }
        double reach = half * 1.5;
        int x0 = Math.Max(0, (int)Math.Floor(cx - reach));
        int x1 = Math.Min(w - 1, (int)Math.Ceiling(cx + reach));
        int y0 = Math.Max(0, (int)Math.Floor(cy - reach));
        int y1 = Math.Min(h - 1, (int)Math.Ceiling(cy + reach));
        double cos = Math.Cos(angle);
        double sin = Math.Sin(angle);
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                double px = x + 0.5 - cx;
                double py = y + 0.5 - cy;
                // Object coordinates in [-1, 1]: the pixel rotated back by the object's angle.
                double u = (px * cos + py * sin) / half;
                double v = (-px * sin + py * cos) / half;
                bool inside = shape switch
                {
                    Shape.Square => Math.Abs(u) <= 1 && Math.Abs(v) <= 1,
                    Shape.Circle => u * u + v * v <= 1,
                    _ => v <= 1 && v >= -1 && Math.Abs(u) <= (v + 1) / 2,
                };
                if (!inside)
                {
                    continue;
                }
                // A 3×3 checkerboard makes rotation visible and gives the object texture.
                bool odd = (((int)Math.Floor((u + 1) * 1.5) + (int)Math.Floor((v + 1) * 1.5)) & 1) == 1;
                (byte cr, byte cg, byte cb) = odd ? colorB : colorA;
                int o = (y * w + x) * 3;
                frame[o] = ToByte(frame[o] + (cr - frame[o]) * alpha);
                frame[o + 1] = ToByte(frame[o + 1] + (cg - frame[o + 1]) * alpha);
                frame[o + 2] = ToByte(frame[o + 2] + (cb - frame[o + 2]) * alpha);
            }
        }
    }

    private static byte ToByte(double value) => (byte)Math.Clamp((int)Math.Round(value), 0, 255);
}
