using VideoSSL.Data.Datasets;
using VideoSSL.Data.Video;

namespace VideoSSL.Data.Loading;

public sealed record ClipLoaderOptions
{
    public int BatchSize { get; init; } = 8;

    /// <summary>Background threads running the pipeline; 0 runs it on the consuming thread.</summary>
    public int Workers { get; init; } = 2;

    /// <summary>Batches that may be in preparation or ready ahead of the consumer.</summary>
    public int PrefetchBatches { get; init; } = 2;

    public int Seed { get; init; }

    public bool Shuffle { get; init; } = true;

    public bool DropLast { get; init; } = true;

    /// <summary>Share of the dataset allowed to fail in one epoch before loading stops with an error.</summary>
    public double MaxFailureFraction { get; init; } = 0.1;

    /// <summary>
    /// With an item writer: a batch's <see cref="ClipBatch.Data"/> is reused for a later batch once the next one is
    /// requested, so a consumer that copies each batch (into a tensor) right away allocates no batch memory in steady
    /// state. Leave off when batches are kept.
    /// </summary>
    public bool RecycleBatchBuffers { get; init; }

    /// <summary>
    /// Data parallelism: this process is rank <see cref="ShardRank"/> of <see cref="ShardCount"/> and reads only its
    /// shard of each epoch's order, as torch's DistributedSampler: the order padded with its own head to a multiple
    /// of the rank count, then every ShardCount-th position from ShardRank. So the ranks' batch b together hold
    /// exactly the videos of batch b of one process with ShardCount × the batch size; repeated views of a video stay
    /// on one rank.
    /// </summary>
    public int ShardRank { get; init; }

    public int ShardCount { get; init; } = 1;

    /// <summary>Replacement draws for one batch slot before giving up (guards against a dataset that is all broken).</summary>
    public int MaxAttemptsPerItem { get; init; } = 16;
}

/// <summary>
/// Turns a dataset into batches with background workers. Everything random is keyed by numbers, not by
/// timing: the epoch order is a permutation drawn from (seed, epoch), each item's RNG comes from
/// (seed, epoch, sample index, attempt), and batches are handed out in order. So 1 or 8 workers, and a run
/// resumed from batch k, give the same batches. A sample that cannot be read (<see cref="IsUnreadable"/>) is logged,
/// counted, and replaced by another sample chosen from (seed, epoch, position, attempt), so batches stay full; when
/// more than <see cref="ClipLoaderOptions.MaxFailureFraction"/> of the dataset has failed in an epoch, loading stops.
/// Any other exception is a bug and stops loading at once, naming the sample and keeping its stack.
/// </summary>
public sealed class ClipLoader
{
    private readonly VideoDataset _dataset;
    private readonly Func<VideoSample, int, int, Random, ClipBatchItem>? _pipeline;
    private readonly ClipItemWriter? _writer;
    private readonly ClipLoaderOptions _options;
    private readonly Action<string>? _log;
    private readonly List<LoadFailure> _failures = [];
    private readonly System.Collections.Concurrent.ConcurrentBag<float[]> _spareBuffers = [];

    /// <param name="pipeline">(sample, epoch, dataset index, rng) → item: decode, sample frames, augment. Must be thread-safe.</param>
    public ClipLoader(VideoDataset dataset, Func<VideoSample, int, int, Random, ClipBatchItem> pipeline, ClipLoaderOptions options, Action<string>? log = null)
        : this(dataset, options, log)
    {
        _pipeline = pipeline;
    }

    /// <param name="writer">Writes each item into its slot of the batch buffer. Must be thread-safe.</param>
    public ClipLoader(VideoDataset dataset, ClipItemWriter writer, ClipLoaderOptions options, Action<string>? log = null)
        : this(dataset, options, log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(writer.ItemSize, 1, nameof(writer));
        _writer = writer;
    }

