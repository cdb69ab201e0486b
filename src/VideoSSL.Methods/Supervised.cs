using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Methods;

// Inside VideoSSL.*, "Torch" names the namespace; this alias makes it name the functional API.
using Torch = VideoSSL.Torch.Torch;

// Supervised pretraining: the encoder learns the pool's own labels, through the pretraining loop, checkpoints and
// benchmark that the self-supervised methods use. It is the yardstick those methods are read against: what the same
// encoder, data, steps and minutes reach when the labels are given (the "supervised pretraining" row of the VideoMAE,
// V-JEPA and SVT papers). Its head is a linear layer on the mean of the encoder's normalised tokens, the feature the
// linear probe reads.

/// <summary>The <c>supervised</c> config section.</summary>
public sealed record SupervisedSettings
{
    /// <summary>Classes of the training labels (the procedural pool: data.procedural.classes); every label must lie in [0, num_classes).</summary>
    public int NumClasses { get; init; }

    /// <summary>Label smoothing of the cross-entropy (0 = none).</summary>
    public double LabelSmoothing { get; init; }
}

/// <summary>The encoder (<c>encoder.*</c>, as the other methods save theirs) and its linear <c>head</c>.</summary>
public sealed class SupervisedModel : Module
{
    public SupervisedModel(VideoViTConfig encoder, int numClasses)
    {
        if (numClasses <= 0)
        {
            throw new ArgumentException($"supervised.num_classes must be set to the number of label classes, got {numClasses}");
        }
        Encoder = Child("encoder", ModelRegistry.CreateBackbone(encoder));
        Head = Child("head", new Linear(encoder.EmbedDim, numClasses));
        ModelInit.TruncNormalLinears(Head, 0.02);
    }

    public VideoEncoder Encoder { get; }

    public Linear Head { get; }

    /// <summary>Class logits [B, classes] from the clip feature [B, D]: mean-pooled normalised tokens (a divided encoder's CLS token).</summary>
    public Tensor Classify(Tensor clips)
    {
        using var scope = Torch.NewScope();
        return scope.MoveToOuter(Head.Forward(Encoder.ClipFeature(clips)));
    }
}

public sealed class SupervisedTask(VideoViTConfig encoder, SupervisedSettings settings) : IPretrainTask
{
    /// <summary>The method's registry name; the benchmark marks its row as the labeled yardstick.</summary>
    public const string MethodName = "supervised";

    private readonly SupervisedModel _model = new(encoder, settings.NumClasses);

    public Module Model => _model;

    public SupervisedModel Network => _model;

    public bool NeedsLabels => true;

    public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay) => Methods.ParamGroups.WeightDecaySplit(_model, weightDecay);

    public PretrainOutput Loss(PretrainBatch batch)
    {
        var rows = batch.Labels ?? throw new InvalidOperationException("supervised: the batch carries no labels");
        foreach (var label in rows)
        {
            if (label < 0 || label >= settings.NumClasses)
            {
                throw new InvalidDataException($"supervised: a training label is {label}, outside [0, {settings.NumClasses}) (supervised.num_classes); pretrain on labeled data");
            }
        }
        var clips = batch.Clips;
        // Freed with the loop's step scope, as the batch's clips are.
        var host = Tensor.From(rows.Select(l => (long)l).ToArray(), rows.Length);
        var labels = clips.Device.IsCuda ? host.To(clips.Device) : host;
        var logits = _model.Classify(clips).Float();
        var loss = Torch.CrossEntropy(logits, labels, settings.LabelSmoothing);
        using var noGrad = Torch.NoGrad();
        var top1 = logits.ArgMax(1).Eq(labels).Float().Mean();
        return new PretrainOutput(loss, new Dictionary<string, Tensor> { ["train/acc1"] = top1 });
    }

    public void Dispose() => _model.Dispose();
}
