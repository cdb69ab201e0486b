using VideoSSL.Torch.NN;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Methods;

/// <summary>Reading one entry of an official checkpoint (a dict of state_dicts) into a module.</summary>
public static class OfficialCheckpoint
{
    /// <summary>
    /// Loads entry <paramref name="key"/> of <paramref name="path"/> (through the restricted unpickler, without
    /// <c>module.</c> and <paramref name="stripPrefix"/>) into <paramref name="target"/>, names mapped by
    /// <paramref name="rename"/>; every entry must match exactly, and a mismatch names the file and the entry.
    /// </summary>
    public static void LoadEntry(string path, string key, Module target, string? stripPrefix, Func<string, string>? rename = null)
    {
        var device = target.Parameters().Select(p => p.Value).Concat(target.NamedBuffers().Select(b => b.Value)).First().Device;
        var state = Weights.Load(path, device, key, stripPrefix: stripPrefix);
        try
        {
            try
            {
                target.LoadStateDict(rename is null ? state : state.ToDictionary(kv => rename(kv.Key), kv => kv.Value));
            }
            catch (StateDictMismatchException e)
            {
                throw new StateDictMismatchException(e.Report, $"{path} [{key}]");
            }
        }
        finally
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }
    }
}
