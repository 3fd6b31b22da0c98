// samadapt::bmm — batched matrix product whose CPU float32/float64 path calls BLAS once per batch entry directly.
// libtorch 1.13 built without MKL (Debian) runs aten::bmm as a loop of select + mm dispatches per batch entry: with
// the many small matrices of windowed and multi-head attention (e.g. 160 products of 16×16 per call) that per-entry
// overhead costs more than the arithmetic. Same math, BLAS's own summation order; other dtypes/devices, and CPU
// bf16 autocast, go to aten::bmm. Autograd: d(self) = grad·mat2ᵀ, d(mat2) = selfᵀ·grad, through the same op.
#include "common.h"
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/library.h>

#ifdef SAMADAPT_WITH_BLAS
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c, const int* ldc);
}
#endif

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

#ifdef SAMADAPT_WITH_BLAS
// A (batch, rows, cols) operand as BLAS sees it: row-major with unit column stride, or its transpose (unit row stride).
struct Operand {
    at::Tensor t;
    bool transposed = false;  // true: stored column-major (stride(1) == 1)
    int64_t ld = 0;
};

Operand operand(const at::Tensor& x) {
    auto r = x.size(1), c = x.size(2);
    if (x.stride(2) == 1 && (r == 1 || x.stride(1) >= std::max<int64_t>(c, 1))) return {x, false, r == 1 ? std::max<int64_t>(c, 1) : x.stride(1)};
    if (x.stride(1) == 1 && (c == 1 || x.stride(2) >= std::max<int64_t>(r, 1))) return {x, true, c == 1 ? std::max<int64_t>(r, 1) : x.stride(2)};
    auto y = x.contiguous();
    return {y, false, std::max<int64_t>(c, 1)};
}

template <typename T>
void gemm(char ta, char tb, int m, int n, int k, const T* a, int lda, const T* b, int ldb, T* c, int ldc);

template <>
void gemm<float>(char ta, char tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc) {
    const float one = 1, zero = 0;
    sgemm_(&ta, &tb, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc);
}

template <>
void gemm<double>(char ta, char tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb, double* c, int ldc) {
    const double one = 1, zero = 0;
    dgemm_(&ta, &tb, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc);
}

// out[i] = a[i] · b[i], row-major out. In column-major terms outᵀ = bᵀ · aᵀ, so b is BLAS's first operand.
template <typename T>
at::Tensor blas_bmm(const at::Tensor& a_in, const at::Tensor& b_in) {
    int64_t batch = a_in.size(0), m = a_in.size(1), k = a_in.size(2), n = b_in.size(2);
    auto out = at::empty({batch, m, n}, a_in.options());
    if (batch == 0 || m == 0 || n == 0) return out;
    if (k == 0) return out.zero_();
    Operand a = operand(a_in), b = operand(b_in);
    const T* pa = a.t.data_ptr<T>();
    const T* pb = b.t.data_ptr<T>();
    T* pc = out.data_ptr<T>();
    int64_t sa = a.t.stride(0), sb = b.t.stride(0);
    char ta = a.transposed ? 'T' : 'N', tb = b.transposed ? 'T' : 'N';
    auto one = [&](int64_t i) {
        gemm<T>(tb, ta, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), pb + i * sb, static_cast<int>(b.ld),
                pa + i * sa, static_cast<int>(a.ld), pc + i * m * n, static_cast<int>(n));
    };
    // small products: spread the batch over libtorch's threads (BLAS runs each single-threaded at these sizes), in chunks
    // of at least 2¹⁷ multiply-adds — waking the other threads costs more than a few tiny products, and a training step
    // makes hundreds of such calls; large ones: one after another, BLAS threads each
    const int64_t work = std::max<int64_t>(m * n * k, 1);
    if (work < 64 * 64 * 64 && batch > 1)
        at::parallel_for(0, batch, std::max<int64_t>(1, (int64_t{1} << 17) / work),
                         [&](int64_t begin, int64_t end) { for (int64_t i = begin; i < end; i++) one(i); });
    else
        for (int64_t i = 0; i < batch; i++) one(i);
    return out;
}
#endif

// Whether the BLAS path takes these operands (CPU, float32/float64, plain strided, no CPU autocast that would cast them).
bool fast_path(const at::Tensor& a, const at::Tensor& b) {
#ifdef SAMADAPT_WITH_BLAS
    return a.device().is_cpu() && b.device().is_cpu() && a.dim() == 3 && b.dim() == 3 && a.scalar_type() == b.scalar_type() &&
           (a.scalar_type() == at::kFloat || a.scalar_type() == at::kDouble) && !a.is_conj() && !b.is_conj() &&
           a.layout() == at::kStrided && b.layout() == at::kStrided && !at::autocast::is_cpu_enabled() &&
           a.size(0) == b.size(0) && a.size(2) == b.size(1) &&
           a.size(1) < INT32_MAX && a.size(2) < INT32_MAX && b.size(2) < INT32_MAX;
#else
    return false;
#endif
}

at::Tensor bmm_impl(const at::Tensor& a, const at::Tensor& b) {
#ifdef SAMADAPT_WITH_BLAS
    if (fast_path(a, b)) return a.scalar_type() == at::kFloat ? blas_bmm<float>(a, b) : blas_bmm<double>(a, b);
#endif
    return at::bmm(a, b);
}

struct BmmFunction : public torch::autograd::Function<BmmFunction> {
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
        ctx->save_for_backward({a, b});
        return bmm_impl(a, b);
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &a = saved[0], &b = saved[1], &g = grads[0];
        at::Tensor ga, gb;
        if (!g.defined()) return {ga, gb};
        // differentiable when a graph is being built (create_graph): then through this op again
        if (ctx->needs_input_grad(0)) ga = at::GradMode::is_enabled() ? BmmFunction::apply(g, b.transpose(1, 2)) : bmm_impl(g, b.transpose(1, 2));
        if (ctx->needs_input_grad(1)) gb = at::GradMode::is_enabled() ? BmmFunction::apply(a.transpose(1, 2), g) : bmm_impl(a.transpose(1, 2), g);
        return {ga, gb};
    }
};

at::Tensor bmm(const at::Tensor& a, const at::Tensor& b) {
    // anything the BLAS path does not take (GPU, other dtypes, autocast, wrong shapes) is aten::bmm with its own
    // autograd, casts and error messages
    if (!fast_path(a, b)) return at::bmm(a, b);
    return BmmFunction::apply(a, b);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(samadapt, m) {
    m.def("bmm(Tensor self, Tensor mat2) -> Tensor");
}

TORCH_LIBRARY_IMPL(samadapt, CompositeImplicitAutograd, m) {
    m.impl("bmm", TORCH_FN(bmm));
}
