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

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#ifdef VS_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef VS_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
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
// The first bucket of each dtype and device holds at most first_bytes (DDP: 1 MiB, so that the first
// all-reduce starts early in backward; compute_bucket_assignment_by_size's bucket_size_limits).
std::vector<std::vector<size_t>> buckets(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes,
                                         int64_t first_bytes = -1) {
  if (first_bytes < 0) first_bytes = bucket_bytes;
  std::vector<std::vector<size_t>> out;
  std::map<std::pair<int, std::string>, size_t> open;  // (dtype, device) -> index of the bucket being filled
  std::vector<int64_t> filled;
  std::vector<int64_t> limit;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    auto key = std::make_pair(static_cast<int>(t.scalar_type()), t.device().str());
    int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    auto it = open.find(key);
    if (it == open.end() || (filled[it->second] > 0 && filled[it->second] + bytes > limit[it->second])) {
      limit.push_back(it == open.end() ? first_bytes : bucket_bytes);
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
#ifdef VS_C10D_GLOO
  b |= 1;
#endif
#ifdef VS_C10D_NCCL
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
#ifdef VS_C10D_GLOO
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
#ifdef VS_C10D_NCCL
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

// ---------------------------------------------------------------------------------------------------------
// Gradient all-reduce overlapped with backward, as DistributedDataParallel's Reducer does it
// (torch/csrc/distributed/c10d/reducer.cpp): a post hook on each parameter's gradient accumulator marks the
// parameter ready; a bucket whose parameters are all ready is copied into its flat buffer and its all-reduce
// starts while backward goes on; finalize waits for them, averages and copies back.
//
// Not c10d's Reducer itself: its readiness is "each parameter once per backward call" (or static_graph's
// counts learned in the first iteration), its constructor and prepare_for_backward differ between 1.13 and
// 2.x, and it would need our own per-step arming anyway. Our steps run several backward calls
// (ActivationCheckpoint replays blocks after loss.backward(), a parameter used in two checkpointed
// segments accumulates twice), so readiness is counted per optimizer step: the first prepared step learns
// how many times each parameter's accumulator fires (its buckets are reduced at finalize, as the blocking
// path), later steps start a bucket once each of its parameters has fired that often. A firing after its
// bucket started (the graph changed) marks the bucket stale; at finalize the ranks agree on the stale
// buckets in one small all-reduce and reduce those again from the complete gradients, so the result is
// always the blocking path's. Buckets start strictly in order (collectives must be issued in the same order
// on every rank), in reverse parameter order, which is roughly the order backward produces them.
// ---------------------------------------------------------------------------------------------------------
namespace {

struct Reducer {
  struct Bucket {
    std::vector<size_t> members;   // parameter indices
    std::vector<int64_t> offsets;  // element offsets in flat
    at::Tensor flat;
    int64_t pending = 0;  // members still short of their expected count
    bool launched = false;
    bool stale = false;
    c10::intrusive_ptr<c10d::Work> work;
  };

  GroupHandle group;  // a copy: keeps the process group alive as long as the hooks may fire
  std::vector<at::Tensor> params;
  // The accumulators hold the hooks; a parameter's autograd metadata keeps its accumulator only weakly.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<size_t> bucket_of;
  std::vector<Bucket> buckets;
  std::vector<int64_t> expected, fired;
  bool learned = false;
  bool armed = false;
  size_t next = 0;  // the next bucket to start
  int64_t steps = 0, started_in_backward = 0, rereduced = 0;
  std::mutex mu;

  explicit Reducer(const GroupHandle& g) : group(g) {}

  c10::intrusive_ptr<c10d::Work> allreduce(at::Tensor& flat) {
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = group.timeout;
    std::vector<at::Tensor> list{flat};
    return group.group->allreduce(list, opts);
  }

  // A parameter that has no gradient yet joins with zeros, so every rank reduces the same buffers.
  void copy_in(Bucket& b) {
    for (size_t k = 0; k < b.members.size(); ++k) {
      const auto& p = params[b.members[k]];
      auto slice = b.flat.narrow(0, b.offsets[k], p.numel());
      const auto& g = p.grad();
      if (g.defined()) {
        slice.view_as(g).copy_(g);
      } else {
        slice.zero_();
      }
    }
  }

  void start(size_t index) {
    auto& b = buckets[index];
    at::NoGradGuard no_grad;
    copy_in(b);
    b.work = allreduce(b.flat);
    b.launched = true;
  }

  void start_ready() {
    while (next < buckets.size() && buckets[next].pending <= 0) {
      start(next++);
      ++started_in_backward;
    }
  }

  // Called by the accumulator's post hook, after the gradient went into param.grad.
  void on_accumulated(size_t index) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;  // a micro-step without sync (accumulation), or backward outside training
    ++fired[index];
    auto& b = buckets[bucket_of[index]];
    if (b.launched) {
      b.stale = true;
      return;
    }
    if (learned && fired[index] == expected[index]) {
      --b.pending;
      start_ready();
    }
  }

  void prepare() {
    std::lock_guard<std::mutex> lock(mu);
    std::fill(fired.begin(), fired.end(), 0);
    for (auto& b : buckets) {
      b.launched = false;
      b.stale = false;
      b.work.reset();
      b.pending = 0;
      if (learned) {
        for (auto i : b.members) b.pending += expected[i] > 0 ? 1 : 0;
      }
    }
    next = 0;
    armed = true;
  }

  void finalize(double scale) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) throw std::logic_error("gradient reducer: finalize without prepare_for_backward");
    armed = false;
    at::NoGradGuard no_grad;
    // Buckets that never became ready: the learning step, parameters that got fewer gradients than expected.
    for (; next < buckets.size(); ++next) start(next);
    for (auto& b : buckets) b.work->wait(group.timeout);
    if (learned && !buckets.empty()) {
      // Only a bucket started during backward can be stale, and only after the learning step, which every rank
      // has behind it at the same step: the ranks issue this all-reduce together.
      auto flags = at::zeros({static_cast<int64_t>(buckets.size())}, at::kFloat);
      auto* f = flags.data_ptr<float>();
      for (size_t k = 0; k < buckets.size(); ++k) f[k] = buckets[k].stale ? 1.0f : 0.0f;
      auto on_device = flags.to(buckets[0].flat.device());
      allreduce(on_device)->wait(group.timeout);
      flags = on_device.cpu();
      f = flags.data_ptr<float>();
      for (size_t k = 0; k < buckets.size(); ++k) {
        if (f[k] > 0) {
          copy_in(buckets[k]);
          allreduce(buckets[k].flat)->wait(group.timeout);
          ++rereduced;
        }
      }
    }
    for (auto& b : buckets) {
      if (scale != 1.0) b.flat.mul_(scale);
      for (size_t k = 0; k < b.members.size(); ++k) {
        auto& p = params[b.members[k]];
        auto slice = b.flat.narrow(0, b.offsets[k], p.numel()).view_as(p);
        if (p.grad().defined()) {
          p.mutable_grad().copy_(slice);
        } else {
          p.mutable_grad() = slice.clone();
        }
      }
    }
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = std::max(expected[i], fired[i]);
    learned = true;
    ++steps;
  }
};

