// samadapt::rel_pos_attention — the image encoder's attention softmax(q·scale·kᵀ + rel_h + rel_w)·v (docs/sam.md §1.3–1.4)
// for inference on the CPU: one parallel region per call, each thread taking whole tasks (a block of query rows of one
// batch entry) through q·scale, the q·kᵀ product, the two relative-position additions, softmax and the product with v
// while the task's logits stay in that core's cache. BLAS runs single-threaded inside the tasks, so the two cores never
// wait on each other between the steps (the composite form hands every step from libtorch's threads to BLAS's and back).
// Per element the order is the composite form's: q·scale rounded to float, (q·kᵀ + rel_h) + rel_w, softmax over the keys
// (max, exp(x − max) and its sum, · 1/sum), BLAS's summation order in the products. By default (x86-64 with AVX2/FMA) the
// additions, the maximum and the softmax run fused per row with a Cephes-style exp (within 2 ulp of expf: the output moves
// by about 1e-7 relative); aten_softmax=True uses ATen's softmax kernel instead (the composite form's arithmetic exactly).
// Under autograd (an input requiring grad), off the CPU, in other dtypes or without a BLAS the composite form runs instead
// (differentiable, any device).
#include "common.h"
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <dlfcn.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#ifdef SAMADAPT_WITH_BLAS
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
}
#endif

namespace {

// q (B', N, d) unscaled; k (B', Nk, d); v (B', Nk, dv); rel_h (B', N, kh) and rel_w (B', N, kw) or both undefined.
at::Tensor composite(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& rel_h,
                     const c10::optional<at::Tensor>& rel_w, double scale) {
    auto logits = at::matmul(q * scale, k.transpose(1, 2));
    if (rel_h.has_value() && rel_h->defined()) {
        int64_t b = logits.size(0), n = logits.size(1), kh = rel_h->size(2), kw = rel_w->size(2);
        logits = (logits.view({b, n, kh, kw}) + rel_h->unsqueeze(3) + rel_w->unsqueeze(2)).view({b, n, kh * kw});
    }
    return at::matmul(at::_softmax(logits, -1, false), v);
}

#ifdef SAMADAPT_WITH_BLAS
#if defined(__x86_64__) && defined(__GNUC__)
#define SA_ROW_KERNEL_AVX2 1
// exp of x ≤ 0 (logits less their row maximum), 8 lanes: Cephes' expf (range reduction by ln 2 in two parts, degree-5
// polynomial, 2ⁿ through the exponent bits), within 2 ulp of expf; below −87.34 the result is 0 (expf underflows there too)
__attribute__((target("avx2,fma"))) inline __m256 exp_nonpositive(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// lanes [0, count) of 8 set
__attribute__((target("avx2,fma"))) inline __m256i lane_mask(int64_t count) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), idx);
}

__attribute__((target("avx2,fma"))) inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

