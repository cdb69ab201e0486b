// VideoSSL's C ABI over libtorch.
//
// Most ops go through ONE generic entry point, vs_op_call, which runs any ATen operator through the c10
// dispatcher (autograd and autocast included) with missing arguments filled from the operator's schema.
// That keeps the shim small and lets the same managed code run on libtorch 1.13 and 2.x, whose schemas
// drift. Hand-written exports exist only where the dispatcher cannot help: tensor lifetime and metadata,
// host copies, autograd, thread-local modes (grad, autocast), RNG state and CUDA memory statistics.
//
// Every export catches every exception and returns a status; the message is kept per thread and read
// with vs_last_error. Handles are heap-allocated at::Tensor objects owned by the caller.

#include "guarded.hpp"
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#ifdef VS_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <dlfcn.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#define VS_EXPORT extern "C" __attribute__((visibility("default")))
#define VS_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace {

thread_local std::string last_error;

template <typename F>
int guarded(F&& body) {
  return videossl::guarded(last_error, std::forward<F>(body));
}

at::Tensor* wrap(at::Tensor t) { return new at::Tensor(std::move(t)); }

struct CachedOp {
  c10::OperatorHandle handle;
  std::vector<c10::optional<c10::IValue>> defaults;
  std::string name;
};

// Operators looked up so far. Indices are handed to managed code and cached there, so entries are never
// removed; a fixed array with an atomic count lets vs_op_call read without taking a lock.
constexpr int32_t max_ops = 8192;
std::mutex ops_mutex;  // serialises lookups only
CachedOp* ops[max_ops];
std::atomic<int32_t> op_count{0};

const CachedOp& op_at(int32_t index) {
  if (index < 0 || index >= op_count.load(std::memory_order_acquire)) {
    throw std::out_of_range("unknown operator index " + std::to_string(index));
  }
  return *ops[index];
}

}  // namespace

// Argument encoding shared with src/VideoSSL.Torch/Native/OpArg.cs (32 bytes, blittable).
struct vs_arg {
  int32_t kind;
  int32_t count;
  int64_t i;
  double d;
  void* p;
};

enum vs_kind : int32_t {
  VS_DEFAULT = 0,  // take the schema's default value
  VS_NONE = 1,
  VS_TENSOR = 2,  // p: at::Tensor* (null = None)
  VS_INT = 3,
  VS_DOUBLE = 4,
  VS_BOOL = 5,
  VS_INT_LIST = 6,     // p: int64_t[count]
  VS_DOUBLE_LIST = 7,  // p: double[count]
  VS_TENSOR_LIST = 8,  // p: at::Tensor*[count]
  VS_OPT_TENSOR_LIST = 9,  // p: at::Tensor*[count], null entries = None
  VS_STRING = 10,          // p: const char*
  VS_DEVICE = 11,          // i: device type, count: index
};

