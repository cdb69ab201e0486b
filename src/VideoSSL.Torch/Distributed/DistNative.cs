using System.Runtime.InteropServices;
using VideoSSL.Torch.Native;

namespace VideoSSL.Torch.Distributed;

/// <summary>The C ABI of native/torch/dist.cpp (c10d). Keep the signatures in step with that file.</summary>
internal static unsafe partial class DistNative
{
    static DistNative()
    {
        NativeMethods.EnsureLoaded();  // installs the resolver that finds the shim
    }

    [LibraryImport(NativeMethods.Library)]
    internal static partial IntPtr vs_dist_last_error();

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_backends();

    [LibraryImport(NativeMethods.Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vs_dist_store_tcp(string host, int port, int isServer, int world, long timeoutMs, IntPtr* store);

    [LibraryImport(NativeMethods.Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vs_dist_store_file(string path, int world, long timeoutMs, IntPtr* store);

    [LibraryImport(NativeMethods.Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vs_dist_store_prefix(IntPtr store, string prefix, IntPtr* prefixed);

    [LibraryImport(NativeMethods.Library)]
    internal static partial void vs_dist_store_free(IntPtr store);

    [LibraryImport(NativeMethods.Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vs_dist_store_add(IntPtr store, string key, long delta, long* result);

    [LibraryImport(NativeMethods.Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vs_dist_store_set(IntPtr store, string key, byte* value, long length);

    [LibraryImport(NativeMethods.Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vs_dist_store_get(IntPtr store, string key, byte* buffer, long capacity, long* length);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_group_gloo(IntPtr store, int rank, int size, long timeoutMs, IntPtr* group);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_group_nccl(IntPtr store, int rank, int size, long timeoutMs, IntPtr* group);

    [LibraryImport(NativeMethods.Library)]
    internal static partial void vs_dist_group_free(IntPtr group);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_broadcast(IntPtr group, IntPtr* tensors, int n, int root, long bucketBytes);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_allreduce(IntPtr group, IntPtr* tensors, int n, double scale, long bucketBytes);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_allgather(IntPtr group, IntPtr input, IntPtr* output);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_barrier(IntPtr group);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_reducer_new(IntPtr group, IntPtr* parameters, int n, long bucketBytes, long firstBucketBytes, IntPtr* reducer);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_reducer_prepare(IntPtr reducer);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_reducer_finalize(IntPtr reducer, double scale);

    [LibraryImport(NativeMethods.Library)]
    internal static partial int vs_dist_reducer_stats(IntPtr reducer, long* stats);

    [LibraryImport(NativeMethods.Library)]
    internal static partial void vs_dist_reducer_free(IntPtr reducer);

    internal static void Check(int status)
    {
        if (status != 0)
        {
            throw new TorchException(Marshal.PtrToStringUTF8(vs_dist_last_error()) ?? "unknown c10d error");
        }
    }
}
