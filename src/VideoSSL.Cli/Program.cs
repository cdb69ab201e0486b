using System.CommandLine;

namespace VideoSSL.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("VideoSSL: self-supervised video pretraining and evaluation on libtorch")
        {
            EnvCommand.Create(),

        };
        foreach (var command in ExtraCommands)
        {
            root.Subcommands.Add(command());
        }
        return root.Parse(args).Invoke();
    }

    // Commands registered by other files of the CLI (pretrain, probe, data, ...), so Program stays short.
    internal static List<Func<Command>> ExtraCommands { get; } = [];
}
