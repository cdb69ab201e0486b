// VideoSSL's C ABI over torch.distributed's c10d: stores (TCPStore, FileStore, PrefixStore), process groups
// (Gloo; NCCL where the libtorch has it) and the collectives data-parallel training needs.
//
// Kept apart from shim.cpp so the distributed surface can change without touching the op path. Same
// conventions: every export catches every exception and returns a status, the message is kept per thread
// (read with vs_dist_last_error), tensors are the caller-owned at::Tensor* handles of shim.cpp.
//
// The c10d API moved between 1.13 and 2.x (process groups became Backends). The one version switch is
// GroupBase below; everything else is called through members both versions share.

#include "guarded.hpp"
#include <ATen/ATen.h>
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#define VS_EXPORT extern "C" __attribute__((visibility("default")))
#define VS_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace {

#if VS_AT_LEAST(2, 0)
using GroupBase = c10d::Backend;  // 2.x: ProcessGroupGloo/NCCL are Backends of a dispatching ProcessGroup
#else
using GroupBase = c10d::ProcessGroup;
#endif

thread_local std::string last_error;

template <typename F>
int guarded(F&& body) {
  return videossl::guarded(last_error, std::forward<F>(body));
}

struct StoreHandle {
  c10::intrusive_ptr<c10d::Store> store;
};

struct GroupHandle {
  c10::intrusive_ptr<GroupBase> group;
  int rank;
  int size;
  std::chrono::milliseconds timeout;
};

std::chrono::milliseconds ms(int64_t timeout_ms) { return std::chrono::milliseconds(timeout_ms); }

// Waits with the group's timeout, so a peer that stops answering ends in an error, never a hang.
void wait_all(std::vector<c10::intrusive_ptr<c10d::Work>>& works, const GroupHandle& g) {
  for (auto& w : works) w->wait(g.timeout);
}

// Tensors grouped into flat buffers of one dtype and device, at most bucket_bytes each (a tensor larger
// than that gets its own bucket): one collective per bucket instead of one per parameter, the way
// DistributedDataParallel's reducer buckets gradients (25 MiB by default, torch/nn/parallel/distributed.py).
std::vector<std::vector<size_t>> buckets(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> out;
  std::map<std::pair<int, std::string>, size_t> open;  // (dtype, device) -> index of the bucket being filled
  std::vector<int64_t> filled;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    auto key = std::make_pair(static_cast<int>(t.scalar_type()), t.device().str());
    int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    auto it = open.find(key);
    if (it == open.end() || (filled[it->second] > 0 && filled[it->second] + bytes > bucket_bytes)) {
      open[key] = out.size();
      out.emplace_back();
      filled.push_back(0);
      it = open.find(key);
    }
    out[it->second].push_back(i);
    filled[it->second] += bytes;
  }
  return out;
}

std::vector<at::Tensor> from_handles(at::Tensor** handles, int32_t n) {
  std::vector<at::Tensor> tensors;
  tensors.reserve(n);
  for (int32_t i = 0; i < n; ++i) {
    if (!handles[i] || !handles[i]->defined()) throw std::invalid_argument("undefined tensor passed to a collective");
    tensors.push_back(*handles[i]);
  }
  return tensors;
}

// Runs `launch` on each bucket's flat buffer, waits for all of them, and copies results back into place.
template <typename Launch>
void bucketed(const GroupHandle& g, std::vector<at::Tensor>& tensors, int64_t bucket_bytes, Launch launch,
              double scale) {
  // Parameters are leaves that require grad; writing the result into them is not an autograd event.
  at::NoGradGuard no_grad;
  auto groups = buckets(tensors, bucket_bytes);
  std::vector<at::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& idx : groups) {
    std::vector<at::Tensor> members;
    for (auto i : idx) members.push_back(tensors[i]);
    std::vector<at::Tensor> flat{at::flatten_dense_tensors(members)};
    works.push_back(launch(flat));
    flats.push_back(flat[0]);
  }
  wait_all(works, g);
  for (size_t b = 0; b < groups.size(); ++b) {
    std::vector<at::Tensor> members;
    for (auto i : groups[b]) members.push_back(tensors[i]);
    if (scale != 1.0) flats[b].mul_(scale);
    auto pieces = at::unflatten_dense_tensors(flats[b], members);
    for (size_t k = 0; k < members.size(); ++k) members[k].copy_(pieces[k]);
  }
}

}  // namespace

VS_EXPORT const char* vs_dist_last_error() { return last_error.c_str(); }

// Bit 0: Gloo compiled in; bit 1: NCCL compiled in.
VS_EXPORT int vs_dist_backends() {
  int b = 0;
#ifdef USE_C10D_GLOO
  b |= 1;
#endif
#ifdef USE_C10D_NCCL
  b |= 2;
#endif
  return b;
}

VS_EXPORT int vs_dist_store_tcp(const char* host, int32_t port, int32_t is_server, int32_t world, int64_t timeout_ms,
                                void** out) {
  return guarded([&] {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(port);
    opts.isServer = is_server != 0;
    if (world > 0) opts.numWorkers = static_cast<std::size_t>(world);
    opts.waitWorkers = world > 0;
    opts.timeout = ms(timeout_ms);
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    *out = new StoreHandle{store};
  });
}

