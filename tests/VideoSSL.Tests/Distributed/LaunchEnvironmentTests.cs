using System.Collections;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Tests.Methods;
using VideoSSL.Torch.Distributed;

namespace VideoSSL.Tests.Distributed;

public class LaunchEnvironmentTests
{
    private static Hashtable Env(params (string Key, string Value)[] pairs)
    {
        var env = new Hashtable();
        foreach (var (k, v) in pairs)
        {
            env[k] = v;
        }
        return env;
    }

    [Fact]
    public void No_launcher_variables_means_a_single_process()
    {
        Assert.Null(LaunchEnvironment.Read(Env(("PATH", "/usr/bin"))));
        Assert.Null(LaunchEnvironment.Read(Env(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1"), ("SLURM_JOB_NODELIST", "n1"))));
    }

    [Fact]
    public void Torchrun_variables_are_read_and_its_agent_store_gets_the_worker_prefix()
    {
        var env = Env(("RANK", "3"), ("WORLD_SIZE", "8"), ("LOCAL_RANK", "1"), ("MASTER_ADDR", "node7"), ("MASTER_PORT", "29400"),
            ("TORCHELASTIC_USE_AGENT_STORE", "True"), ("TORCHELASTIC_RESTART_COUNT", "2"), ("VIDEOSSL_DIST_TIMEOUT", "45"));
        var launch = LaunchEnvironment.Read(env)!;
        Assert.Equal((3, 8, 1, "node7", 29400, "torchrun"), (launch.Rank, launch.WorldSize, launch.LocalRank, launch.MasterAddr, launch.MasterPort, launch.Source));
        Assert.True(launch.AgentStore);
        Assert.Equal("/worker/attempt_2", launch.StorePrefix);
        Assert.Equal(TimeSpan.FromSeconds(45), launch.Timeout);
        Assert.Null(launch.Backend);
    }

    [Fact]
    public void Slurm_variables_are_read_with_the_first_node_as_master()
    {
        var env = Env(("SLURM_PROCID", "5"), ("SLURM_NTASKS", "8"), ("SLURM_LOCALID", "1"), ("SLURM_JOB_NODELIST", "gpu[003-004,010],cpu1"), ("VIDEOSSL_DIST_BACKEND", "gloo"));
        var launch = LaunchEnvironment.Read(env)!;
        Assert.Equal((5, 8, 1, "gpu003", LaunchEnvironment.DefaultPort, "slurm"), (launch.Rank, launch.WorldSize, launch.LocalRank, launch.MasterAddr, launch.MasterPort, launch.Source));
        Assert.Equal(Backend.Gloo, launch.Backend);
        Assert.False(launch.AgentStore);
        Assert.Equal("node12", LaunchEnvironment.FirstHost("node12"));
        Assert.Equal("a1", LaunchEnvironment.FirstHost("a[1-4]"));
        // srun torchrun …: torchrun's own variables win.
        env["RANK"] = "0";
        env["WORLD_SIZE"] = "2";
        env["MASTER_ADDR"] = "127.0.0.1";
        env["MASTER_PORT"] = "1234";
        Assert.Equal("torchrun", LaunchEnvironment.Read(env)!.Source);
    }

    [Fact]
    public void Gradient_overlap_and_bucket_size_come_from_the_environment()
    {
        var plain = LaunchEnvironment.Read(Env(("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "h"), ("MASTER_PORT", "1")))!;
        Assert.True(plain.OverlapGradients);
        Assert.Equal(25L << 20, plain.BucketBytes);
        var set = LaunchEnvironment.Read(Env(("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "h"), ("MASTER_PORT", "1"),
            ("VIDEOSSL_DIST_OVERLAP", "0"), ("VIDEOSSL_DIST_BUCKET_MB", "0.5")))!;
        Assert.False(set.OverlapGradients);
        Assert.Equal(1L << 19, set.BucketBytes);
    }

    [Theory]
    [InlineData("RANK=2,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=1", "rank 2 is outside a world of 2")]
    [InlineData("RANK=0,WORLD_SIZE=2,MASTER_PORT=1", "MASTER_ADDR")]
    [InlineData("RANK=x,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=1", "RANK='x'")]
    [InlineData("RANK=0,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=1,VIDEOSSL_DIST_BACKEND=mpi", "VIDEOSSL_DIST_BACKEND='mpi'")]
    [InlineData("RANK=0,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=70000", "MASTER_PORT=70000")]
    [InlineData("RANK=0,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=1,VIDEOSSL_DIST_OVERLAP=yes", "VIDEOSSL_DIST_OVERLAP='yes'")]
    [InlineData("RANK=0,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=1,VIDEOSSL_DIST_BUCKET_MB=0", "VIDEOSSL_DIST_BUCKET_MB='0'")]
    public void Bad_launch_variables_name_the_variable(string pairs, string expected)
    {
        var env = Env([.. pairs.Split(',').Select(p => (p.Split('=')[0], p.Split('=')[1]))]);
        var e = Assert.Throws<ArgumentException>(() => LaunchEnvironment.Read(env));
        Assert.Contains(expected, e.Message);
    }
}

public class ShardingTests
{
    private static ClipLoader Loader(int count, int batch, int rank, int ranks, bool shuffle, int seed = 5)
    {
        var samples = Enumerable.Range(0, count).Select(i => new VideoSample($"v{i}.mp4", 0, $"v{i}")).ToList();
        var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0 });
        return new ClipLoader(dataset, (s, _, index, _) => ClipBatchItem.Create([index], [1], 0),
            new ClipLoaderOptions { BatchSize = batch, Workers = 0, Seed = seed, Shuffle = shuffle, ShardRank = rank, ShardCount = ranks });
    }

    [Fact]
    public void Shards_follow_DistributedSampler_padding_with_the_head_of_the_order()
    {
        // list(DistributedSampler(range(10), num_replicas=4, rank=r, shuffle=False)): [0,4,8] [1,5,9] [2,6,0] [3,7,1]
        int[][] expected = [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]];
        for (var r = 0; r < 4; r++)
        {
            Assert.Equal(expected[r], Loader(10, 1, r, 4, shuffle: false).ShardOrder(0));
        }
        Assert.Equal(3, Loader(10, 1, 0, 4, shuffle: false).ShardLength);
    }

    [Fact]
    public void Two_ranks_with_batch_B_see_the_videos_of_one_process_with_batch_2B()
    {
        var one = Loader(22, 4, 0, 1, shuffle: true);
        var ranks = new[] { Loader(22, 2, 0, 2, shuffle: true), Loader(22, 2, 1, 2, shuffle: true) };
        for (var epoch = 0; epoch < 2; epoch++)
        {
            var global = one.Epoch(epoch).Select(b => b.SampleIndices.ToArray()).ToList();
            var perRank = ranks.Select(l => l.Epoch(epoch).Select(b => b.SampleIndices.ToArray()).ToList()).ToArray();
            Assert.Equal(global.Count, perRank[0].Count);
            for (var b = 0; b < global.Count; b++)
            {
                // Round-robin: rank r's item j is item r + 2j of the global batch, which is what the masks assume.
                int[] interleaved = [.. Enumerable.Range(0, 4).Select(i => perRank[i % 2][b][i / 2])];
                Assert.Equal(global[b], interleaved);
            }
            Assert.NotEqual(ranks[0].ShardOrder(epoch), ranks[1].ShardOrder(epoch));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Loader(4, 1, 2, 2, shuffle: false));
    }

    [Fact]
    public void Rank_masks_are_the_rows_of_the_global_batch_masks()
    {
        using var model = new VideoMAEPretrainModel(VideoMAETests.TinyConfig(v2: true));
        var (globalEnc, globalDec) = model.NewMasks(StepRandom.For(3, 7), 8);
        using (globalEnc)
        using (globalDec)
        {
            for (var views = 1; views <= 2; views++)
            {
                var rankRows = Enumerable.Range(0, 2).Select(r =>
                {
                    var (e, d) = model.NewMasks(StepRandom.For(3, 7), 8 / 2, null, new BatchShard(r, 2, views));
                    using (e)
                    using (d)
                    {
                        return (Enc: e.Host.ToArray(), Dec: d!.Host.ToArray());
                    }
                }).ToArray();
                for (var g = 0; g < 8; g++)
                {
                    var rank = (g / views) % 2;
                    var local = ((g / views) / 2 * views) + (g % views);
                    Assert.Equal(globalEnc.Host[g], rankRows[rank].Enc[local]);
                    Assert.Equal(globalDec!.Host[g], rankRows[rank].Dec[local]);
                }
            }
        }
        Assert.Equal(0L, Seeds.ForRank(0, 0));
        Assert.NotEqual(Seeds.ForRank(0, 1), Seeds.ForRank(0, 2));
    }
}