namespace {

c10::IValue to_ivalue(const vs_arg& a, const CachedOp& op, size_t position) {
  switch (a.kind) {
    case VS_DEFAULT: {
      if (position >= op.defaults.size() || !op.defaults[position].has_value()) {
        const auto& args = op.handle.schema().arguments();
        std::string arg_name = position < args.size() ? args[position].name() : std::to_string(position);
        throw std::invalid_argument(op.name + ": argument '" + arg_name + "' has no default and was not given");
      }
      return *op.defaults[position];
    }
    case VS_NONE:
      return c10::IValue();
    case VS_TENSOR:
      return a.p ? c10::IValue(*static_cast<at::Tensor*>(a.p)) : c10::IValue();
    case VS_INT:
      return c10::IValue(a.i);
    case VS_DOUBLE:
      return c10::IValue(a.d);
    case VS_BOOL:
      return c10::IValue(a.i != 0);
    case VS_INT_LIST: {
      auto* v = static_cast<const int64_t*>(a.p);
      return c10::IValue(c10::List<int64_t>(std::vector<int64_t>(v, v + a.count)));
    }
    case VS_DOUBLE_LIST: {
      auto* v = static_cast<const double*>(a.p);
      return c10::IValue(c10::List<double>(std::vector<double>(v, v + a.count)));
    }
    case VS_TENSOR_LIST: {
      auto** v = static_cast<at::Tensor**>(a.p);
      c10::List<at::Tensor> list;
      list.reserve(a.count);
      for (int32_t k = 0; k < a.count; ++k) list.push_back(*v[k]);
      return c10::IValue(std::move(list));
    }
    case VS_OPT_TENSOR_LIST: {
      auto** v = static_cast<at::Tensor**>(a.p);
      c10::List<c10::optional<at::Tensor>> list;
      list.reserve(a.count);
      for (int32_t k = 0; k < a.count; ++k) {
        list.push_back(v[k] ? c10::optional<at::Tensor>(*v[k]) : c10::optional<at::Tensor>());
      }
      return c10::IValue(std::move(list));
    }
    case VS_STRING:
      return c10::IValue(std::string(static_cast<const char*>(a.p)));
    case VS_DEVICE:
      return c10::IValue(c10::Device(static_cast<c10::DeviceType>(a.i), static_cast<c10::DeviceIndex>(a.count)));
    default:
      throw std::invalid_argument(op.name + ": unknown argument kind " + std::to_string(a.kind));
  }
}

void push_output(c10::IValue& v, vs_arg* outs, int32_t capacity, int32_t& n, const std::string& name) {
  auto need = [&](int32_t more) {
    if (n + more > capacity) {
      throw std::length_error(name + ": returned more values than the caller expected (" +
                              std::to_string(n + more) + " > " + std::to_string(capacity) + ")");
    }
  };
  if (v.isTensor()) {
    need(1);
    // Moved, not copied: the stack is cleared next, so this saves a refcount increment and decrement.
    outs[n++] = vs_arg{VS_TENSOR, 0, 0, 0.0, wrap(std::move(v).toTensor())};
  } else if (v.isTensorList()) {
    auto list = v.toTensorList();
    need(static_cast<int32_t>(list.size()));
    for (size_t k = 0; k < list.size(); ++k) outs[n++] = vs_arg{VS_TENSOR, 0, 0, 0.0, wrap(list.get(k))};
  } else if (v.isTuple()) {
    for (auto e : v.toTupleRef().elements()) push_output(e, outs, capacity, n, name);
  } else if (v.isInt()) {
    need(1);
    outs[n++] = vs_arg{VS_INT, 0, v.toInt(), 0.0, nullptr};
  } else if (v.isDouble()) {
    need(1);
    outs[n++] = vs_arg{VS_DOUBLE, 0, 0, v.toDouble(), nullptr};
  } else if (v.isBool()) {
    need(1);
    outs[n++] = vs_arg{VS_BOOL, 0, v.toBool() ? 1 : 0, 0.0, nullptr};
  } else if (v.isNone()) {
    need(1);
    outs[n++] = vs_arg{VS_NONE, 0, 0, 0.0, nullptr};
  } else {
    throw std::runtime_error(name + ": unsupported return type " + v.tagKind());
  }
}

#if VS_AT_LEAST(2, 4)
void autocast_set(c10::DeviceType device, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_enabled(device, enabled);
  at::autocast::set_autocast_dtype(device, dtype);
}
bool autocast_enabled(c10::DeviceType device) { return at::autocast::is_autocast_enabled(device); }
at::ScalarType autocast_dtype(c10::DeviceType device) { return at::autocast::get_autocast_dtype(device); }
#else
void autocast_set(c10::DeviceType device, bool enabled, at::ScalarType dtype) {
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}
bool autocast_enabled(c10::DeviceType device) {
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
at::ScalarType autocast_dtype(c10::DeviceType device) {
  return device == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                         : at::autocast::get_autocast_cpu_dtype();
}
#endif

at::Generator default_generator(int32_t device_type, int32_t device_index) {
  if (device_type == static_cast<int32_t>(c10::DeviceType::CPU)) return at::detail::getDefaultCPUGenerator();
  return at::globalContext().defaultGenerator(
      c10::Device(static_cast<c10::DeviceType>(device_type), static_cast<c10::DeviceIndex>(device_index)));
}

}  // namespace

// ---------------------------------------------------------------- errors and runtime information

VS_EXPORT const char* vs_last_error() { return last_error.c_str(); }

VS_EXPORT const char* vs_torch_version() { return TORCH_VERSION; }

VS_EXPORT int vs_cuda_build() {
#ifdef VS_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

VS_EXPORT int vs_cuda_device_count() {
  int n = 0;
  guarded([&] { n = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; });
  return n;
}

// Copies libtorch's build description (compiler, BLAS, oneDNN, CUDA) into buf; returns the full length.
VS_EXPORT int64_t vs_show_config(char* buf, int64_t capacity) {
  std::string config;
  guarded([&] { config = at::show_config(); });
  if (buf && capacity > 0) {
    auto n = std::min<int64_t>(capacity - 1, static_cast<int64_t>(config.size()));
    std::memcpy(buf, config.data(), n);
    buf[n] = 0;
  }
  return static_cast<int64_t>(config.size());
}

VS_EXPORT int vs_get_num_threads() { return at::get_num_threads(); }
VS_EXPORT int vs_set_num_threads(int n) {
  return guarded([&] { at::set_num_threads(n); });
}

VS_EXPORT int vs_manual_seed(uint64_t seed) {
  return guarded([&] { torch::manual_seed(seed); });
}

VS_EXPORT int vs_set_deterministic(int deterministic) {
  return guarded([&] {
    auto& ctx = at::globalContext();
    ctx.setDeterministicAlgorithms(deterministic != 0, false);
    ctx.setBenchmarkCuDNN(deterministic == 0);
  });
}

// TF32 matmuls/convolutions on Ampere+ (what PyTorch users set for speed; off by default for matmul).
VS_EXPORT int vs_set_allow_tf32(int allow) {
  return guarded([&] {
    at::globalContext().setAllowTF32CuBLAS(allow != 0);
    at::globalContext().setAllowTF32CuDNN(allow != 0);
  });
}

// cuDNN's SDPA builds a graph per new (batch, heads, length) and caches it; V-JEPA's context and target lengths
// change every step, so its steps pay that build again and again (bench pretrain --method vjepa2 on an H200:
// 96 forward calls, ~1 ms of host time each). Flash attention has no per-shape plan. applied = 0 where this
// libtorch has no cuDNN attention switch (< 2.3; 1.13 has no SDPA at all).
VS_EXPORT int vs_set_cudnn_attention(int enable, int* applied) {
  return guarded([&] {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
    at::globalContext().setSDPUseCuDNN(enable != 0);
    *applied = 1;
#else
    (void)enable;
    *applied = 0;
#endif
  });
}

// ---------------------------------------------------------------- generic operator calls

// Returns an index for vs_op_call, -1 if this libtorch has no such operator (managed code then falls back),
// -2 on error.
VS_EXPORT int32_t vs_op_find(const char* name, const char* overload) {
  int32_t index = -2;
  guarded([&] {
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload ? overload : ""});
    if (!handle.has_value()) {
      index = -1;
      return;
    }
    auto* op = new CachedOp{*handle, {}, std::string(name) + (overload && *overload ? "." : "") + (overload ? overload : "")};
    for (const auto& arg : handle->schema().arguments()) op->defaults.push_back(arg.default_value());
    std::lock_guard<std::mutex> lock(ops_mutex);
    auto n = op_count.load(std::memory_order_relaxed);
    if (n >= max_ops) throw std::length_error("too many distinct operators");
    ops[n] = op;
    op_count.store(n + 1, std::memory_order_release);
    index = n;
  });
  return index;
}

