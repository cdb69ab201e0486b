using System.Text;

namespace VideoSSL.Torch.Distributed;

/// <summary>
/// A c10d key-value store through which ranks find each other: <see cref="Tcp"/> (rank 0 or the launcher hosts
/// it) or <see cref="File"/> (a shared file, for one node). Thread-safe.
/// </summary>
public sealed unsafe class Store : IDisposable
{
    private IntPtr _handle;

    private Store(IntPtr handle) => _handle = handle;

    internal IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(Store));

    /// <param name="worldSize">Ranks that will connect; the server waits for all of them (0: do not wait).</param>
    public static Store Tcp(string host, int port, bool isServer, int worldSize, TimeSpan timeout)
    {
        IntPtr h;
        DistNative.Check(DistNative.vs_dist_store_tcp(host, port, isServer ? 1 : 0, worldSize, (long)timeout.TotalMilliseconds, &h));
        return new Store(h);
    }

    public static Store File(string path, int worldSize, TimeSpan timeout)
    {
        IntPtr h;
        DistNative.Check(DistNative.vs_dist_store_file(path, worldSize, (long)timeout.TotalMilliseconds, &h));
        return new Store(h);
    }

    /// <summary>A view of this store whose keys all start with <paramref name="prefix"/>/ (c10d's PrefixStore).</summary>
    public Store WithPrefix(string prefix)
    {
        IntPtr h;
        DistNative.Check(DistNative.vs_dist_store_prefix(Handle, prefix, &h));
        return new Store(h);
    }

    /// <summary>Atomically adds to a counter (created at 0) and returns the new value; delta 0 reads it.</summary>
    public long Add(string key, long delta)
    {
        long result;
        DistNative.Check(DistNative.vs_dist_store_add(Handle, key, delta, &result));
        return result;
    }

    public void Set(string key, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        fixed (byte* p = bytes)
        {
            DistNative.Check(DistNative.vs_dist_store_set(Handle, key, p, bytes.Length));
        }
    }

    /// <summary>Waits (up to the store's timeout) for the key and returns its value.</summary>
    public string Get(string key)
    {
        var buffer = new byte[256];
        while (true)
        {
            long length;
            fixed (byte* p = buffer)
            {
                DistNative.Check(DistNative.vs_dist_store_get(Handle, key, p, buffer.Length, &length));
            }
            if (length <= buffer.Length)
            {
                return Encoding.UTF8.GetString(buffer, 0, (int)length);
            }
            buffer = new byte[length];
        }
    }

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (h != IntPtr.Zero)
        {
            DistNative.vs_dist_store_free(h);
        }
    }
}
