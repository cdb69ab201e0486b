namespace VideoSSL.Data.Loading;

/// <summary>
/// Derives independent RNG seeds from tuples such as (seed, epoch, sample index), so what a sample gets
/// depends on those numbers only, never on which thread drew it or when.
/// </summary>
public static class Seeds
{
    public static int Derive(long a, long b = 0, long c = 0, long d = 0)
    {
        ulong h = Mix(0x5EED5EED5EED5EEDUL ^ (ulong)a);
        h = Mix(h ^ (ulong)b);
        h = Mix(h ^ (ulong)c);
        h = Mix(h ^ (ulong)d);
        return (int)(h & int.MaxValue);
    }

    /// <summary>
    /// The seed of process-wide generators (libtorch's: drop path, init) on data-parallel rank <paramref name="rank"/>.
    /// The official recipes seed `args.seed + utils.get_rank()` (VideoMAE run_mae_pretraining.py) so ranks draw
    /// differently; here through the same mixing, and rank 0 keeps the seed so one process equals rank 0 of a job.
    /// </summary>
    public static long ForRank(long seed, int rank) => rank == 0 ? seed : Derive(seed, rank, -2);

    /// <summary>
    /// The seed of the <paramref name="repeat"/>-th repetition of a run seeded <paramref name="seed"/> (a probe trained
    /// again on the same features); repetition 0 keeps the seed, so one repetition equals the unrepeated run.
    /// </summary>
    public static long ForRepeat(long seed, int repeat) => repeat == 0 ? seed : Derive(seed, repeat, -3);

    // SplitMix64 finaliser: every input bit affects every output bit.
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
