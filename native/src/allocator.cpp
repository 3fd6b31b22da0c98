// A CPU allocator that keeps large freed blocks for reuse. glibc serves every block above 32 MiB with a fresh mmap,
// so each large tensor of a training step (attention logits of a vit_b global block: 252 MB) costs the kernel a
// page fault and a zero-fill per 4 KiB page, then a munmap: measured 94 ms of CPU per 252 MB on the development
// machine, several seconds per vit_b step. Steps allocate the same sizes every time, so blocks of at least 1 MiB are
// cached (exact size class, rounded up to 64 KiB) up to a byte limit: $SAMADAPT_CPU_CACHE_MB, default the smaller
// of 2 GiB and 1/8 of physical memory; 0 turns the cache off. Smaller blocks go to c10's alloc_cpu/free_cpu as before.
#include "common.h"
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unistd.h>
#include <unordered_map>

namespace {

constexpr size_t kMinCached = size_t(1) << 20;
constexpr size_t kGranule = size_t(64) << 10;

struct Cache {
    std::mutex mutex;
    std::multimap<size_t, void*> free_blocks;   // size → block
    std::unordered_map<void*, size_t> live;      // cached-size blocks handed out
    size_t cached_bytes = 0;
    size_t limit = 0;
};

Cache& cache() {
    static Cache* c = new Cache();  // never destroyed: tensors may be freed during static destruction
    return *c;
}

void release(void* p) {
    if (p == nullptr) return;
    auto& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        auto it = c.live.find(p);
        if (it != c.live.end()) {
            size_t size = it->second;
            c.live.erase(it);
            if (size <= c.limit) {
                // make room: drop the largest cached blocks first
                while (c.cached_bytes + size > c.limit && !c.free_blocks.empty()) {
                    auto last = std::prev(c.free_blocks.end());
                    c.cached_bytes -= last->first;
                    c10::free_cpu(last->second);
                    c.free_blocks.erase(last);
                }
                c.free_blocks.emplace(size, p);
                c.cached_bytes += size;
                return;
            }
        }
    }
    c10::free_cpu(p);
}

// libtorch 2.3 made Allocator::allocate non-const and added the pure virtual copy_data
#if SA_TORCH_AT_LEAST(2, 3)
#define SA_ALLOCATE_CONST
#else
#define SA_ALLOCATE_CONST const
#endif

struct CachingCpuAllocator final : public at::Allocator {
    at::DataPtr allocate(size_t n) SA_ALLOCATE_CONST override {
        auto& c = cache();
        if (n >= kMinCached && c.limit > 0) {
            size_t size = (n + kGranule - 1) / kGranule * kGranule;
            {
                std::lock_guard<std::mutex> lock(c.mutex);
                auto it = c.free_blocks.find(size);
                if (it != c.free_blocks.end()) {
                    void* p = it->second;
                    c.free_blocks.erase(it);
                    c.cached_bytes -= size;
                    c.live.emplace(p, size);
                    return {p, p, &release, at::Device(at::DeviceType::CPU)};
                }
            }
            void* p = c10::alloc_cpu(size);
            std::lock_guard<std::mutex> lock(c.mutex);
            c.live.emplace(p, size);
            return {p, p, &release, at::Device(at::DeviceType::CPU)};
        }
        void* p = c10::alloc_cpu(n);
        return {p, p, &release, at::Device(at::DeviceType::CPU)};
    }

    at::DeleterFnPtr raw_deleter() const override { return &release; }

#if SA_TORCH_AT_LEAST(2, 3)
    void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif
};

size_t default_limit() {
    if (const char* env = std::getenv("SAMADAPT_CPU_CACHE_MB")) {
        char* end = nullptr;
        long long mb = std::strtoll(env, &end, 10);
        if (end != env && mb >= 0) return static_cast<size_t>(mb) << 20;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t eighth = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) / 8 : 0;
    return std::min(size_t(2) << 30, eighth);
}

bool install() {
    static CachingCpuAllocator allocator;
    cache().limit = default_limit();
    c10::SetCPUAllocator(&allocator, /*priority=*/1);
    return true;
}

const bool installed = install();

}  // namespace

extern "C" {

int64_t sa_cpu_cache_bytes(void) {
    auto& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    return static_cast<int64_t>(c.cached_bytes);
}

int64_t sa_cpu_cache_limit(void) { return static_cast<int64_t>(cache().limit); }

void sa_cpu_cache_empty(void) {
    auto& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    for (auto& [size, p] : c.free_blocks) c10::free_cpu(p);
    c.free_blocks.clear();
    c.cached_bytes = 0;
}

}  // extern "C"
