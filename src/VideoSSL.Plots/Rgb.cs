using System.Globalization;

namespace VideoSSL.Plots;

/// <summary>An 8-bit sRGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    public static Rgb White => new(255, 255, 255);
    public static Rgb Black => new(0, 0, 0);

    /// <summary>matplotlib's tab10, so curves look the same as in the Python tools people compare with.</summary>
    public static IReadOnlyList<Rgb> Palette { get; } =
    [
        Parse("#1f77b4"), Parse("#ff7f0e"), Parse("#2ca02c"), Parse("#d62728"), Parse("#9467bd"),
        Parse("#8c564b"), Parse("#e377c2"), Parse("#7f7f7f"), Parse("#bcbd22"), Parse("#17becf"),
    ];

    /// <summary>Parses "#rrggbb".</summary>
    public static Rgb Parse(string hex)
    {
        var text = hex.StartsWith('#') ? hex[1..] : hex;
        if (text.Length != 6 || !uint.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"colour '{hex}' is not of the form #rrggbb");
        }
        return new Rgb((byte)(value >> 16), (byte)(value >> 8), (byte)value);
    }

    /// <summary>Linear mix: t = 0 gives this colour, t = 1 gives <paramref name="other"/>.</summary>
    public Rgb Lerp(Rgb other, double t)
    {
        t = Math.Clamp(t, 0, 1);
        return new Rgb(
            (byte)Math.Round(R + ((other.R - R) * t)),
            (byte)Math.Round(G + ((other.G - G) * t)),
            (byte)Math.Round(B + ((other.B - B) * t)));
    }

    /// <summary>Relative luminance in [0, 1], enough to pick black or white text over a cell.</summary>
    public double Luminance => ((0.299 * R) + (0.587 * G) + (0.114 * B)) / 255.0;

    public string ToHex() => $"#{R:x2}{G:x2}{B:x2}";

    public override string ToString() => ToHex();
}
