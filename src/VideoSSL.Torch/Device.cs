using System.Globalization;

namespace VideoSSL.Torch;

/// <summary>Numbered as c10::DeviceType.</summary>
public enum DeviceType : sbyte
{
    CPU = 0,
    CUDA = 1,
}

/// <summary>A device as PyTorch writes it: "cpu", "cuda", "cuda:1".</summary>
public readonly record struct Device(DeviceType Type, int Index = -1)
{
    public static Device CPU => new(DeviceType.CPU);

    public static Device CUDA(int index = 0) => new(DeviceType.CUDA, index);

    public bool IsCuda => Type == DeviceType.CUDA;

    public static Device Parse(string text)
    {
        var value = text.Trim().ToLowerInvariant();
        if (value == "cpu")
        {
            return CPU;
        }
        if (value == "cuda")
        {
            return CUDA(0);
        }
        if (value.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(value.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            return CUDA(index);
        }
        throw new FormatException($"unknown device '{text}' (expected cpu, cuda or cuda:N)");
    }

    public override string ToString() => Type == DeviceType.CPU ? "cpu" : $"cuda:{Math.Max(Index, 0)}";
}