    private ClipLoader(VideoDataset dataset, ClipLoaderOptions options, Action<string>? log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Workers);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PrefetchBatches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAttemptsPerItem, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ShardCount, 1);
        if (options.ShardRank < 0 || options.ShardRank >= options.ShardCount)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"shard rank {options.ShardRank} is outside 0..{options.ShardCount - 1}");
        }
        if (dataset.Count == 0)
        {
            throw new ArgumentException("the dataset has no samples", nameof(dataset));
        }
        _dataset = dataset;
        _options = options;
        _log = log;
    }

    public int BatchesPerEpoch => _options.DropLast
        ? ShardLength / _options.BatchSize
        : (ShardLength + _options.BatchSize - 1) / _options.BatchSize;

    public int BatchSize => _options.BatchSize;

    /// <summary>Videos in the whole dataset (all shards); shard positions at or past it are DistributedSampler padding.</summary>
    public int DatasetCount => _dataset.Count;

    /// <summary>The id a batch gives the video at dataset index <paramref name="index"/> (<see cref="ClipBatch.SampleIds"/>).</summary>
    public string SampleId(int index) => _dataset[index].Name;

    /// <summary>Samples this rank visits per epoch: ceil(N / ranks), as DistributedSampler.num_samples.</summary>
    public int ShardLength => (_dataset.Count + _options.ShardCount - 1) / _options.ShardCount;

    /// <summary>Every failure handed out so far, in batch order.</summary>
    public IReadOnlyList<LoadFailure> Failures => _failures;

    /// <summary>The order in which dataset indices are visited in <paramref name="epoch"/>.</summary>
    public int[] EpochOrder(int epoch)
    {
        int[] order = Enumerable.Range(0, _dataset.Count).ToArray();
        if (_options.Shuffle)
        {
            var rng = new Random(Seeds.Derive(_options.Seed, epoch, -1));
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rng.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        return order;
    }

    /// <summary>
    /// This rank's part of <see cref="EpochOrder"/>: torch.utils.data.DistributedSampler.__iter__ with
    /// drop_last=False (pad with the order's head, then indices[rank::num_replicas]). One rank: the whole order.
    /// </summary>
    public int[] ShardOrder(int epoch)
    {
        int[] order = EpochOrder(epoch);
        int ranks = _options.ShardCount;
        if (ranks == 1)
        {
            return order;
        }
        var shard = new int[ShardLength];
        for (int j = 0; j < shard.Length; j++)
        {
            shard[j] = order[(_options.ShardRank + ((long)j * ranks)) % order.Length];
        }
        return shard;
    }

    /// <summary>The batches of one epoch from <paramref name="startBatch"/> on. Stop enumerating at any time; workers stop with it.</summary>
    public IEnumerable<ClipBatch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellationToken = default)
    {
        int batches = BatchesPerEpoch;
        if (startBatch < 0 || startBatch > batches)
        {
            throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, $"an epoch has {batches} batches");
        }
        return Run(epoch, startBatch, batches, cancellationToken);
    }

    private IEnumerable<ClipBatch> Run(int epoch, int startBatch, int batches, CancellationToken cancellationToken)
    {
        int batchSize = _options.BatchSize;
        int[] order = ShardOrder(epoch);
        long firstPosition = (long)startBatch * batchSize;
        long endPosition = Math.Min((long)batches * batchSize, order.Length);
        var slots = new BatchSlot[batches - startBatch];
        for (int b = 0; b < slots.Length; b++)
        {
            long start = (long)(startBatch + b) * batchSize;
            slots[b] = new BatchSlot((int)Math.Min(batchSize, endPosition - start));
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var permits = new SemaphoreSlim(_options.PrefetchBatches * batchSize);
        long next = firstPosition;
        var threads = new List<Thread>();

        void Work()
        {
            try
            {
                while (true)
                {
                    permits.Wait(cts.Token);
                    long position = Interlocked.Increment(ref next) - 1;
                    if (position >= endPosition)
                    {
                        return;
                    }
                    BatchSlot slot = slots[(int)(position / batchSize) - startBatch];
                    try
                    {
                        slot.Items[(int)(position % batchSize)] = ComputeItem(epoch, order, position, slot, (int)(position % batchSize));
                        if (Interlocked.Decrement(ref slot.Remaining) == 0)
                        {
                            slot.Done.TrySetResult();
                        }
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        slot.Done.TrySetException(e);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        for (int w = 0; w < _options.Workers; w++)
        {
            var thread = new Thread(Work) { IsBackground = true, Name = $"ClipLoader worker {w}" };
            threads.Add(thread);
            thread.Start();
        }

        var failedThisEpoch = new HashSet<int>();
        double maxFailures = _options.MaxFailureFraction * _dataset.Count;
        try
        {
            for (int b = 0; b < slots.Length; b++)
            {
                BatchSlot slot = slots[b];
                if (_options.Workers == 0)
                {
                    long start = (long)(startBatch + b) * batchSize;
                    for (int i = 0; i < slot.Items.Length; i++)
                    {
                        cts.Token.ThrowIfCancellationRequested();
                        slot.Items[i] = ComputeItem(epoch, order, start + i, slot, i);
                    }
                }
                else
                {
                    try
                    {
                        slot.Done.Task.Wait(cts.Token);
                    }
                    catch (AggregateException e) when (e.InnerExceptions.Count == 1)
                    {
                        throw e.InnerExceptions[0];
                    }
                }
                ClipBatch batch = _writer is null
                    ? Assemble(epoch, startBatch + b, slot.Items)
                    : new ClipBatch(epoch, startBatch + b, slot.Data!, [slot.Items.Length, .. _writer.ItemShape],
                        [.. slot.Items.Select(i => i.Label)], [.. slot.Items.Select(i => i.SampleIndex)], [.. slot.Items.Select(i => i.Name)]);
                foreach (ItemResult item in slot.Items)
                {
                    foreach (LoadFailure failure in item.Failures)
                    {
                        _failures.Add(failure);
                        failedThisEpoch.Add(failure.SampleIndex);
                        _log?.Invoke($"skipped sample {failure.SampleIndex} ({failure.Sample}) in epoch {epoch}: {failure.Error}");
                    }
                }
                if (failedThisEpoch.Count > maxFailures)
                {
                    IEnumerable<string> examples = _failures.Where(f => f.Epoch == epoch).Take(5).Select(f => $"{f.Sample}: {f.Error}");
                    throw new InvalidDataException(
                        $"{failedThisEpoch.Count} of {_dataset.Count} samples failed to load in epoch {epoch}, more than the allowed "
                        + $"{_options.MaxFailureFraction:P1}; for example: {string.Join("; ", examples)}");
                }
                slots[b] = null!;  // let the batch's items be collected once handed out
                permits.Release(slot.Items.Length);
                yield return batch;
                if (_options.RecycleBatchBuffers && _writer is not null)
                {
                    _spareBuffers.Add(batch.Data);
                }
            }
        }
        finally
        {
            cts.Cancel();
            foreach (Thread thread in threads)
            {
                thread.Join();
            }
        }
    }

    private ItemResult ComputeItem(int epoch, int[] order, long position, BatchSlot slot, int slotIndex)
    {
        List<LoadFailure>? failures = null;
        for (int attempt = 0; attempt < _options.MaxAttemptsPerItem; attempt++)
        {
            int index = attempt == 0
                ? order[position]
                : Seeds.Derive(_options.Seed, epoch, (position * _options.ShardCount) + _options.ShardRank, attempt) % _dataset.Count;  // keyed by the position in the whole epoch
            VideoSample sample = _dataset[index];
            var rng = new Random(Seeds.Derive(_options.Seed, epoch, index, attempt));
            try
            {
                IReadOnlyList<LoadFailure> failed = (IReadOnlyList<LoadFailure>?)failures ?? [];
                if (_writer is null)
                {
                    ClipBatchItem item = _pipeline!(sample, epoch, index, rng);
                    return new ItemResult(item, index, sample.Name, failed, item.Label);
                }
                int itemSize = _writer.ItemSize;
                // A failed attempt may have written part of the slot; the next attempt overwrites all of it.
                int label = _writer.Write(sample, epoch, index, rng, slot.DataFor(itemSize, _spareBuffers).AsSpan(slotIndex * itemSize, itemSize));
                return new ItemResult(null, index, sample.Name, failed, label);
            }
            catch (Exception e) when (IsUnreadable(e))
            {
                (failures ??= []).Add(new LoadFailure(epoch, index, sample.Path, $"{e.GetType().Name}: {e.Message}"));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug in a transform would otherwise be skipped as a bad video on every sample, up to the failure share.
                throw new InvalidOperationException($"the clip pipeline failed on {sample.Path} (epoch {epoch}, sample {index}) with {e.GetType().Name}, which is not a decode or I/O failure: {e.Message}", e);
            }
        }
        string tried = string.Join("; ", failures!.Select(f => $"{f.Sample}: {f.Error}"));
        throw new InvalidDataException($"{_options.MaxAttemptsPerItem} samples in a row failed to load for batch position {position} of epoch {epoch}: {tried}");
    }

    /// <summary>What counts as an unreadable video: the decoder refusing it, the container or its frames being unusable, or I/O.</summary>
    public static bool IsUnreadable(Exception e) => e is VideoDecodeException or InvalidDataException or IOException;

    private static ClipBatch Assemble(int epoch, int index, ItemResult[] items)
    {
        int[] itemShape = items[0].Item!.Shape;
        int itemSize = items[0].Item!.Data.Length;
        var data = new float[(long)itemSize * items.Length];
        var labels = new int[items.Length];
        var indices = new int[items.Length];
        var ids = new string[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            ClipBatchItem item = items[i].Item!;
            if (!item.Shape.AsSpan().SequenceEqual(itemShape) || item.Data.Length != itemSize)
            {
                throw new InvalidOperationException(
                    $"batch {index}: item {items[i].Name} has shape [{string.Join(", ", item.Shape)}], the first item [{string.Join(", ", itemShape)}]");
            }
            item.Data.CopyTo(data, (long)i * itemSize);
            labels[i] = item.Label;
            indices[i] = items[i].SampleIndex;
            ids[i] = items[i].Name;
        }
        return new ClipBatch(epoch, index, data, [items.Length, .. itemShape], labels, indices, ids);
    }

    private sealed record ItemResult(ClipBatchItem? Item, int SampleIndex, string Name, IReadOnlyList<LoadFailure> Failures, int Label);

    private sealed class BatchSlot(int size)
    {
        public readonly ItemResult[] Items = new ItemResult[size];
        public float[]? Data;

        /// <summary>The batch buffer, allocated by whichever worker reaches the batch first.</summary>
        public float[] DataFor(int itemSize, System.Collections.Concurrent.ConcurrentBag<float[]> spares)
        {
            if (Volatile.Read(ref Data) is float[] data)
            {
                return data;
            }
            lock (Items)
            {
                if (Data is null)
                {
                    int length = checked(itemSize * Items.Length);
                    // A recycled buffer of another length (the short last batch) is dropped, not reused.
                    Data = spares.TryTake(out float[]? spare) && spare.Length == length ? spare : GC.AllocateUninitializedArray<float>(length);
                }
                return Data;
            }
        }

        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Remaining = size;
    }
}
