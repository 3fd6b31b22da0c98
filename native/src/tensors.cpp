// Tensor handles: creation from host memory, copies back, metadata, lifetime.
#include "common.h"
#include <cstring>

namespace sa {
static thread_local std::string last_error;
static thread_local bool has_error = false;
std::atomic<int64_t> live_handles{0};
void set_error(const char* msg) { last_error = msg ? msg : "unknown error"; has_error = true; }
void clear_error() { has_error = false; }
const char* last_error_or_null() { return has_error ? last_error.c_str() : nullptr; }
}  // namespace sa

extern "C" {

const char* sa_last_error(void) { return sa::has_error ? sa::last_error.c_str() : nullptr; }

void sa_set_error(const char* msg) {
    try { sa::set_error(msg); } catch (...) {}
}

int64_t sa_live_tensor_handles(void) { return sa::live_handles.load(); }

void sa_tensor_free(sa_tensor t) {
    if (t == nullptr) return;
    try {
        delete reinterpret_cast<at::Tensor*>(t);
        sa::live_handles.fetch_sub(1, std::memory_order_relaxed);
    } catch (...) {
    }
}

sa_tensor sa_tensor_alias(sa_tensor t) { SA_TRY(nullptr, { return sa::wrap(sa::T(t)); }) }

int32_t sa_tensor_set_data(sa_tensor t, sa_tensor src) {
    SA_TRY(-1, {
        sa::T(t).set_data(sa::T(src));
        return 0;
    })
}

sa_tensor sa_tensor_from_host(const void* data, const int64_t* shape, int32_t ndim, int32_t dtype,
                              int32_t device_type, int32_t device_index, int32_t requires_grad) {
    SA_TRY(nullptr, {
        if (ndim < 0) throw std::invalid_argument("negative rank");
        std::vector<int64_t> sizes(shape, shape + ndim);
        for (auto s : sizes)
            if (s < 0) throw std::invalid_argument("negative dimension in shape");
        auto st = sa::scalar_type(dtype);
        auto cpu = torch::empty(sizes, torch::TensorOptions().dtype(st));
        auto nbytes = cpu.numel() * cpu.element_size();
        if (nbytes > 0) {
            if (data == nullptr) throw std::invalid_argument("null data pointer for a non-empty tensor");
            std::memcpy(cpu.data_ptr(), data, static_cast<size_t>(nbytes));
        }
        auto dev = sa::device_of(device_type, device_index);
        at::Tensor out = dev.is_cpu() ? cpu : cpu.to(dev);
        if (requires_grad) out.set_requires_grad(true);
        return sa::wrap(out);
    })
}

int32_t sa_tensor_to_host(sa_tensor t, void* dst, int64_t nbytes) {
    SA_TRY(-1, {
        auto& x = sa::T(t);
        auto c = x.detach().to(c10::kCPU).contiguous();
        int64_t need = c.numel() * c.element_size();
        if (need != nbytes)
            throw std::invalid_argument("host buffer has " + std::to_string(nbytes) + " bytes, tensor needs " +
                                        std::to_string(need));
        if (need > 0) std::memcpy(dst, c.data_ptr(), static_cast<size_t>(need));
        return 0;
    })
}

int32_t sa_tensor_meta_get(sa_tensor t, sa_tensor_meta* out) {
    SA_TRY(-1, {
        auto& x = sa::T(t);
        if (!x.defined()) throw std::invalid_argument("undefined tensor");
        out->dtype = static_cast<int32_t>(x.scalar_type());
        out->ndim = static_cast<int32_t>(x.dim());
        out->device_type = sa::device_type_code(x.device().type());
        out->device_index = x.device().has_index() ? x.device().index() : 0;
        out->requires_grad = x.requires_grad();
        out->is_contiguous = x.is_contiguous();
        out->is_leaf = x.is_leaf();
        out->has_grad_fn = x.grad_fn() != nullptr;
        out->numel = x.numel();
        out->storage_offset = x.storage_offset();
        return 0;
    })
}

int32_t sa_tensor_sizes(sa_tensor t, int64_t* sizes, int64_t* strides) {
    SA_TRY(-1, {
        auto& x = sa::T(t);
        for (int64_t i = 0; i < x.dim(); i++) {
            if (sizes) sizes[i] = x.size(i);
            if (strides) strides[i] = x.stride(i);
        }
        return 0;
    })
}

int32_t sa_tensor_item(sa_tensor t, double* out) {
    SA_TRY(-1, {
        auto& x = sa::T(t);
        if (x.numel() != 1)
            throw std::invalid_argument("item() needs a tensor with one element, this one has " + std::to_string(x.numel()));
        *out = x.item().toDouble();
        return 0;
    })
}

}  // extern "C"