VS_EXPORT int64_t vs_op_schema(int32_t op, char* buf, int64_t capacity) {
  std::string text;
  guarded([&] {
    std::ostringstream s;
    s << op_at(op).handle.schema();
    text = s.str();
  });
  if (buf && capacity > 0) {
    auto n = std::min<int64_t>(capacity - 1, static_cast<int64_t>(text.size()));
    std::memcpy(buf, text.data(), n);
    buf[n] = 0;
  }
  return static_cast<int64_t>(text.size());
}

// Runs operator `op` with `nargs` positional arguments (the rest from the schema's defaults). Returned
// values are written to outs (tensors as new handles); with outs == null the results are dropped, which is
// what in-place calls want.
VS_EXPORT int vs_op_call(int32_t op, const vs_arg* args, int32_t nargs, vs_arg* outs, int32_t capacity,
                         int32_t* nouts) {
  return guarded([&] {
    const CachedOp* cached = &op_at(op);
    const size_t expected = cached->defaults.size();
    if (static_cast<size_t>(nargs) > expected) {
      throw std::invalid_argument(cached->name + ": " + std::to_string(nargs) + " arguments given, schema takes " +
                                  std::to_string(expected));
    }
    // Reused per thread: one heap allocation less per call. Cleared on every path out.
    thread_local torch::jit::Stack stack;
    stack.clear();
    struct Clear {
      ~Clear() { stack.clear(); }
    } clear_on_exit;
    for (size_t k = 0; k < expected; ++k) {
      if (k < static_cast<size_t>(nargs)) {
        stack.push_back(to_ivalue(args[k], *cached, k));
      } else {
        vs_arg fill{VS_DEFAULT, 0, 0, 0.0, nullptr};
        stack.push_back(to_ivalue(fill, *cached, k));
      }
    }
    cached->handle.callBoxed(&stack);
    int32_t n = 0;
    if (outs) {
      for (auto& v : stack) push_output(v, outs, capacity, n, cached->name);
    }
    if (nouts) *nouts = n;
  });
}

