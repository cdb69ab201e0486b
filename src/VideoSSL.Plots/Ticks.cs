using System.Globalization;

namespace VideoSSL.Plots;

/// <summary>Axis ticks at 1, 2 or 5 x 10^k, and their labels.</summary>
public static class Ticks
{
    /// <summary>The smallest step of the form {1, 2, 5} x 10^k that splits <paramref name="span"/> into at most <paramref name="maxCount"/> parts.</summary>
    public static double NiceStep(double span, int maxCount)
    {
        if (!(span > 0) || !double.IsFinite(span))
        {
            throw new ArgumentOutOfRangeException(nameof(span), span, "tick span must be positive and finite");
        }
        var raw = span / Math.Max(maxCount, 1);
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var normalized = raw / magnitude;
        // The tolerance keeps 0.2/0.1 = 2.0000000000000004 from jumping to the next step.
        var nice = normalized <= 1 + 1e-9 ? 1 : normalized <= 2 + 1e-9 ? 2 : normalized <= 5 + 1e-9 ? 5 : 10;
        return nice * magnitude;
    }

    /// <summary>Multiples of <paramref name="step"/> within [min, max], computed as k * step so they do not drift.</summary>
    public static double[] Within(double min, double max, double step)
    {
        var first = (long)Math.Ceiling((min / step) - 1e-9);
        var last = (long)Math.Floor((max / step) + 1e-9);
        var ticks = new List<double>();
        for (var k = first; k <= last && ticks.Count < 1000; k++)
        {
            ticks.Add(k * step);
        }
        return [.. ticks];
    }

    /// <summary>Labels a tick: plain decimals with trailing zeros trimmed, or m e k on axes with very large or small steps.</summary>
    public static string Format(double value, double step)
    {
        if (Math.Abs(value) < step * 1e-6)
        {
            return "0";
        }
        // Decided by the step, not the value, so one axis never mixes "8e-4" with "0.001".
        if (step >= 1e6 || step < 1e-3)
        {
            return value.ToString("0.###e0", CultureInfo.InvariantCulture);
        }
        var decimals = Math.Clamp((int)-Math.Floor(Math.Log10(step) + 1e-9), 0, 12);
        return Math.Round(value, decimals).ToString("0.############", CultureInfo.InvariantCulture);
    }

    /// <summary>Ticks for a log axis over [min, max] (both positive): decades, with 2 and 5 added when fewer than two decades show.</summary>
    public static double[] Log(double min, double max)
    {
        var lo = (int)Math.Floor(Math.Log10(min) + 1e-9);
        var hi = (int)Math.Ceiling(Math.Log10(max) - 1e-9);
        var every = Math.Max(1, (int)Math.Ceiling((hi - lo) / 8.0));
        var ticks = new List<double>();
        for (var e = lo; e <= hi; e++)
        {
            foreach (var m in new[] { 1.0, 2.0, 5.0 })
            {
                if (m != 1 && hi - lo > 2)
                {
                    continue;
                }
                if (m == 1 && (e - lo) % every != 0)
                {
                    continue;
                }
                var v = m * Math.Pow(10, e);
                if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9))
                {
                    ticks.Add(v);
                }
            }
        }
        return [.. ticks];
    }

    public static string FormatLog(double value)
    {
        var magnitude = Math.Abs(value);
        return magnitude >= 1e5 || magnitude < 1e-3
            ? value.ToString("0.###e0", CultureInfo.InvariantCulture)
            : value.ToString("0.#####", CultureInfo.InvariantCulture);
    }
}