VS_EXPORT int vs_dist_store_file(const char* path, int32_t world, int64_t timeout_ms, void** out) {
  return guarded([&] {
    auto store = c10::make_intrusive<c10d::FileStore>(std::string(path), world);
    store->setTimeout(ms(timeout_ms));
    *out = new StoreHandle{store};
  });
}

// torchrun's agent hosts the store and its workers share it under /worker/attempt_N
// (torch/distributed/elastic/...; rendezvous.py _create_c10d_store), so keys need a prefix.
VS_EXPORT int vs_dist_store_prefix(void* base, const char* prefix, void** out) {
  return guarded([&] {
    auto* b = static_cast<StoreHandle*>(base);
    *out = new StoreHandle{c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), b->store)};
  });
}

VS_EXPORT void vs_dist_store_free(void* store) { delete static_cast<StoreHandle*>(store); }

VS_EXPORT int vs_dist_store_add(void* store, const char* key, int64_t delta, int64_t* result) {
  return guarded([&] { *result = static_cast<StoreHandle*>(store)->store->add(key, delta); });
}

VS_EXPORT int vs_dist_store_set(void* store, const char* key, const uint8_t* value, int64_t length) {
  return guarded([&] {
    static_cast<StoreHandle*>(store)->store->set(key, std::vector<uint8_t>(value, value + length));
  });
}

// Blocks up to the store's timeout for the key. Returns the value's length; copies at most `capacity` bytes.
VS_EXPORT int vs_dist_store_get(void* store, const char* key, uint8_t* buffer, int64_t capacity, int64_t* length) {
  return guarded([&] {
    auto value = static_cast<StoreHandle*>(store)->store->get(key);
    *length = static_cast<int64_t>(value.size());
    std::memcpy(buffer, value.data(), std::min<size_t>(value.size(), static_cast<size_t>(std::max<int64_t>(capacity, 0))));
  });
}

VS_EXPORT int vs_dist_group_gloo(void* store, int32_t rank, int32_t size, int64_t timeout_ms, void** out) {
  return guarded([&] {
#ifdef USE_C10D_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(ms(timeout_ms));
    // As torch.distributed does: GLOO_SOCKET_IFNAME picks the interface, else the hostname's address
    // (or loopback when the hostname does not resolve).
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    opts->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                              : c10d::ProcessGroupGloo::createDefaultDevice());
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(static_cast<StoreHandle*>(store)->store, rank, size, opts);
    *out = new GroupHandle{group, rank, size, ms(timeout_ms)};
#else
    throw std::runtime_error("this libtorch was built without Gloo (c10d USE_C10D_GLOO)");
#endif
  });
}

VS_EXPORT int vs_dist_group_nccl(void* store, int32_t rank, int32_t size, int64_t timeout_ms, void** out) {
  return guarded([&] {
#ifdef USE_C10D_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = ms(timeout_ms);
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(static_cast<StoreHandle*>(store)->store, rank, size, opts);
    *out = new GroupHandle{group, rank, size, ms(timeout_ms)};
#else
    throw std::runtime_error("this libtorch has no NCCL process group (a CPU build, or built without USE_C10D_NCCL); use the gloo backend");
#endif
  });
}

VS_EXPORT void vs_dist_group_free(void* group) { delete static_cast<GroupHandle*>(group); }

// In place: every tensor takes root's values.
VS_EXPORT int vs_dist_broadcast(void* group, at::Tensor** tensors, int32_t n, int32_t root, int64_t bucket_bytes) {
  return guarded([&] {
    auto& g = *static_cast<GroupHandle*>(group);
    auto list = from_handles(tensors, n);
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = g.timeout;
    bucketed(g, list, bucket_bytes, [&](std::vector<at::Tensor>& flat) { return g.group->broadcast(flat, opts); }, 1.0);
  });
}

// In place: sum over ranks, times `scale` (1/world for a mean; c10d's Gloo has no AVG op).
VS_EXPORT int vs_dist_allreduce(void* group, at::Tensor** tensors, int32_t n, double scale, int64_t bucket_bytes) {
  return guarded([&] {
    auto& g = *static_cast<GroupHandle*>(group);
    auto list = from_handles(tensors, n);
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = g.timeout;
    bucketed(g, list, bucket_bytes, [&](std::vector<at::Tensor>& flat) { return g.group->allreduce(flat, opts); }, scale);
  });
}

// Every rank's `input` (same shape everywhere) stacked along a new leading dimension: [world, ...].
VS_EXPORT int vs_dist_allgather(void* group, at::Tensor* input, at::Tensor** out) {
  return guarded([&] {
    auto& g = *static_cast<GroupHandle*>(group);
    auto in = input->contiguous();
    std::vector<at::Tensor> inputs{in};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < g.size; ++r) outputs[0].push_back(at::empty_like(in));
    c10d::AllgatherOptions opts;
    opts.timeout = g.timeout;
    auto work = g.group->allgather(outputs, inputs, opts);
    work->wait(g.timeout);
    *out = new at::Tensor(at::stack(outputs[0]));
  });
}

VS_EXPORT int vs_dist_barrier(void* group) {
  return guarded([&] {
    auto& g = *static_cast<GroupHandle*>(group);
    c10d::BarrierOptions opts;
    opts.timeout = g.timeout;
    g.group->barrier(opts)->wait(g.timeout);
  });
}