struct ReadyHook : torch::autograd::FunctionPostHook {
  ReadyHook(std::weak_ptr<Reducer> r, size_t i) : reducer(std::move(r)), index(i) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    if (auto r = reducer.lock()) r->on_accumulated(index);
    return outputs;
  }
  std::weak_ptr<Reducer> reducer;  // weak: the reducer owns the accumulators that own this hook
  size_t index;
};

struct ReducerHandle {
  std::shared_ptr<Reducer> reducer;
};

}  // namespace

// Registers the hooks on `params` (trainable leaves, in module order; buckets are formed in reverse).
VS_EXPORT int vs_dist_reducer_new(void* group, at::Tensor** handles, int32_t n, int64_t bucket_bytes,
                                  int64_t first_bucket_bytes, void** out) {
  return guarded([&] {
    auto r = std::make_shared<Reducer>(*static_cast<GroupHandle*>(group));
    auto list = from_handles(handles, n);
    for (const auto& p : list) {
      if (!p.requires_grad() || !p.is_leaf()) throw std::invalid_argument("gradient reducer: a parameter that is not a trainable leaf");
    }
    r->params.assign(list.rbegin(), list.rend());
    r->expected.assign(r->params.size(), 0);
    r->fired.assign(r->params.size(), 0);
    r->bucket_of.assign(r->params.size(), 0);
    for (auto& idx : buckets(r->params, bucket_bytes, first_bucket_bytes)) {
      Reducer::Bucket b;
      int64_t total = 0;
      for (auto i : idx) {
        r->bucket_of[i] = r->buckets.size();
        b.members.push_back(i);
        b.offsets.push_back(total);
        total += r->params[i].numel();
      }
      b.flat = at::empty({total}, r->params[idx[0]].options().requires_grad(false));
      r->buckets.push_back(std::move(b));
    }
    for (size_t i = 0; i < r->params.size(); ++i) {
      auto acc = torch::autograd::impl::grad_accumulator(r->params[i]);
      if (!acc) throw std::runtime_error("gradient reducer: a parameter has no gradient accumulator");
      acc->add_post_hook(std::make_unique<ReadyHook>(std::weak_ptr<Reducer>(r), i));
      r->accumulators.push_back(std::move(acc));
    }
    *out = new ReducerHandle{r};
  });
}

// Before the backward calls of a step whose gradients are to be reduced (the last micro-step).
VS_EXPORT int vs_dist_reducer_prepare(void* reducer) {
  return guarded([&] { static_cast<ReducerHandle*>(reducer)->reducer->prepare(); });
}

// After them: waits for the started buckets, reduces the rest, scales by `scale`, writes param.grad.
VS_EXPORT int vs_dist_reducer_finalize(void* reducer, double scale) {
  return guarded([&] { static_cast<ReducerHandle*>(reducer)->reducer->finalize(scale); });
}

// [buckets, finalized steps, buckets started during backward, buckets reduced again (stale),
//  the most backward calls that reached one parameter in a step]
VS_EXPORT int vs_dist_reducer_stats(void* reducer, int64_t* stats) {
  return guarded([&] {
    auto& r = *static_cast<ReducerHandle*>(reducer)->reducer;
    std::lock_guard<std::mutex> lock(r.mu);
    stats[0] = static_cast<int64_t>(r.buckets.size());
    stats[1] = r.steps;
    stats[2] = r.started_in_backward;
    stats[3] = r.rereduced;
    stats[4] = r.expected.empty() ? 0 : *std::max_element(r.expected.begin(), r.expected.end());
  });
}

VS_EXPORT void vs_dist_reducer_free(void* reducer) { delete static_cast<ReducerHandle*>(reducer); }
