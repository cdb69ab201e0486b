namespace VideoSSL.Tests.Torch;

/// <summary>
/// Tests that read process-wide libtorch state run alone: the live-tensor counter (any test beside them
/// creates tensors) and the global RNG (exact-resume tests seed it and must be the only ones drawing).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LiveTensorCollection
{
    public const string Name = "live tensor count";
}