// ---------------------------------------------------------------- hot ops, unboxed

// The few ops a transformer step calls most, through their typed C++ API: no IValue stack to build and
// unbox (about a third of a small op's cost through vs_op_call). Same dispatcher path otherwise (autograd,
// autocast, profiler).
// at::matmul's 2-D case is exactly tensor1.mm(tensor2) (ATen/native/LinearAlgebra.cpp, _matmul_impl, in 1.13
// and 2.x); calling mm here skips matmul's own dispatcher round trip, about a tenth of a small op.
VS_EXPORT int vs_matmul(at::Tensor* a, at::Tensor* b, at::Tensor** out) {
  return guarded([&] { *out = wrap(a->dim() == 2 && b->dim() == 2 ? at::mm(*a, *b) : at::matmul(*a, *b)); });
}

// alpha 1 goes through add's default (an integer Scalar), as aten's schema default does, so integer tensors add.
VS_EXPORT int vs_add(at::Tensor* a, at::Tensor* b, double alpha, at::Tensor** out) {
  return guarded([&] { *out = wrap(alpha == 1.0 ? at::add(*a, *b) : at::add(*a, *b, alpha)); });
}

VS_EXPORT int vs_linear(at::Tensor* x, at::Tensor* weight, at::Tensor* bias, at::Tensor** out) {
  return guarded([&] { *out = wrap(bias ? at::linear(*x, *weight, *bias) : at::linear(*x, *weight)); });
}

// ---------------------------------------------------------------- tensor lifetime and metadata

VS_EXPORT void vs_tensor_free(at::Tensor* t) { delete t; }

// A second handle to the same tensor (shares storage and autograd identity).
VS_EXPORT at::Tensor* vs_tensor_share(at::Tensor* t) {
  at::Tensor* r = nullptr;
  guarded([&] { r = wrap(*t); });
  return r;
}

struct vs_tensor_meta {
  int32_t ndim;
  int8_t dtype;
  int8_t device_type;
  int16_t device_index;
  int8_t requires_grad;
  int8_t is_leaf;
  int8_t defined;
  int8_t pad;
  int32_t pad2;
  int64_t numel;
};

// Fills meta and, when given room for ndim entries, sizes and strides: one call instead of five.
VS_EXPORT int vs_tensor_meta_get(at::Tensor* t, vs_tensor_meta* meta, int64_t* sizes, int64_t* strides,
                                 int32_t capacity) {
  return guarded([&] {
    meta->defined = t->defined() ? 1 : 0;
    if (!t->defined()) return;
    meta->ndim = static_cast<int32_t>(t->dim());
    meta->dtype = static_cast<int8_t>(t->scalar_type());
    meta->device_type = static_cast<int8_t>(t->device().type());
    meta->device_index = t->device().index();
    meta->requires_grad = t->requires_grad() ? 1 : 0;
    meta->is_leaf = t->is_leaf() ? 1 : 0;
    meta->numel = t->numel();
    if (sizes && capacity >= meta->ndim) {
      for (int32_t k = 0; k < meta->ndim; ++k) sizes[k] = t->size(k);
    }
    if (strides && capacity >= meta->ndim) {
      for (int32_t k = 0; k < meta->ndim; ++k) strides[k] = t->stride(k);
    }
  });
}

VS_EXPORT int vs_tensor_set_requires_grad(at::Tensor* t, int requires_grad) {
  return guarded([&] { t->set_requires_grad(requires_grad != 0); });
}

// The gradient as a new handle, or null when it is undefined.
VS_EXPORT int vs_tensor_grad(at::Tensor* t, at::Tensor** out) {
  return guarded([&] {
    const auto& g = t->grad();
    *out = g.defined() ? wrap(g) : nullptr;
  });
}

