using System.Text.Json;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Training;

/// <summary>Where a run stands: enough to continue exactly (bit-identical on CPU) after a stop.</summary>
public sealed record TrainerState(long Step, long Epoch, long BatchInEpoch, long OptimizerSteps, double LastLoss, string ConfigJson);

/// <summary>
/// One safetensors file per checkpoint: `model.*` weights, `optim.*` AdamW moments, `rng.cpu`, and the
/// trainer state plus resolved config as metadata. Written atomically (temp file + rename), so an
/// interrupted write leaves the previous checkpoint intact.
/// </summary>
public static class Checkpoint
{
    public const string ModelPrefix = "model.";

    public static void Save(string path, Module model, AdamW? optimizer, TrainerState state)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var scope = Torch.Torch.NewScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        tensors.AddRange(model.StateDict().Select(kv => new KeyValuePair<string, Tensor>(ModelPrefix + kv.Key, kv.Value)));
        if (optimizer is not null)
        {
            tensors.AddRange(optimizer.StateDict().Select(kv => new KeyValuePair<string, Tensor>("optim." + kv.Key, kv.Value)));
        }
        tensors.Add(new("rng.cpu", Torch.Torch.GetRngState()));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "videossl-checkpoint-1",
            ["trainer_state"] = JsonSerializer.Serialize(state),
        };
        Weights.Save(path, tensors, metadata);
    }

    /// <summary>
    /// Writes a run's last.safetensors at an optimizer-step boundary (and a numbered copy every keepEverySteps).
    /// At the end of an epoch the <paramref name="position"/> is the start of the next one, so a resume does not replay it.
    /// </summary>
    public static void SaveProgress(RunDirectory run, Module model, AdamW optimizer, TrainerState position, int keepEverySteps)
    {
        // The step that breaks the weights can still report a finite loss; writing them would overwrite the last good state.
        if (!ParametersFinite(model))
        {
            throw new TrainingDivergedException(
                $"the weights are no longer finite after step {position.Step}; stopping without writing them. {LastGood(run)} Lower train.base_lr or set train.clip_grad.");
        }
        Save(run.LastCheckpoint, model, optimizer, position);
        if (keepEverySteps > 0 && position.Step % keepEverySteps == 0)
        {
            File.Copy(run.LastCheckpoint, Path.Combine(run.CheckpointDir, $"checkpoint-{position.Step:D7}.safetensors"), overwrite: true);
        }
    }

    /// <summary>Whether every parameter is finite: one fused norm over all of them (an Inf or NaN anywhere makes it non-finite).</summary>
    public static bool ParametersFinite(Module model)
    {
        using var scope = Torch.Torch.NewScope();
        var values = model.Parameters().Select(p => p.Value).ToList();
        return values.Count == 0 || double.IsFinite(Torch.Torch.ForeachNorm(values).Item());
    }

    /// <summary>"The last good checkpoint is RUN/checkpoints/last.safetensors (step N)." for divergence messages.</summary>
    public static string LastGood(RunDirectory run)
    {
        if (!File.Exists(run.LastCheckpoint))
        {
            return "No checkpoint was written yet.";
        }
        var step = ReadState(run.LastCheckpoint).Step;
        return $"The last good checkpoint is {run.LastCheckpoint} (step {step}): resume from it with --resume after lowering the lr.";
    }

    /// <summary>The trainer state of a checkpoint (its header only; no tensor is read).</summary>
    public static TrainerState ReadState(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"checkpoint not found: {path}", path);
        }
        CheckResumable(path);
        var metadata = Weights.ReadMetadata(path);
        if (!metadata.TryGetValue("trainer_state", out var stateJson))
        {
            throw new InvalidDataException($"{path} is not a VideoSSL training checkpoint (no trainer_state metadata); load plain weights with --set init=FILE instead");
        }
        return ReadState(path, stateJson);
    }

    /// <summary>Restores model, optimizer and RNG from a checkpoint and returns the trainer state.</summary>
    public static TrainerState Load(string path, Module model, AdamW? optimizer)
    {
        var state = ReadState(path);
        var device = model.Parameters().FirstOrDefault()?.Value.Device;
        var tensors = Weights.Load(path, device);
        try
        {
            var modelState = tensors.Where(kv => kv.Key.StartsWith(ModelPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[ModelPrefix.Length..], kv => kv.Value);
            try
            {
                model.LoadStateDict(modelState);
            }
            catch (StateDictMismatchException e)
            {
                throw new StateDictMismatchException(e.Report, path);
            }
            if (optimizer is not null)
            {
                var optimState = tensors.Where(kv => kv.Key.StartsWith("optim.", StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key["optim.".Length..], kv => kv.Value);
                optimizer.LoadStateDict(optimState, state.OptimizerSteps);
            }
            if (tensors.TryGetValue("rng.cpu", out var rng))
            {
                using var cpu = rng.Cpu();
                Torch.Torch.SetRngState(cpu);
            }
            return state;
        }
        finally
        {
            foreach (var t in tensors.Values)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>Largest epoch or step count a trainer_state may claim when its config says nothing tighter.</summary>
    private const long MaxCount = 1L << 40;

    /// <summary>Parses and checks a checkpoint's trainer_state: counts non-negative, the epoch within the run's own config.</summary>
    public static TrainerState ReadState(string path, string stateJson)
    {
        TrainerState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(stateJson);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: trainer_state metadata is not valid JSON ({e.Message.Split(" Path:", 2)[0]})", e);
        }
        if (state is null)
        {
            throw new InvalidDataException($"{path}: trainer_state metadata is null");
        }
        void Check(bool ok, string what)
        {
            if (!ok)
            {
                throw new InvalidDataException($"{path}: trainer_state {what}; not a checkpoint this suite wrote (edited or damaged?)");
            }
        }
        Check(state.Step is >= 0 and <= MaxCount, $"step {state.Step} is negative or absurd");
        Check(state.OptimizerSteps is >= 0 and <= MaxCount, $"optimizer_steps {state.OptimizerSteps} is negative or absurd");
        Check(state.BatchInEpoch is >= 0 and <= int.MaxValue, $"batch_in_epoch {state.BatchInEpoch} is negative or absurd");
        Check(state.Epoch is >= 0 and <= int.MaxValue, $"epoch {state.Epoch} is negative or absurd");
        var epochs = ConfiguredEpochs(state.ConfigJson);
        // At the end of the last epoch the saved position is the start of epoch `epochs`.
        Check(epochs is null || state.Epoch <= epochs, $"epoch {state.Epoch} lies beyond the {epochs} epochs of the config it carries");
        return state;
    }

    // train.epochs of the resolved config a checkpoint carries; null when it has none.
    private static long? ConfiguredEpochs(string? configJson)
    {
        if (string.IsNullOrEmpty(configJson))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(configJson);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("train", out var train) && train.ValueKind == JsonValueKind.Object
                && train.TryGetProperty("epochs", out var epochs) && epochs.TryGetInt64(out var value) ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Refuses, before any run folder is touched, a file --resume cannot continue from (an official .pth, say).</summary>
    public static void CheckResumable(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"checkpoint not found: {path}", path);
        }
        if (IsZip(path))
        {
            throw new InvalidDataException(
                $"{path} is not a VideoSSL checkpoint (it is a PyTorch pickle, as torch.save writes); --resume takes a "
                + "runs/NAME/checkpoints/*.safetensors written by videossl; to start from official weights use --set init=" + path);
        }
    }

    private static bool IsZip(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return stream.Read(magic) == 4 && magic[0] == (byte)'P' && magic[1] == (byte)'K' && magic[2] == 3 && magic[3] == 4;
    }

    /// <summary>
    /// Reads a weight file and strips the first of <paramref name="prefixes"/> that any name starts with,
    /// dropping names without it; with no prefix matching, every tensor is returned as stored.
    /// (A pretraining checkpoint holds `model.encoder.*`, a fine-tuned one `model.*`, a plain file bare names.)
    /// </summary>
    public static Dictionary<string, Tensor> LoadWeights(string path, Device? device, params string[] prefixes) =>
        LoadWeights(path, device, long.MaxValue, prefixes);

    /// <param name="maxElements">No tensor may have more elements (<see cref="Weights.MaxElementsFor"/> of the model it goes into).</param>
    public static Dictionary<string, Tensor> LoadWeights(string path, Device? device, long maxElements, params string[] prefixes)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"checkpoint not found: {path}", path);
        }
        var all = Weights.Load(path, device, maxElements: maxElements);
        var prefix = prefixes.FirstOrDefault(p => all.Keys.Any(k => k.StartsWith(p, StringComparison.Ordinal)));
        if (prefix is null)
        {
            return all;
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in all)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                result[name[prefix.Length..]] = tensor;
            }
            else
            {
                tensor.Dispose();
            }
        }
        return result;
    }
}
