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
    /// At the end of an epoch the position points at the start of the next one, so a resume does not replay it.
    /// </summary>
    public static void SaveProgress(RunDirectory run, Module model, AdamW optimizer, long step, int epoch, int batchInEpoch,
        bool epochDone, double lastLoss, string configJson, int keepEverySteps)
    {
        // The step that breaks the weights can still report a finite loss; writing them would overwrite the last good state.
        if (!ParametersFinite(model))
        {
            throw new TrainingDivergedException(
                $"the weights are no longer finite after step {step} (epoch {epoch}, batch {batchInEpoch}); stopping without writing them. {LastGood(run)} Lower train.base_lr or set train.clip_grad.");
        }
        var position = epochDone
            ? new TrainerState(step, epoch + 1, 0, optimizer.StepCount, lastLoss, configJson)
            : new TrainerState(step, epoch, batchInEpoch, optimizer.StepCount, lastLoss, configJson);
        Save(run.LastCheckpoint, model, optimizer, position);
        if (keepEverySteps > 0 && step % keepEverySteps == 0)
        {
            File.Copy(run.LastCheckpoint, Path.Combine(run.CheckpointDir, $"checkpoint-{step:D7}.safetensors"), overwrite: true);
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
        var metadata = Weights.ReadMetadata(path);
        if (!metadata.TryGetValue("trainer_state", out var stateJson))
        {
            throw new InvalidDataException($"{path} is not a VideoSSL training checkpoint (no trainer_state metadata); load plain weights with --init instead");
        }
        return JsonSerializer.Deserialize<TrainerState>(stateJson) ?? throw new InvalidDataException($"{path}: unreadable trainer_state");
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

    /// <summary>
    /// Reads a weight file and strips the first of <paramref name="prefixes"/> that any name starts with,
    /// dropping names without it; with no prefix matching, every tensor is returned as stored.
    /// (A pretraining checkpoint holds `model.encoder.*`, a fine-tuned one `model.*`, a plain file bare names.)
    /// </summary>
    public static Dictionary<string, Tensor> LoadWeights(string path, Device? device, params string[] prefixes)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"checkpoint not found: {path}", path);
        }
        var all = Weights.Load(path, device);
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