// Sets (or, with null, resets to undefined) the gradient: resetting is cheaper than zero-filling.
VS_EXPORT int vs_tensor_set_grad(at::Tensor* t, at::Tensor* grad) {
  return guarded([&] {
    if (grad) {
      t->mutable_grad() = *grad;
    } else {
      t->mutable_grad().reset();
    }
  });
}

VS_EXPORT int vs_tensor_item(at::Tensor* t, double* as_double, int64_t* as_long) {
  return guarded([&] {
    auto s = t->item();
    if (s.isIntegral(true)) {
      *as_long = s.toLong();
      *as_double = static_cast<double>(*as_long);
    } else {
      *as_double = s.toDouble();
      *as_long = static_cast<int64_t>(*as_double);
    }
  });
}

// A new tensor holding a copy of nbytes of host memory, placed on the given device.
VS_EXPORT int vs_tensor_from_host(const void* data, int64_t nbytes, const int64_t* sizes, int32_t ndim,
                                  int8_t dtype, int8_t device_type, int16_t device_index, at::Tensor** out) {
  return guarded([&] {
    auto options = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
    auto t = at::empty(at::IntArrayRef(sizes, ndim), options);
    if (static_cast<int64_t>(t.nbytes()) != nbytes) {
      throw std::invalid_argument("buffer holds " + std::to_string(nbytes) + " bytes, tensor needs " +
                                  std::to_string(t.nbytes()));
    }
    if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    auto device = c10::Device(static_cast<c10::DeviceType>(device_type), device_index);
    *out = wrap(device.is_cpu() ? std::move(t) : t.to(device));
  });
}

// Copies the tensor's elements, row-major, into host memory (from any device, any strides).
VS_EXPORT int vs_tensor_to_host(at::Tensor* t, void* data, int64_t nbytes) {
  return guarded([&] {
    auto c = t->detach().to(at::kCPU).contiguous();
    if (static_cast<int64_t>(c.nbytes()) != nbytes) {
      throw std::invalid_argument("destination holds " + std::to_string(nbytes) + " bytes, tensor has " +
                                  std::to_string(c.nbytes()));
    }
    if (nbytes > 0) std::memcpy(data, c.data_ptr(), nbytes);
  });
}

// ---------------------------------------------------------------- autograd and thread-local modes

VS_EXPORT int vs_backward(at::Tensor* loss, at::Tensor* grad, int retain_graph) {
  return guarded([&] {
    torch::autograd::variable_list grads;
    if (grad) grads.push_back(*grad);
    torch::autograd::backward({*loss}, grads, retain_graph != 0);
  });
}

VS_EXPORT int vs_grad_enabled() { return c10::GradMode::is_enabled() ? 1 : 0; }
VS_EXPORT void vs_set_grad_enabled(int enabled) { c10::GradMode::set_enabled(enabled != 0); }

// Enters an autocast region; writes the previous state so vs_autocast_exit can restore it (scopes nest).
VS_EXPORT int vs_autocast_enter(int8_t device_type, int8_t dtype, int* prev_enabled, int8_t* prev_dtype) {
  return guarded([&] {
    auto device = static_cast<c10::DeviceType>(device_type);
    *prev_enabled = autocast_enabled(device) ? 1 : 0;
    *prev_dtype = static_cast<int8_t>(autocast_dtype(device));
    autocast_set(device, true, static_cast<at::ScalarType>(dtype));
    at::autocast::increment_nesting();
  });
}

VS_EXPORT int vs_autocast_exit(int8_t device_type, int prev_enabled, int8_t prev_dtype) {
  return guarded([&] {
    auto device = static_cast<c10::DeviceType>(device_type);
    // The weight-cast cache lives until the outermost region ends, as in torch.autocast.__exit__.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    autocast_set(device, prev_enabled != 0, static_cast<at::ScalarType>(prev_dtype));
  });
}

// ---------------------------------------------------------------- RNG state (for exact resume)

VS_EXPORT int vs_rng_get_state(int8_t device_type, int16_t device_index, at::Tensor** out) {
  return guarded([&] {
    auto gen = default_generator(device_type, device_index);
    std::lock_guard<std::mutex> lock(gen.mutex());
    *out = wrap(gen.get_state());
  });
}

