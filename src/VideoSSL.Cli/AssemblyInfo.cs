using System.Runtime.CompilerServices;

// The tests call the commands' underlying functions (e.g. DataCommand.WriteFrames) rather than a process.
[assembly: InternalsVisibleTo("VideoSSL.Tests")]
