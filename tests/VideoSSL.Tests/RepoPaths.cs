namespace VideoSSL.Tests;

/// <summary>The checkout the tests run from: the folder above the test binaries that holds VideoSSL.sln.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VideoSSL.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no VideoSSL.sln above {AppContext.BaseDirectory}");
    }
}