VS_EXPORT int vs_rng_set_state(int8_t device_type, int16_t device_index, at::Tensor* state) {
  return guarded([&] {
    auto gen = default_generator(device_type, device_index);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(*state);
  });
}

// ---------------------------------------------------------------- CUDA memory (CUDA builds only)

VS_EXPORT int vs_cuda_synchronize(int16_t device_index) {
  return guarded([&] {
#ifdef VS_WITH_CUDA
    c10::cuda::device_synchronize();
#else
    throw std::runtime_error("this VideoSSL shim was built against a CPU-only libtorch");
#endif
  });
}

VS_EXPORT int vs_cuda_empty_cache() {
  return guarded([&] {
#ifdef VS_WITH_CUDA
    c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  });
}

// stats: allocated current, allocated peak, reserved current, reserved peak (bytes).
VS_EXPORT int vs_cuda_memory_stats(int16_t device_index, int64_t* stats, int reset_peak) {
  return guarded([&] {
#ifdef VS_WITH_CUDA
    auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(device_index);
    stats[0] = s.allocated_bytes[0].current;
    stats[1] = s.allocated_bytes[0].peak;
    stats[2] = s.reserved_bytes[0].current;
    stats[3] = s.reserved_bytes[0].peak;
    if (reset_peak) c10::cuda::CUDACachingAllocator::resetPeakStats(device_index);
#else
    for (int k = 0; k < 4; ++k) stats[k] = 0;
#endif
  });
}

// ---------------------------------------------------------------- host allocator (set once, at load)

namespace {

// glibc adapts its mmap threshold upwards as large blocks are freed, but trims the heap top whenever
// 128 KiB or more is free there: a training step frees most of its activations and gradients, the heap is
// trimmed, and the next step faults every page back in (tens of thousands of minor faults per step at
// ViT-S). Fixed thresholds keep freed step memory in the heap for the next step. Python/PyTorch does not do
// this; VIDEOSSL_MALLOPT=0 keeps glibc's defaults (for side-by-side measurements).
const bool allocator_configured = [] {
  const char* setting = std::getenv("VIDEOSSL_MALLOPT");
  if (setting && std::strcmp(setting, "0") == 0) return false;
  mallopt(M_MMAP_THRESHOLD, 64 << 20);   // blocks below 64 MiB come from the heap and are reused
  mallopt(M_TRIM_THRESHOLD, 512 << 20);  // return heap memory to the OS only past 512 MiB free at the top
  return true;
}();

}  // namespace

VS_EXPORT int vs_allocator_configured() { return allocator_configured ? 1 : 0; }

namespace {

// Debian's libtorch calls OpenBLAS (the openblas-pthread alternative) for fp32 matmuls, and OpenBLAS keeps a
// pool of one spinning thread per core beside libtorch's OpenMP pool. On 2 cores the two pools fight: the V-JEPA
// quick start in fp32 ran at 32.7 clips/s with 1 libtorch thread and 15.8 with 2; with OpenBLAS at one thread,
// 40.5 and 38.8 (bf16 matmuls go to oneDNN in the OpenMP pool: 60 -> 88 clips/s from the second thread either
// way). PyTorch's own builds use MKL on that same OpenMP pool, so they have one pool. Pinned at load unless the
// user set OPENBLAS_NUM_THREADS (which OpenBLAS itself reads); a no-op where libtorch has no OpenBLAS (MKL, CUDA wheels).
const int blas_threads_pinned = [] {
  if (std::getenv("OPENBLAS_NUM_THREADS")) return 0;
  auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) return 0;
  set(1);
  return 1;
}();

}  // namespace

// 1 when the load pinned OpenBLAS to one thread (above); 0 when there is no OpenBLAS or the user set its threads.
VS_EXPORT int vs_blas_threads_pinned() { return blas_threads_pinned; }

// With those thresholds, what a checkpoint and the plots redrawn with it allocate (Skia renders through malloc)
// lands between the step's blocks; once freed, the holes are too small or misplaced for the next step's
// sizes and the heap grows by about a step's working set per checkpoint (CPU VideoMAE V2 at batch 32: resident
// memory 0.7 -> 2.0 GiB over 4 150 steps; steady at 0.3 GiB without the thresholds). malloc_trim(0) hands the
// free pages of every arena back (madvise); the next step faults its memory in once.
VS_EXPORT int vs_malloc_trim(int* released) {
  return guarded([&] { *released = malloc_trim(0); });
}

