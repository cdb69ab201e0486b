using VideoSSL.Torch;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// Weighted k-nearest-neighbour classifier on frozen features, as SVT's <c>eval_knn.py</c> (kahnchana/svt, itself
/// facebookresearch/dino <c>eval_knn.py</c>, <c>knn_classifier</c>): features L2-normalised, cosine similarity to every
/// training feature, the k most similar vote for their class with weight exp(similarity / T), one-hot accumulation,
/// highest vote wins. Nothing is fitted, so it is deterministic and needs no hyperparameter but k and T.
/// </summary>
public static class KnnProbe
{
    /// <summary>SVT/DINO's <c>--nb_knn</c> default.</summary>
    public static readonly IReadOnlyList<int> DefaultK = [10, 20, 100, 200];

    /// <summary>SVT/DINO's <c>--temperature</c> default.</summary>
    public const double DefaultTemperature = 0.07;

    // Test rows per matmul. The official loop takes num_test // 100 rows per chunk, which is 0 (an endless range step
    // error) for fewer than 100 test videos; the chunk size does not change the result, so a fixed one is used.
    private const int ChunkRows = 256;

    /// <summary>
    /// Class votes [Nq, classes] (float32, on the CPU) of <paramref name="query"/> [Nq, D] against <paramref name="train"/>
    /// [N, D] with labels <paramref name="trainLabels"/>. Features are L2-normalised here (the official code normalises
    /// them once after extraction). k is capped at N, since topk cannot take more neighbours than there are.
    /// </summary>
    public static Tensor Votes(Tensor train, IReadOnlyList<long> trainLabels, Tensor query, int k, int numClasses, double temperature = DefaultTemperature)
    {
        if (train.Dim != 2 || query.Dim != 2 || train.Size(1) != query.Size(1) || train.Size(0) != trainLabels.Count)
        {
            throw new ArgumentException($"expected train [N, D] with N = {trainLabels.Count} labels and query [M, D], got [{string.Join(", ", train.Shape)}] and [{string.Join(", ", query.Shape)}]");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(temperature, 0);
        if (trainLabels.Any(l => l < 0 || l >= numClasses))
        {
            throw new ArgumentException($"labels must lie in [0, {numClasses})");
        }
        var neighbours = Math.Min(k, trainLabels.Count);
        using var noGrad = Torch.NoGrad();
        using var scope = Torch.NewScope();
        var bank = Torch.Normalize(train.Detach().Float().Cpu(), 1).Transpose(0, 1); // [D, N]
        var labels = Tensor.From(trainLabels.ToArray(), 1, trainLabels.Count);        // [1, N]
        var queries = Torch.Normalize(query.Detach().Float().Cpu(), 1);
        var rows = queries.Size(0);
        var parts = new List<Tensor>();
        for (long start = 0; start < rows; start += ChunkRows)
        {
            var end = Math.Min(rows, start + ChunkRows);
            var features = queries.Slice(0, start, end);
            var batch = end - start;
            var similarity = features.MatMul(bank);                                       // [B, N]
            var (distances, indices) = similarity.TopK(neighbours, 1, largest: true, sorted: true);
            var retrieved = labels.Expand(batch, -1).Gather(1, indices);                  // [B, k]
            var oneHot = Torch.Zeros([batch * neighbours, numClasses]).Scatter(1, retrieved.View(-1, 1), 1.0);
            var weights = distances.Div(temperature).Exp();                               // [B, k]
            parts.Add(oneHot.View(batch, -1, numClasses).Mul(weights.View(batch, -1, 1)).Sum(1)); // [B, classes]
        }
        return scope.MoveToOuter(parts.Count == 1 ? parts[0] : Torch.Cat(parts, 0));
    }

    /// <summary>Top-1 accuracy in [0, 1] of the votes against <paramref name="labels"/>.</summary>
    public static double Accuracy(Tensor votes, IReadOnlyList<long> labels)
    {
        using var scope = Torch.NewScope();
        var predicted = votes.ArgMax(1).ToArray<long>();
        var hits = 0;
        for (var i = 0; i < predicted.Length; i++)
        {
            hits += predicted[i] == labels[i] ? 1 : 0;
        }
        return predicted.Length == 0 ? 0 : (double)hits / predicted.Length;
    }
}
