// Process-wide runtime controls: seeds, threads, CUDA queries and memory statistics, autocast, TF32 and
// determinism switches, version strings. libtorch-version differences are isolated here with SA_TORCH_AT_LEAST.
#include "common.h"
#include <ATen/autocast_mode.h>
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <ATen/Version.h>
#ifdef SAMADAPT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace {

// The dtype is set first: it is the call that can refuse (libtorch 1.13's CPU autocast accepts only bfloat16), and a
// refusal must leave the enabled flag as it was.
void autocast_set(c10::DeviceType dev, bool enabled, at::ScalarType dtype) {
#if SA_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_dtype(dev, dtype);
    at::autocast::set_autocast_enabled(dev, enabled);
#else
    if (dev == c10::kCUDA) {
        at::autocast::set_autocast_gpu_dtype(dtype);
        at::autocast::set_enabled(enabled);
    } else {
        at::autocast::set_autocast_cpu_dtype(dtype);
        at::autocast::set_cpu_enabled(enabled);
    }
#endif
    if (!enabled) at::autocast::clear_cache();
}

bool autocast_enabled(c10::DeviceType dev) {
#if SA_TORCH_AT_LEAST(2, 4)
    return at::autocast::is_autocast_enabled(dev);
#else
    return dev == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

at::ScalarType autocast_dtype(c10::DeviceType dev) {
#if SA_TORCH_AT_LEAST(2, 4)
    return at::autocast::get_autocast_dtype(dev);
#else
    return dev == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

}  // namespace

namespace sa {
AutocastState AutocastState::current() {
    AutocastState s;
    s.cpu_enabled = autocast_enabled(c10::kCPU);
    s.cpu_dtype = autocast_dtype(c10::kCPU);
    s.cuda_enabled = autocast_enabled(c10::kCUDA);
    s.cuda_dtype = autocast_dtype(c10::kCUDA);
    return s;
}
void AutocastState::apply() const {
    autocast_set(c10::kCPU, cpu_enabled, cpu_dtype);
    autocast_set(c10::kCUDA, cuda_enabled, cuda_dtype);
}
}  // namespace sa

extern "C" {

void sa_manual_seed(uint64_t seed) {
    try { torch::manual_seed(seed); } catch (...) {}
}

void sa_set_num_threads(int32_t n) {
    try { if (n > 0) at::set_num_threads(n); } catch (...) {}
}

int32_t sa_get_num_threads(void) { return at::get_num_threads(); }

int32_t sa_cuda_is_available(void) {
    try { return torch::cuda::is_available() ? 1 : 0; } catch (...) { return 0; }
}

int32_t sa_cuda_device_count(void) {
    try { return static_cast<int32_t>(torch::cuda::device_count()); } catch (...) { return 0; }
}

int32_t sa_cuda_synchronize(int32_t device) {
    SA_TRY(-1, {
#ifdef SAMADAPT_WITH_CUDA
        torch::cuda::synchronize(device);
#endif
        return 0;
    })
}

int32_t sa_cuda_memory_stats(int32_t device, int64_t* allocated, int64_t* reserved, int64_t* peak_allocated) {
    SA_TRY(-1, {
        *allocated = *reserved = *peak_allocated = 0;
#ifdef SAMADAPT_WITH_CUDA
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
        // index 0 is StatType::AGGREGATE in every version; the enum moved between namespaces in 2.x
        const size_t agg = 0;
        *allocated = stats.allocated_bytes[agg].current;
        *reserved = stats.reserved_bytes[agg].current;
        *peak_allocated = stats.allocated_bytes[agg].peak;
#endif
        return 0;
    })
}

int32_t sa_cuda_reset_peak(int32_t device) {
    SA_TRY(-1, {
#ifdef SAMADAPT_WITH_CUDA
        c10::cuda::CUDACachingAllocator::resetPeakStats(device);
#endif
        return 0;
    })
}

int32_t sa_cuda_empty_cache(void) {
    SA_TRY(-1, {
#ifdef SAMADAPT_WITH_CUDA
        c10::cuda::CUDACachingAllocator::emptyCache();
#endif
        return 0;
    })
}

int32_t sa_cuda_device_name(int32_t device, char* buf, int32_t len) {
    SA_TRY(-1, {
        std::string name = "cpu";
#ifdef SAMADAPT_WITH_CUDA
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) throw std::runtime_error("cudaGetDeviceProperties failed");
        name = prop.name;
#endif
        std::snprintf(buf, static_cast<size_t>(len), "%s", name.c_str());
        return 0;
    })
}

int32_t sa_autocast_set(int32_t device_type, int32_t enabled, int32_t dtype) {
    SA_TRY(-1, {
        auto dev = sa::device_of(device_type, 0).type();
        autocast_set(dev, enabled != 0, sa::scalar_type(dtype));
        return 0;
    })
}

int32_t sa_autocast_enabled(int32_t device_type) {
    SA_TRY(-1, { return autocast_enabled(sa::device_of(device_type, 0).type()) ? 1 : 0; })
}

int32_t sa_autocast_dtype(int32_t device_type) {
    SA_TRY(-1, { return static_cast<int32_t>(autocast_dtype(sa::device_of(device_type, 0).type())); })
}

int32_t sa_set_tf32(int32_t matmul, int32_t cudnn) {
    SA_TRY(-1, {
        at::globalContext().setAllowTF32CuBLAS(matmul != 0);
        at::globalContext().setAllowTF32CuDNN(cudnn != 0);
        return 0;
    })
}

int32_t sa_set_deterministic(int32_t enabled) {
    SA_TRY(-1, {
        at::globalContext().setDeterministicAlgorithms(enabled != 0, false);
        at::globalContext().setBenchmarkCuDNN(false);
        at::globalContext().setDeterministicCuDNN(enabled != 0);
        return 0;
    })
}

const char* sa_torch_version(void) { return TORCH_VERSION; }

const char* sa_torch_config(void) {
    static std::string cfg;
    SA_TRY(nullptr, {
        if (cfg.empty()) cfg = at::show_config();
        return cfg.c_str();
    })
}

}  // extern "C"