// One row of logits (Nk = kh·kw, or Nk alone when h is null): + h[y] + w[x] in place with the row maximum in the same
// pass, then softmax in place (exp(x − max) with its sum, then · 1/sum). With normalize = false the row keeps exp(x − max)
// and the caller applies the returned 1/sum (to the row's product with v). Returns 1/sum.
__attribute__((target("avx2,fma"))) float bias_softmax_row_avx2(float* row, int64_t nk, const float* h, int64_t kh, const float* w,
                                                                int64_t kw, bool normalize = true) {
    const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256 vmax = ninf;
    if (h != nullptr) {
        for (int64_t y = 0; y < kh; y++) {
            const __m256 hy = _mm256_set1_ps(h[y]);
            float* cell = row + y * kw;
            int64_t x = 0;
            for (; x + 8 <= kw; x += 8) {
                const __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(cell + x), hy), _mm256_loadu_ps(w + x));
                _mm256_storeu_ps(cell + x, v);
                vmax = _mm256_max_ps(vmax, v);
            }
            if (x < kw) {
                const __m256i m = lane_mask(kw - x);
                const __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_maskload_ps(cell + x, m), hy), _mm256_maskload_ps(w + x, m));
                _mm256_maskstore_ps(cell + x, m, v);
                vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(m)));
            }
        }
    } else {
        int64_t x = 0;
        for (; x + 8 <= nk; x += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + x));
        if (x < nk) {
            const __m256i m = lane_mask(nk - x);
            vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(ninf, _mm256_maskload_ps(row + x, m), _mm256_castsi256_ps(m)));
        }
    }
    const __m256 mx = _mm256_set1_ps(hmax(vmax));
    __m256 vsum = _mm256_setzero_ps();
    int64_t x = 0;
    for (; x + 8 <= nk; x += 8) {
        const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(row + x), mx));
        _mm256_storeu_ps(row + x, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (x < nk) {
        const __m256i m = lane_mask(nk - x);
        const __m256 e = _mm256_and_ps(exp_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(row + x, m), mx)), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(row + x, m, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    const float inv_sum = 1.0f / hsum(vsum);
    if (!normalize) return inv_sum;
    const __m256 inv = _mm256_set1_ps(inv_sum);
    for (x = 0; x + 8 <= nk; x += 8) _mm256_storeu_ps(row + x, _mm256_mul_ps(_mm256_loadu_ps(row + x), inv));
    if (x < nk) {
        const __m256i m = lane_mask(nk - x);
        _mm256_maskstore_ps(row + x, m, _mm256_mul_ps(_mm256_maskload_ps(row + x, m), inv));
    }
    return inv_sum;
}

// ---- the two products of a task without BLAS (global attention: Nk and dv multiples of 16) ----
// BLAS packs its operands on every call, and a task's products are thin (d = 64 deep for q·kᵀ, 64 wide for ·v): packing
// the task's 4096 keys cost about a quarter of the q·kᵀ product, for each of a head's 64 tasks. Here the keys are packed once
// per head (pack_keys) and v is read in place; register tiles of 6 rows × 16 columns (12 accumulators), cache blocks of 256
// keys (a block's packed keys, or its v rows, stay in L1/L2 for all the task's row tiles).
constexpr int64_t kPanel = 16;      // keys per packed panel; output columns per tile
constexpr int64_t kRowTile = 6;     // query rows per register tile
constexpr int64_t kKeyBlock = 256;  // keys per cache block

// keys (Nk, d) row-major → panels of 16 keys, dst[(p·d + c)·16 + j] = k[p·16 + j][c]
void pack_keys(const float* k, int64_t nk, int64_t d, float* dst) {
    for (int64_t p = 0; p < nk / kPanel; p++)
        for (int64_t j = 0; j < kPanel; j++) {
            const float* src = k + (p * kPanel + j) * d;
            float* out = dst + p * d * kPanel + j;
            for (int64_t c = 0; c < d; c++) out[c * kPanel] = src[c];
        }
}

// logits (MR rows, the panel's 16 keys) = qs (MR, d) · panelᵀ; logits row stride ldl
template <int MR>
__attribute__((target("avx2,fma"))) inline void qk_tile(const float* qs, int64_t d, const float* panel, float* logits, int64_t ldl) {
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm256_setzero_ps();
    for (int64_t c = 0; c < d; c++) {
        const __m256 k0 = _mm256_loadu_ps(panel + c * kPanel), k1 = _mm256_loadu_ps(panel + c * kPanel + 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m256 a = _mm256_broadcast_ss(qs + i * d + c);
            acc0[i] = _mm256_fmadd_ps(a, k0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(a, k1, acc1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(logits + i * ldl, acc0[i]);
        _mm256_storeu_ps(logits + i * ldl + 8, acc1[i]);
    }
}

// f(std::integral_constant<int, MR>) with MR = min(rows, kRowTile): the register tile's row count as a template argument
template <typename F>
void with_row_tile(int64_t rows, F&& f) {
    switch (std::min<int64_t>(kRowTile, rows)) {
        case 6: f(std::integral_constant<int, 6>{}); break;
        case 5: f(std::integral_constant<int, 5>{}); break;
        case 4: f(std::integral_constant<int, 4>{}); break;
        case 3: f(std::integral_constant<int, 3>{}); break;
        case 2: f(std::integral_constant<int, 2>{}); break;
        default: f(std::integral_constant<int, 1>{}); break;
    }
}

// logits (r, Nk) = qs (r, d) · kᵀ from the packed panels kp
__attribute__((target("avx2,fma"))) void qk_rows(const float* qs, int64_t r, int64_t d, const float* kp, int64_t nk, float* logits) {
    const int64_t panels = nk / kPanel, per_block = kKeyBlock / kPanel;
    for (int64_t p0 = 0; p0 < panels; p0 += per_block) {
        const int64_t p1 = std::min(panels, p0 + per_block);
        for (int64_t i = 0; i < r; i += kRowTile) {
            const float* qi = qs + i * d;
            float* li = logits + i * nk;
            with_row_tile(r - i, [&](auto mr) {
                for (int64_t p = p0; p < p1; p++) qk_tile<decltype(mr)::value>(qi, d, kp + p * d * kPanel, li + p * kPanel, nk);
            });
        }
    }
}

// out (MR rows, 16 columns) (+)= probs (MR, keys) · v (keys, 16 columns); first: start from zero, else add to out
template <int MR>
__attribute__((target("avx2,fma"))) inline void pv_tile(const float* probs, int64_t ldp, const float* v, int64_t ldv, int64_t keys,
                                                        float* out, int64_t ldo, bool first) {
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        acc0[i] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(out + i * ldo);
        acc1[i] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(out + i * ldo + 8);
    }
    for (int64_t j = 0; j < keys; j++) {
        const __m256 v0 = _mm256_loadu_ps(v + j * ldv), v1 = _mm256_loadu_ps(v + j * ldv + 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m256 a = _mm256_broadcast_ss(probs + i * ldp + j);
            acc0[i] = _mm256_fmadd_ps(a, v0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(a, v1, acc1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(out + i * ldo, acc0[i]);
        _mm256_storeu_ps(out + i * ldo + 8, acc1[i]);
    }
}

// out (r, dv) = diag(inv) · probs (r, Nk) · v (Nk, dv), in cache blocks of keys
__attribute__((target("avx2,fma"))) void pv_rows(const float* probs, int64_t r, int64_t nk, const float* v, int64_t dv, float* out,
                                                 const float* inv) {
    for (int64_t j0 = 0; j0 < nk; j0 += kKeyBlock) {
        const int64_t keys = std::min(kKeyBlock, nk - j0);
        const bool first = j0 == 0;
        for (int64_t i = 0; i < r; i += kRowTile) {
            const float* pi = probs + i * nk + j0;
            float* oi = out + i * dv;
            const float* vj = v + j0 * dv;
            with_row_tile(r - i, [&](auto mr) {
                for (int64_t s = 0; s < dv; s += kPanel) pv_tile<decltype(mr)::value>(pi, nk, vj + s, dv, keys, oi + s, dv, first);
            });
        }
    }
    for (int64_t i = 0; i < r; i++) {
        const __m256 f = _mm256_set1_ps(inv[i]);
        for (int64_t c = 0; c < dv; c += 8) _mm256_storeu_ps(out + i * dv + c, _mm256_mul_ps(_mm256_loadu_ps(out + i * dv + c), f));
    }
}

bool cpu_has_avx2_fma() {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}
#endif

// OpenBLAS's thread count, when the BLAS is OpenBLAS (looked up once; null otherwise)
using SetThreads = void (*)(int);
using GetThreads = int (*)();
struct BlasThreads {
    SetThreads set = nullptr;
    GetThreads get = nullptr;
    BlasThreads() {
        set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
        get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
        if (set == nullptr || get == nullptr) set = nullptr, get = nullptr;
    }
};
const BlasThreads& blas_threads() {
    static BlasThreads t;
    return t;
}

// Single-threaded BLAS for the lifetime of the guard (restores the previous count).
struct SingleThreadedBlas {
    int previous = 0;
    SingleThreadedBlas() {
        auto& t = blas_threads();
        if (t.set == nullptr) return;
        previous = t.get();
        if (previous > 1) t.set(1);
    }
    ~SingleThreadedBlas() {
        if (previous > 1) blas_threads().set(previous);
    }
};

// row-major C (m, n) = A (m, k) · B (k, n), or · Bᵀ when b_transposed (B stored (n, k)); leading dims in elements
void gemm_rows(int m, int n, int k, const float* a, int lda, const float* b, int ldb, bool b_transposed, float* c, int ldc) {
    const float one = 1, zero = 0;
    // column-major view: Cᵀ (n, m) = Bᵀ · Aᵀ
    const char tb = b_transposed ? 'T' : 'N', ta = 'N';
    sgemm_(&tb, &ta, &n, &m, &k, &one, b, &ldb, a, &lda, &zero, c, &ldc);
}

at::Tensor cpu_float(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in, const at::Tensor& rh_in,
                     const at::Tensor& rw_in, double scale, int64_t block_rows, bool fused_softmax) {
    auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const bool rel = rh_in.defined();
    at::Tensor rh = rel ? rh_in.contiguous() : rh_in, rw = rel ? rw_in.contiguous() : rw_in;
    const int64_t bp = q.size(0), n = q.size(1), d = q.size(2), nk = k.size(1), dv = v.size(2);
    const int64_t kh = rel ? rh.size(2) : 0, kw = rel ? rw.size(2) : 0;
    auto out = at::empty({bp, n, dv}, q.options());
    if (bp == 0 || n == 0 || dv == 0) return out;
    // rows per task: the requested block, or about 1 MiB of logits (a core's L2) and at least 16 rows
    int64_t rows = block_rows > 0 ? block_rows : std::max<int64_t>(16, (int64_t{1} << 18) / std::max<int64_t>(nk, 1));
    rows = std::min(rows, n);
    const int64_t per_entry = (n + rows - 1) / rows, tasks = bp * per_entry;
    const float fscale = static_cast<float>(scale);  // q * scale with a Python float rounds the factor to float first
    const float *pq = q.data_ptr<float>(), *pk = k.data_ptr<float>(), *pv = v.data_ptr<float>();
    const float* ph = rel ? rh.data_ptr<float>() : nullptr;
    const float* pw = rel ? rw.data_ptr<float>() : nullptr;
    float* po = out.data_ptr<float>();

#ifdef SA_ROW_KERNEL_AVX2
    const bool row_kernel = fused_softmax && cpu_has_avx2_fma();
    // both products without BLAS where the keys and v's columns come in panels of 16 (global attention)
    const bool own_products = row_kernel && nk % kPanel == 0 && dv % kPanel == 0;
    at::Tensor packed;
    if (own_products) {
        packed = at::empty({bp, nk * d}, q.options());
        float* pp = packed.data_ptr<float>();
        at::parallel_for(0, bp, 1, [&](int64_t begin, int64_t end) {
            for (int64_t b = begin; b < end; b++) pack_keys(pk + b * nk * d, nk, d, pp + b * nk * d);
        });
    }
    const float* pkp = own_products ? packed.data_ptr<float>() : nullptr;
#endif
    SingleThreadedBlas single;
    at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
        // this thread's buffers: scaled queries (rows, d), logits and probabilities (rows, Nk)
        std::vector<float> qs(static_cast<size_t>(rows * d)), inv(static_cast<size_t>(rows));
        auto logits = at::empty({rows, nk}, q.options()), probs = at::empty({rows, nk}, q.options());
        float* pl = logits.data_ptr<float>();
        for (int64_t t = begin; t < end; t++) {
            const int64_t b = t / per_entry, r0 = (t % per_entry) * rows, r = std::min(rows, n - r0);
            const float* qrow = pq + (b * n + r0) * d;
            for (int64_t i = 0; i < r * d; i++) qs[i] = qrow[i] * fscale;
#ifdef SA_ROW_KERNEL_AVX2
            if (own_products) {
                qk_rows(qs.data(), r, d, pkp + b * nk * d, nk, pl);
                for (int64_t i = 0; i < r; i++)
                    inv[i] = bias_softmax_row_avx2(pl + i * nk, nk, rel ? ph + (b * n + r0 + i) * kh : nullptr, kh,
                                                   rel ? pw + (b * n + r0 + i) * kw : nullptr, kw, false);
                pv_rows(pl, r, nk, pv + b * nk * dv, dv, po + (b * n + r0) * dv, inv.data());
                continue;
            }
#endif
            // (r, Nk) = qs · kᵀ
            gemm_rows(static_cast<int>(r), static_cast<int>(nk), static_cast<int>(d), qs.data(), static_cast<int>(d),
                      pk + b * nk * d, static_cast<int>(d), true, pl, static_cast<int>(nk));
#ifdef SA_ROW_KERNEL_AVX2
            if (row_kernel) {
                // relative terms, maximum and softmax fused per row, in place (the probabilities replace the logits)
                for (int64_t i = 0; i < r; i++)
                    bias_softmax_row_avx2(pl + i * nk, nk, rel ? ph + (b * n + r0 + i) * kh : nullptr, kh,
                                          rel ? pw + (b * n + r0 + i) * kw : nullptr, kw);
                gemm_rows(static_cast<int>(r), static_cast<int>(dv), static_cast<int>(nk), pl, static_cast<int>(nk), pv + b * nk * dv,
                          static_cast<int>(dv), false, po + (b * n + r0) * dv, static_cast<int>(dv));
                continue;
            }
#endif
            if (rel) {
                for (int64_t i = 0; i < r; i++) {
                    const float* hrow = ph + (b * n + r0 + i) * kh;
                    const float* wrow = pw + (b * n + r0 + i) * kw;
                    float* lrow = pl + i * nk;
                    for (int64_t y = 0; y < kh; y++) {
                        const float hy = hrow[y];
                        float* cell = lrow + y * kw;
                        for (int64_t x = 0; x < kw; x++) cell[x] = (cell[x] + hy) + wrow[x];
                    }
                }
            }
            auto lv = r == rows ? logits : logits.narrow(0, 0, r);
            auto pv_ = r == rows ? probs : probs.narrow(0, 0, r);
            at::_softmax_out(pv_, lv, -1, false);  // inside the parallel region: runs on this thread
            // (r, dv) = probs · v, straight into the output rows
            gemm_rows(static_cast<int>(r), static_cast<int>(dv), static_cast<int>(nk), probs.data_ptr<float>(),
                      static_cast<int>(nk), pv + b * nk * dv, static_cast<int>(dv), false, po + (b * n + r0) * dv,
                      static_cast<int>(dv));
        }
    });
    return out;
}

bool any_requires_grad(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rh, const at::Tensor& rw) {
    return q.requires_grad() || k.requires_grad() || v.requires_grad() || (rh.defined() && rh.requires_grad()) ||
           (rw.defined() && rw.requires_grad());
}
#endif

at::Tensor rel_pos_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& rel_h,
                             const c10::optional<at::Tensor>& rel_w, double scale, int64_t block_rows, bool aten_softmax) {
    at::Tensor rh = rel_h.has_value() ? *rel_h : at::Tensor(), rw = rel_w.has_value() ? *rel_w : at::Tensor();
    TORCH_CHECK(rh.defined() == rw.defined(), "rel_pos_attention: rel_h and rel_w go together");
    TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, "rel_pos_attention: q, k, v must be (B', N, d), got ", q.sizes(), ", ",
                k.sizes(), ", ", v.sizes());
    TORCH_CHECK(k.size(0) == q.size(0) && v.size(0) == q.size(0) && k.size(2) == q.size(2) && v.size(1) == k.size(1),
                "rel_pos_attention: q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes(), " do not match");
    if (rh.defined())
        TORCH_CHECK(rh.dim() == 3 && rw.dim() == 3 && rh.size(0) == q.size(0) && rw.size(0) == q.size(0) && rh.size(1) == q.size(1) &&
                        rw.size(1) == q.size(1) && rh.size(2) * rw.size(2) == k.size(1),
                    "rel_pos_attention: rel_h ", rh.sizes(), " and rel_w ", rw.sizes(), " do not cover q ", q.sizes(), " and k ", k.sizes());
#ifdef SAMADAPT_WITH_BLAS
    bool fast = q.device().is_cpu() && k.device().is_cpu() && v.device().is_cpu() && q.scalar_type() == at::kFloat &&
                k.scalar_type() == at::kFloat && v.scalar_type() == at::kFloat &&
                (!rh.defined() || (rh.device().is_cpu() && rw.device().is_cpu() && rh.scalar_type() == at::kFloat &&
                                   rw.scalar_type() == at::kFloat)) &&
                !(at::GradMode::is_enabled() && any_requires_grad(q, k, v, rh, rw)) && q.size(1) < INT32_MAX &&
                k.size(1) < INT32_MAX && q.size(2) < INT32_MAX && v.size(2) < INT32_MAX;
    if (fast) return cpu_float(q, k, v, rh, rw, scale, block_rows, !aten_softmax);
#endif
    return composite(q, k, v, rel_h, rel_w, scale);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(samadapt, m) {
    m.def("rel_pos_attention(Tensor q, Tensor k, Tensor v, Tensor? rel_h, Tensor? rel_w, float scale, int block_rows=0, bool aten_softmax=False) -> Tensor");
}

TORCH_LIBRARY_IMPL(samadapt, CompositeImplicitAutograd, m) {
    m.impl("rel_pos_attention", TORCH_FN(rel_pos_attention));
}
