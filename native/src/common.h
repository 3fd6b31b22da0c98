// Internal helpers shared by the bridge's translation units: error capture, handle conversion, and every
// libtorch-version difference (compat namespace) in one place.
#pragma once
#include <torch/torch.h>
#include <torch/version.h>
#include <atomic>
#include <string>
#include "samadapt_torch.h"

#ifndef TORCH_VERSION_MAJOR
#error "torch/version.h did not define TORCH_VERSION_MAJOR"
#endif
#define SA_TORCH_AT_LEAST(maj, min) (TORCH_VERSION_MAJOR > (maj) || (TORCH_VERSION_MAJOR == (maj) && TORCH_VERSION_MINOR >= (min)))

namespace sa {

void set_error(const char* msg);
void clear_error();
const char* last_error_or_null();

// Autocast settings of both device types (enabled + dtype), to re-create a forward pass's precision in a recompute.
struct AutocastState {
    bool cpu_enabled = false, cuda_enabled = false;
    at::ScalarType cpu_dtype = at::kBFloat16, cuda_dtype = at::kHalf;
    static AutocastState current();
    void apply() const;
};
extern std::atomic<int64_t> live_handles;

inline at::Tensor& T(sa_tensor h) {
    if (h == nullptr) throw std::invalid_argument("null tensor handle (the tensor was disposed?)");
    return *reinterpret_cast<at::Tensor*>(h);
}

inline sa_tensor wrap(at::Tensor t) {
    live_handles.fetch_add(1, std::memory_order_relaxed);
    return reinterpret_cast<sa_tensor>(new at::Tensor(std::move(t)));
}

inline c10::Device device_of(int32_t type, int32_t index) {
    switch (type) {
        case 0: return c10::Device(c10::kCPU);
        case 1: return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index < 0 ? 0 : index));
        default: throw std::invalid_argument("unknown device type " + std::to_string(type));
    }
}

inline int32_t device_type_code(c10::DeviceType t) {
    switch (t) {
        case c10::kCPU: return 0;
        case c10::kCUDA: return 1;
        default: return 100 + static_cast<int32_t>(t);
    }
}

inline at::ScalarType scalar_type(int32_t code) {
    switch (code) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 11: case 15:
            return static_cast<at::ScalarType>(code);
        default: throw std::invalid_argument("unsupported dtype code " + std::to_string(code));
    }
}

}  // namespace sa

// Runs `body`; any exception becomes the thread's error message and `fail` is returned.
#define SA_TRY(fail, ...)                                                  \
    try {                                                                  \
        sa::clear_error();                                                 \
        __VA_ARGS__                                                        \
    } catch (const c10::Error& e) {                                        \
        sa::set_error(e.what_without_backtrace());                         \
    } catch (const std::exception& e) {                                    \
        sa::set_error(e.what());                                           \
    } catch (...) {                                                        \
        sa::set_error("unknown native exception");                         \
    }                                                                      \
    return fail;
