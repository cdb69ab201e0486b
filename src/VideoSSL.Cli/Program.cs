using System.CommandLine;

namespace VideoSSL.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        MallocTcache.ReexecIfNeeded();
        var root = new RootCommand("VideoSSL: self-supervised video pretraining and evaluation on libtorch")
        {
            EnvCommand.Create(),
            SelftestCommand.Create(),
            BenchCommand.Create(),
            DataCommand.Create(),
            PretrainCommand.Create(),
            BenchmarkCommand.Create(),
            RunPlotting.CreatePlotCommand(),
            RunPlotting.CreateReportCommand(),
            EvaluationCommands.CreateProbe(),
            EvaluationCommands.CreateFinetune(),
            EvaluationCommands.CreateEval(),
            ConfigCommand.Create(),
            DistributedCommands.CreateLaunch(),
            DistributedCommands.CreateSelfTest(),
        };
        return root.Parse(args).Invoke();
    }
}