// ---------------------------------------------------------------- gradients of many parameters at once

// optimizer.zero_grad(set_to_none) over n parameters in one call. In place (set_to_none = 0) is torch 1.13's
// default and what keeps a CPU step from re-faulting its gradient memory; reset (1) frees it (torch 2.x's
// default; right where memory matters, e.g. CUDA with its caching allocator).
VS_EXPORT int vs_zero_grads(at::Tensor** params, int32_t n, int set_to_none) {
  return guarded([&] {
    at::NoGradGuard no_grad;
    for (int32_t k = 0; k < n; ++k) {
      auto& g = params[k]->mutable_grad();
      if (!g.defined()) continue;
      if (set_to_none) {
        g.reset();
        continue;
      }
      // As torch.optim.Optimizer.zero_grad: a gradient with history is detached first.
      if (g.grad_fn()) {
        g = g.detach();
      } else {
        g.requires_grad_(false);
      }
      g.zero_();
    }
  });
}

// ---------------------------------------------------------------- op profiler (RecordFunction observers)

namespace {

struct OpStat {
  int64_t count = 0;
  int64_t self_ns = 0;
  int64_t total_ns = 0;
};

struct Frame {
  int64_t start_ns;
  int64_t children_ns;
  const char* name;  // valid while the call runs, i.e. while it is on the stack
};

std::mutex profile_mutex;
std::unordered_map<std::string, OpStat> profile_stats;
std::atomic<uint64_t> profile_handle{0};
std::atomic<bool> profile_by_caller{false};
thread_local std::vector<Frame> profile_stack;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<at::ObserverContext> profile_enter(const at::RecordFunction& fn) {
  profile_stack.push_back(Frame{now_ns(), 0, fn.name()});
  return nullptr;
}

void profile_exit(const at::RecordFunction& fn, at::ObserverContext*) {
  if (profile_stack.empty()) return;  // started before the profiler was switched on
  auto frame = profile_stack.back();
  profile_stack.pop_back();
  auto total = now_ns() - frame.start_ns;
  if (!profile_stack.empty()) profile_stack.back().children_ns += total;
  std::string key = fn.name();
  if (profile_by_caller.load(std::memory_order_relaxed)) {
    key = std::string(profile_stack.empty() ? "(top)" : profile_stack.back().name) + " > " + key;
  }
  std::lock_guard<std::mutex> lock(profile_mutex);
  auto& s = profile_stats[key];
  s.count += 1;
  s.total_ns += total;
  s.self_ns += total - frame.children_ns;
}

}  // namespace

// Starts collecting count, self and total time per operator (forward ops and autograd nodes) on all
// threads: the same numbers torch.autograd.profiler's key_averages() gives a Python run. by_caller keys each
// row by "caller > op" instead, which shows where an op nobody calls directly comes from.
VS_EXPORT int vs_profiler_start(int by_caller) {
  return guarded([&] {
    if (profile_handle.load() != 0) throw std::runtime_error("the op profiler is already running");
    profile_by_caller = by_caller != 0;
    {
      std::lock_guard<std::mutex> lock(profile_mutex);
      profile_stats.clear();
    }
    auto callback = at::RecordFunctionCallback(profile_enter, profile_exit)
                        .needsInputs(false)
                        .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION});
    profile_handle = at::addGlobalCallback(callback);
  });
}

// Stops the profiler and writes "name\tcount\tself_ns\ttotal_ns" lines into buf; returns the full length
// (call again with a larger buffer when it did not fit; the table is kept until the next start).
VS_EXPORT int64_t vs_profiler_stop(char* buf, int64_t capacity) {
  std::string text;
  guarded([&] {
    auto handle = profile_handle.exchange(0);
    if (handle != 0) at::removeCallback(handle);
    std::ostringstream out;
    std::lock_guard<std::mutex> lock(profile_mutex);
    for (const auto& [name, s] : profile_stats) {
      out << name << '\t' << s.count << '\t' << s.self_ns << '\t' << s.total_ns << '\n';
    }
    text = out.str();
  });
  if (buf && capacity > 0) {
    auto n = std::min<int64_t>(capacity - 1, static_cast<int64_t>(text.size()));
    std::memcpy(buf, text.data(), n);
    buf[n] = 0;
  }
  return static_cast<int64_t>(text.size());
}
