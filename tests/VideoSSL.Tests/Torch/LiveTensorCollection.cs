namespace VideoSSL.Tests.Torch;

/// <summary>
/// Tests that read the process-wide live-tensor counter run alone: any test running beside them
/// creates tensors and would move the count.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LiveTensorCollection
{
    public const string Name = "live tensor count";
}
