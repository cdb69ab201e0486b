using System.Reflection;
using System.Runtime.InteropServices;

namespace VideoSSL.Torch.Native;

/// <summary>The C ABI of native/torch/shim.cpp. Keep the signatures in step with that file.</summary>
internal static unsafe partial class NativeMethods
{
    internal const string Library = "videossl_torch";

    static NativeMethods()
    {
        NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);
    }

    /// <summary>Runs the static constructor (and so installs the resolver) before the first call.</summary>
    internal static void EnsureLoaded()
    {
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library)
        {
            return IntPtr.Zero;
        }
        var file = "libvideossl_torch.so";
        var explicitPath = Environment.GetEnvironmentVariable("VIDEOSSL_TORCH_SHIM");
        var candidates = new List<string>();
        if (!string.IsNullOrEmpty(explicitPath))
        {
            candidates.Add(explicitPath);
        }
        candidates.Add(Path.Combine(AppContext.BaseDirectory, file));
        // Where `dotnet build` built it (recorded by native/Native.targets): no environment setup needed.
        var buildDir = assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "VideoSSL.NativeDir.torch")?.Value;
        if (!string.IsNullOrEmpty(buildDir))
        {
            candidates.Add(Path.Combine(buildDir, file));
        }
        var errors = new List<string>();
        foreach (var path in candidates)
        {
            if (!File.Exists(path))
            {
                continue;
            }
            try
            {
                return NativeLibrary.Load(path);
            }
            catch (DllNotFoundException e)
            {
                errors.Add($"{path}: {e.Message}");
            }
        }
        throw new DllNotFoundException(
            $"VideoSSL's libtorch shim ({file}) could not be loaded. Looked in: {string.Join(", ", candidates)}. "
            + (errors.Count > 0 ? $"Errors: {string.Join("; ", errors)}. " : string.Empty)
            + "Build it with `dotnet build` (which runs native/build.sh torch) or set VIDEOSSL_TORCH_SHIM to its path.");
    }

    [LibraryImport(Library)]
    internal static partial IntPtr vs_last_error();

    [LibraryImport(Library)]
    internal static partial IntPtr vs_torch_version();

    [LibraryImport(Library)]
    internal static partial int vs_cuda_build();

    [LibraryImport(Library)]
    internal static partial int vs_cuda_device_count();

    [LibraryImport(Library)]
    internal static partial long vs_show_config(byte* buffer, long capacity);

    [LibraryImport(Library)]
    internal static partial int vs_get_num_threads();

    [LibraryImport(Library)]
    internal static partial int vs_set_num_threads(int n);

    [LibraryImport(Library)]
    internal static partial int vs_manual_seed(ulong seed);

    [LibraryImport(Library)]
    internal static partial int vs_set_deterministic(int deterministic);

    [LibraryImport(Library)]
    internal static partial int vs_set_allow_tf32(int allow);

    [LibraryImport(Library)]
    internal static partial int vs_set_cudnn_attention(int enable, int* applied);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int vs_op_find(string name, string overload);

    [LibraryImport(Library)]
    internal static partial long vs_op_schema(int op, byte* buffer, long capacity);

    [LibraryImport(Library)]
    internal static partial int vs_op_call(int op, OpArg* args, int nargs, OpArg* outs, int capacity, int* nouts);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvSuppressGCTransition)])]
    internal static partial void vs_tensor_free(IntPtr tensor);

    [LibraryImport(Library)]
    internal static partial IntPtr vs_tensor_share(IntPtr tensor);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvSuppressGCTransition)])]
    internal static partial int vs_tensor_meta_get(IntPtr tensor, TensorMeta* meta, long* sizes, long* strides, int capacity);

    [LibraryImport(Library)]
    internal static partial int vs_tensor_set_requires_grad(IntPtr tensor, int requiresGrad);

    [LibraryImport(Library)]
    internal static partial int vs_tensor_grad(IntPtr tensor, IntPtr* grad);

    [LibraryImport(Library)]
    internal static partial int vs_tensor_set_grad(IntPtr tensor, IntPtr grad);

    [LibraryImport(Library)]
    internal static partial int vs_tensor_item(IntPtr tensor, double* asDouble, long* asLong);

    [LibraryImport(Library)]
    internal static partial int vs_tensor_from_host(void* data, long bytes, long* sizes, int ndim, sbyte dtype, sbyte deviceType, short deviceIndex, IntPtr* result);

    [LibraryImport(Library)]
    internal static partial int vs_tensor_to_host(IntPtr tensor, void* data, long bytes);

    [LibraryImport(Library)]
    internal static partial int vs_matmul(IntPtr a, IntPtr b, IntPtr* result);

    [LibraryImport(Library)]
    internal static partial int vs_add(IntPtr a, IntPtr b, double alpha, IntPtr* result);

    [LibraryImport(Library)]
    internal static partial int vs_linear(IntPtr x, IntPtr weight, IntPtr bias, IntPtr* result);

    [LibraryImport(Library)]
    internal static partial int vs_backward(IntPtr loss, IntPtr grad, int retainGraph);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvSuppressGCTransition)])]
    internal static partial int vs_grad_enabled();

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvSuppressGCTransition)])]
    internal static partial void vs_set_grad_enabled(int enabled);

    [LibraryImport(Library)]
    internal static partial int vs_autocast_enter(sbyte deviceType, sbyte dtype, int* previousEnabled, sbyte* previousDtype);

    [LibraryImport(Library)]
    internal static partial int vs_autocast_exit(sbyte deviceType, int previousEnabled, sbyte previousDtype);

    [LibraryImport(Library)]
    internal static partial int vs_rng_get_state(sbyte deviceType, short deviceIndex, IntPtr* state);

    [LibraryImport(Library)]
    internal static partial int vs_rng_set_state(sbyte deviceType, short deviceIndex, IntPtr state);

    [LibraryImport(Library)]
    internal static partial int vs_cuda_synchronize(short deviceIndex);

    [LibraryImport(Library)]
    internal static partial int vs_cuda_empty_cache();

    [LibraryImport(Library)]
    internal static partial int vs_cuda_memory_stats(short deviceIndex, long* stats, int resetPeak);

    [LibraryImport(Library)]
    internal static partial int vs_allocator_configured();

    [LibraryImport(Library)]
    internal static partial int vs_malloc_trim(int* released);

    [LibraryImport(Library)]
    internal static partial int vs_blas_threads_pinned();

    [LibraryImport(Library)]
    internal static partial int vs_zero_grads(IntPtr* parameters, int n, int setToNone);

    [LibraryImport(Library)]
    internal static partial int vs_profiler_start(int byCaller);

    [LibraryImport(Library)]
    internal static partial long vs_profiler_stop(byte* buffer, long capacity);

    /// <summary>Throws the per-thread libtorch error when a shim call reported failure.</summary>
    internal static void Check(int status)
    {
        if (status != 0)
        {
            throw new TorchException(LastError());
        }
    }

    internal static string LastError() => Marshal.PtrToStringUTF8(vs_last_error()) ?? "unknown libtorch error";
}

[StructLayout(LayoutKind.Sequential)]
internal struct TensorMeta
{
    public int Ndim;
    public sbyte Dtype;
    public sbyte DeviceType;
    public short DeviceIndex;
    public sbyte RequiresGrad;
    public sbyte IsLeaf;
    public sbyte Defined;
    public sbyte Pad;
    public int Pad2;
    public long Numel;
}
