// Multi-process collectives through libtorch's c10d: the TCP key-value store (rendezvous, heartbeats), a Gloo process
// group (CPU tensors; every libtorch build), an NCCL process group (CUDA tensors; SAMADAPT_WITH_NCCL builds), and the
// collectives data-parallel training needs: broadcast, bucketed all-reduce, barrier. Every wait is bounded by the
// caller's timeout; a peer that dies or times out surfaces as an error message (SA_TRY), never as an abort.
// Version differences: process groups derive from c10d::ProcessGroup in 1.13 and from c10d::Backend in 2.x; the TCP
// store's libuv server (2.3+) is not used.
#include "common.h"
// the process-group headers declare their classes only for builds that have the backend (libtorch's own build flags);
// Debian's and PyTorch's libtorch are built with Gloo, CUDA builds with NCCL
#if !defined(SAMADAPT_NO_GLOO) && !defined(USE_C10D_GLOO)
#define USE_C10D_GLOO 1
#endif
#if defined(SAMADAPT_WITH_NCCL) && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifndef SAMADAPT_NO_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef SAMADAPT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <chrono>
#include <cstring>
#include <map>

namespace {

#if SA_TORCH_AT_LEAST(2, 0)
using PgBase = c10d::Backend;
#else
using PgBase = c10d::ProcessGroup;
#endif

struct Store {
    c10::intrusive_ptr<c10d::TCPStore> store;
};

struct Group {
    c10::intrusive_ptr<PgBase> pg;
    std::chrono::milliseconds timeout;
    int rank = 0, size = 1;
};

Store& S(sa_store h) {
    if (h == nullptr) throw std::invalid_argument("null store handle");
    return *reinterpret_cast<Store*>(h);
}

Group& G(sa_process_group h) {
    if (h == nullptr) throw std::invalid_argument("null process group handle");
    return *reinterpret_cast<Group*>(h);
}

std::chrono::milliseconds ms(int64_t v) {
    if (v <= 0) throw std::invalid_argument("timeout must be positive, got " + std::to_string(v) + " ms");
    return std::chrono::milliseconds(v);
}

// Waits for a collective; a timeout or a peer failure becomes an exception naming the operation.
void wait_for(const char* what, c10::intrusive_ptr<c10d::Work> work, const Group& g) {
    bool done = false;
    try {
        done = work->wait(g.timeout);
    } catch (const c10::Error& e) {
        throw std::runtime_error(std::string(what) + " failed on rank " + std::to_string(g.rank) + ": " + e.what_without_backtrace());
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string(what) + " failed on rank " + std::to_string(g.rank) + ": " + e.what());
    }
    if (!done)
        throw std::runtime_error(std::string(what) + " on rank " + std::to_string(g.rank) + " timed out after " +
                                 std::to_string(g.timeout.count()) + " ms");
}

#ifndef SAMADAPT_NO_GLOO
std::shared_ptr<::gloo::transport::Device> gloo_device(const char* where) {
    std::string w = where ? where : "";
    if (w.rfind("if:", 0) == 0) return c10d::ProcessGroupGloo::createDeviceForInterface(w.substr(3));
    if (!w.empty()) return c10d::ProcessGroupGloo::createDeviceForHostname(w);
    return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

}  // namespace

extern "C" {

sa_store sa_store_create(const char* host, int32_t port, int32_t world_size, int32_t is_server, int64_t timeout_ms) {
    SA_TRY(nullptr, {
        if (host == nullptr || *host == 0) throw std::invalid_argument("store host is empty");
        if (port <= 0 || port > 65535) throw std::invalid_argument("store port must be in 1..65535, got " + std::to_string(port));
        c10d::TCPStoreOptions o;
        o.port = static_cast<std::uint16_t>(port);
        o.isServer = is_server != 0;
        if (world_size > 0) o.numWorkers = static_cast<std::size_t>(world_size);
        o.waitWorkers = false;  // rendezvous is the process group's job; the server must not block here
        o.timeout = ms(timeout_ms);
#if SA_TORCH_AT_LEAST(2, 3)
        o.useLibUV = false;  // the classic server is in every build; libuv may be compiled out
#endif
        auto s = new Store{c10::make_intrusive<c10d::TCPStore>(std::string(host), o)};
        return reinterpret_cast<sa_store>(s);
    })
}

void sa_store_free(sa_store s) {
    try { delete reinterpret_cast<Store*>(s); } catch (...) {}
}

int32_t sa_store_set(sa_store s, const char* key, const void* data, int64_t len) {
    SA_TRY(-1, {
        auto p = static_cast<const uint8_t*>(data);
        S(s).store->set(key, std::vector<uint8_t>(p, p + len));
        return 0;
    })
}

// Blocks until the key exists (up to timeout_ms); returns the value's length (written up to cap bytes) or -1.
int64_t sa_store_get(sa_store s, const char* key, void* buf, int64_t cap, int64_t timeout_ms) {
    SA_TRY(-1, {
        auto& st = *S(s).store;
        st.wait({std::string(key)}, ms(timeout_ms));
        auto v = st.get(key);
        if (cap > 0 && buf != nullptr) std::memcpy(buf, v.data(), std::min<size_t>(v.size(), static_cast<size_t>(cap)));
        return static_cast<int64_t>(v.size());
    })
}

int64_t sa_store_add(sa_store s, const char* key, int64_t delta) {
    SA_TRY(INT64_MIN, { return S(s).store->add(key, delta); })
}

int32_t sa_store_check(sa_store s, const char* key) {
    SA_TRY(-1, { return S(s).store->check({std::string(key)}) ? 1 : 0; })
}

sa_process_group sa_pg_create(sa_store s, int32_t backend, int32_t rank, int32_t size, int64_t timeout_ms, const char* device) {
    SA_TRY(nullptr, {
        if (size < 1 || rank < 0 || rank >= size)
            throw std::invalid_argument("rank " + std::to_string(rank) + " is outside a world of size " + std::to_string(size));
        auto timeout = ms(timeout_ms);
        auto g = std::make_unique<Group>();
        g->timeout = timeout;
        g->rank = rank;
        g->size = size;
        c10::intrusive_ptr<c10d::Store> store = S(s).store;
        if (backend == SA_BACKEND_GLOO) {
#ifndef SAMADAPT_NO_GLOO
            auto o = c10d::ProcessGroupGloo::Options::create(timeout);
            o->devices.push_back(gloo_device(device));
            o->threads = 2;
            g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, o);
#else
            throw std::invalid_argument("this SamAdapt bridge was built without Gloo's headers; rebuild it with them or use the nccl backend");
#endif
        } else if (backend == SA_BACKEND_NCCL) {
#ifdef SAMADAPT_WITH_NCCL
            auto o = c10d::ProcessGroupNCCL::Options::create();
            o->timeout = timeout;
            g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, o);
#else
            throw std::invalid_argument("this SamAdapt bridge was built without NCCL (CUDA); use the gloo backend");
#endif
        } else {
            throw std::invalid_argument("unknown process-group backend " + std::to_string(backend) + " (0 = gloo, 1 = nccl)");
        }
        return reinterpret_cast<sa_process_group>(g.release());
    })
}

