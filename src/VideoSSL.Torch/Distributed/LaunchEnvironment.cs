using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;

namespace VideoSSL.Torch.Distributed;

/// <summary>
/// Where this process sits in a distributed job, read the way launchers announce it: torchrun (RANK, WORLD_SIZE,
/// LOCAL_RANK, MASTER_ADDR, MASTER_PORT, as torch.distributed's env:// init reads them) or SLURM (SLURM_PROCID,
/// SLURM_NTASKS, SLURM_LOCALID, the first host of SLURM_JOB_NODELIST as the master). torchrun's variables win
/// when both are present (`srun torchrun …`). Null from <see cref="Read"/> means a plain single process.
/// </summary>
public sealed record LaunchEnvironment(int Rank, int WorldSize, int LocalRank, string MasterAddr, int MasterPort, string Source)
{
    /// <summary>torch.distributed's default port (TCPStoreOptions::kDefaultPort).</summary>
    public const int DefaultPort = 29500;

    /// <summary>torch.distributed's default process-group timeout (kProcessGroupDefaultTimeout, 30 min).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    /// <summary>
    /// torchrun's agent already hosts the store at MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True): every
    /// rank connects as a client under the key prefix /worker/attempt_N (torch/distributed/rendezvous.py).
    /// </summary>
    public bool AgentStore { get; init; }

    public string? StorePrefix { get; init; }

    /// <summary>Collective and rendezvous timeout: VIDEOSSL_DIST_TIMEOUT (seconds), else 30 min as torch.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>VIDEOSSL_DIST_BACKEND (gloo|nccl), else null: NCCL for CUDA training, Gloo for CPU.</summary>
    public Backend? Backend { get; init; }

    /// <summary>
    /// VIDEOSSL_DIST_OVERLAP (1|0, default 1): all-reduce gradient buckets while backward runs, as DDP; 0 reduces them
    /// all after backward (same result; for A/B measurements).
    /// </summary>
    public bool OverlapGradients { get; init; } = true;

    /// <summary>VIDEOSSL_DIST_BUCKET_MB: the gradient bucket cap in MiB (DDP's bucket_cap_mb, default 25).</summary>
    public long BucketBytes { get; init; } = 25L << 20;

    public static LaunchEnvironment? Read() => Read(Environment.GetEnvironmentVariables());

    public static LaunchEnvironment? Read(IDictionary env)
    {
        string? Get(string name) => env[name] is string s && s.Length > 0 ? s : null;
        int Int(string name, string value) => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v
            : throw new ArgumentException($"environment variable {name}='{value}' is not a non-negative integer");

        LaunchEnvironment? launch = null;
        if (Get("RANK") is { } rank && Get("WORLD_SIZE") is { } world)
        {
            var addr = Get("MASTER_ADDR") ?? throw new ArgumentException("RANK and WORLD_SIZE are set but MASTER_ADDR is not (launch with torchrun, or set MASTER_ADDR and MASTER_PORT)");
            var port = Get("MASTER_PORT") ?? throw new ArgumentException("RANK and WORLD_SIZE are set but MASTER_PORT is not (launch with torchrun, or set MASTER_ADDR and MASTER_PORT)");
            var agent = string.Equals(Get("TORCHELASTIC_USE_AGENT_STORE"), "true", StringComparison.OrdinalIgnoreCase);
            launch = new LaunchEnvironment(Int("RANK", rank), Int("WORLD_SIZE", world), Get("LOCAL_RANK") is { } l ? Int("LOCAL_RANK", l) : 0, addr, Int("MASTER_PORT", port), "torchrun")
            {
                AgentStore = agent,
                StorePrefix = agent ? $"/worker/attempt_{Get("TORCHELASTIC_RESTART_COUNT") ?? "0"}" : null,
            };
        }
        else if (Get("SLURM_PROCID") is { } procId && Get("SLURM_NTASKS") is { } tasks && Int("SLURM_NTASKS", tasks) > 1)
        {
            var nodes = Get("SLURM_JOB_NODELIST") ?? Get("SLURM_NODELIST") ?? throw new ArgumentException("SLURM_NTASKS > 1 but SLURM_JOB_NODELIST is not set");
            launch = new LaunchEnvironment(Int("SLURM_PROCID", procId), Int("SLURM_NTASKS", tasks), Get("SLURM_LOCALID") is { } l ? Int("SLURM_LOCALID", l) : 0,
                Get("MASTER_ADDR") ?? FirstHost(nodes), Get("MASTER_PORT") is { } p ? Int("MASTER_PORT", p) : DefaultPort, "slurm");
        }
        if (launch is null)
        {
            return null;
        }
        if (launch.WorldSize < 1 || launch.Rank >= launch.WorldSize)
        {
            throw new ArgumentException($"{launch.Source}: rank {launch.Rank} is outside a world of {launch.WorldSize}");
        }
        if (launch.MasterPort is < 1 or > 65535)
        {
            throw new ArgumentException($"MASTER_PORT={launch.MasterPort} is not a TCP port");
        }
        if (Get("VIDEOSSL_DIST_TIMEOUT") is { } t)
        {
            launch = launch with
            {
                Timeout = double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
                    ? TimeSpan.FromSeconds(seconds)
                    : throw new ArgumentException($"VIDEOSSL_DIST_TIMEOUT='{t}' is not a positive number of seconds"),
            };
        }
        if (Get("VIDEOSSL_DIST_BACKEND") is { } b)
        {
            launch = launch with
            {
                Backend = b.ToLowerInvariant() switch
                {
                    "gloo" => Distributed.Backend.Gloo,
                    "nccl" => Distributed.Backend.Nccl,
                    _ => throw new ArgumentException($"VIDEOSSL_DIST_BACKEND='{b}' is not gloo or nccl"),
                },
            };
        }
        if (Get("VIDEOSSL_DIST_OVERLAP") is { } o)
        {
            launch = launch with
            {
                OverlapGradients = o switch
                {
                    "1" => true,
                    "0" => false,
                    _ => throw new ArgumentException($"VIDEOSSL_DIST_OVERLAP='{o}' is not 1 (overlap the gradient all-reduce with backward) or 0 (after it)"),
                },
            };
        }
        if (Get("VIDEOSSL_DIST_BUCKET_MB") is { } mb)
        {
            launch = launch with
            {
                BucketBytes = double.TryParse(mb, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m > 0 && m < 1e6
                    ? Math.Max(1, (long)(m * (1 << 20)))
                    : throw new ArgumentException($"VIDEOSSL_DIST_BUCKET_MB='{mb}' is not a positive number of MiB"),
            };
        }
        return launch;
    }

    /// <summary>The first host of a SLURM node list: "gpu[003-004,010],cpu1" → "gpu003" (what `scontrol show hostnames` lists first).</summary>
    public static string FirstHost(string nodeList)
    {
        var m = Regex.Match(nodeList.Trim(), @"^([^,\[]+)(?:\[([^\]]+)\])?");
        if (!m.Success)
        {
            throw new ArgumentException($"cannot read the SLURM node list '{nodeList}'");
        }
        if (!m.Groups[2].Success)
        {
            return m.Groups[1].Value;
        }
        var first = m.Groups[2].Value.Split(',')[0].Split('-')[0];  // zero padding is kept: gpu[003-004] → gpu003
        return m.Groups[1].Value + first;
    }
}
