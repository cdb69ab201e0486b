namespace VideoSSL.Data.Loading;

/// <summary>What the per-sample pipeline returns: one clip as floats (e.g. [3, T, H, W]) and its label.</summary>
public sealed record ClipBatchItem(float[] Data, int[] Shape, int Label)
{
    public static ClipBatchItem Create(float[] data, int[] shape, int label)
    {
        long count = 1;
        foreach (int d in shape)
        {
            count *= d;
        }
        if (count != data.Length)
        {
            throw new ArgumentException($"item data holds {data.Length} floats, shape [{string.Join(", ", shape)}] needs {count}");
        }
        return new ClipBatchItem(data, shape, label);
    }
}

/// <summary>A batch: items stacked along a new first axis ([B, 3, T, H, W] for clips), their labels and ids.</summary>
public sealed class ClipBatch
{
    public ClipBatch(int epoch, int index, float[] data, int[] shape, int[] labels, int[] sampleIndices, string[] sampleIds)
    {
        Epoch = epoch;
        Index = index;
        Data = data;
        Shape = shape;
        Labels = labels;
        SampleIndices = sampleIndices;
        SampleIds = sampleIds;
    }

    public int Epoch { get; }

    /// <summary>Position of the batch in its epoch; pass it (+1) as the start to resume after this batch.</summary>
    public int Index { get; }

    public float[] Data { get; }

    /// <summary>[B, ...item shape].</summary>
    public int[] Shape { get; }

    public int[] Labels { get; }

    /// <summary>Dataset indices of the samples, after any replacement of failed ones.</summary>
    public int[] SampleIndices { get; }

    public string[] SampleIds { get; }

    public int Size => Labels.Length;
}

/// <summary>A sample whose pipeline threw (a corrupt or unreadable video), and why.</summary>
public sealed record LoadFailure(int Epoch, int SampleIndex, string Sample, string Error);