void sa_pg_free(sa_process_group g) {
    try { delete reinterpret_cast<Group*>(g); } catch (...) {}
}

int32_t sa_pg_broadcast(sa_process_group g, const sa_tensor* tensors, int32_t n, int32_t root) {
    SA_TRY(-1, {
        auto& grp = G(g);
        if (root < 0 || root >= grp.size) throw std::invalid_argument("broadcast root " + std::to_string(root) + " is not a rank");
        for (int32_t i = 0; i < n; i++) {
            // in place on each tensor's data (parameters are leaves that require grad: bypass autograd)
            std::vector<at::Tensor> one{sa::T(tensors[i]).detach()};
            if (!one[0].is_contiguous()) throw std::invalid_argument("broadcast needs contiguous tensors (tensor " + std::to_string(i) + ")");
            c10d::BroadcastOptions o;
            o.rootRank = root;
            o.timeout = grp.timeout;
            wait_for("broadcast", grp.pg->broadcast(one, o), grp);
        }
        return 0;
    })
}

// Sums the tensors over all ranks in place and divides by `divisor` (the world size for a mean; Gloo has no AVG).
// Tensors are packed by dtype/device into flat buckets of at most bucket_bytes (a tensor larger than that gets a bucket
// of its own); all buckets are started before the first is waited for, so their transfers overlap.
int32_t sa_pg_allreduce(sa_process_group g, const sa_tensor* tensors, int32_t n, double divisor, int64_t bucket_bytes) {
    SA_TRY(-1, {
        auto& grp = G(g);
        if (!(divisor > 0)) throw std::invalid_argument("all-reduce divisor must be positive");
        struct Bucket { std::vector<at::Tensor> members; int64_t bytes = 0; at::Tensor flat; c10::intrusive_ptr<c10d::Work> work; };
        std::vector<Bucket> buckets;
        std::map<std::pair<int, std::string>, size_t> open;  // (dtype, device) -> index of the bucket being filled
        for (int32_t i = 0; i < n; i++) {
            at::Tensor t = sa::T(tensors[i]).detach();
            int64_t nb = t.numel() * static_cast<int64_t>(t.element_size());
            auto key = std::make_pair(static_cast<int>(t.scalar_type()), t.device().str());
            auto it = open.find(key);
            if (it == open.end() || (buckets[it->second].bytes + nb > bucket_bytes && !buckets[it->second].members.empty())) {
                buckets.emplace_back();
                open[key] = buckets.size() - 1;
                it = open.find(key);
            }
            auto& b = buckets[it->second];
            b.members.push_back(t);
            b.bytes += nb;
        }
        for (auto& b : buckets) {
            std::vector<at::Tensor> flats;
            for (auto& m : b.members) flats.push_back(m.reshape({-1}));
            b.flat = flats.size() == 1 ? flats[0].clone() : at::cat(flats);
            std::vector<at::Tensor> one{b.flat};
            c10d::AllreduceOptions o;
            o.reduceOp = c10d::ReduceOp::SUM;
            o.timeout = grp.timeout;
            b.work = grp.pg->allreduce(one, o);
        }
        for (auto& b : buckets) {
            wait_for("all-reduce", b.work, grp);
            if (divisor != 1.0) b.flat.div_(divisor);
            int64_t off = 0;
            for (auto& m : b.members) {
                m.copy_(b.flat.narrow(0, off, m.numel()).view(m.sizes()));
                off += m.numel();
            }
        }
        return 0;
    })
}

int32_t sa_pg_barrier(sa_process_group g) {
    SA_TRY(-1, {
        auto& grp = G(g);
        c10d::BarrierOptions o;
        o.timeout = grp.timeout;
        wait_for("barrier", grp.pg->barrier(o), grp);
        return 0;
    })
}

int32_t sa_pg_rank(sa_process_group g) { SA_TRY(-1, { return G(g).rank; }) }
int32_t sa_pg_size(sa_process_group g) { SA_TRY(-1, { return G(g).size; }) }

}  // extern "C"
