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
// (differentiable, any device). samadapt::rel_pos_attention_qkv does the same on the attention's fused qkv projection,
// reading each head's q, k, v and writing its output in place and computing the relative-position terms inside the tasks
// from the gathered tables (no per-head copies, no term tensors, no permute of the output).
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

// keys (Nk, d), rows ldk apart → panels of 16 keys, dst[(p·d + c)·16 + j] = k[p·16 + j][c]
void pack_keys(const float* k, int64_t ldk, int64_t nk, int64_t d, float* dst) {
    for (int64_t p = 0; p < nk / kPanel; p++)
        for (int64_t j = 0; j < kPanel; j++) {
            const float* src = k + (p * kPanel + j) * ldk;
            float* out = dst + p * d * kPanel + j;
            for (int64_t c = 0; c < d; c++) out[c * kPanel] = src[c];
        }
}

// The register tile of both products: c (MR rows, 16 columns) (+)= a (MR, k) · b (k, 16), a's rows lda apart, b's rows ldb
// apart, c's ldc apart; accumulate: add to c, else overwrite it. q·kᵀ: a = the scaled queries, b = a packed key panel; ·v:
// a = the probabilities, b = 16 columns of v.
template <int MR>
__attribute__((target("avx2,fma"))) inline void gemm_tile(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float* c,
                                                          int64_t ldc, bool accumulate) {
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        acc0[i] = accumulate ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
        acc1[i] = accumulate ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
    }
    for (int64_t j = 0; j < k; j++) {
        const __m256 b0 = _mm256_loadu_ps(b + j * ldb), b1 = _mm256_loadu_ps(b + j * ldb + 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m256 x = _mm256_broadcast_ss(a + i * lda + j);
            acc0[i] = _mm256_fmadd_ps(x, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(x, b1, acc1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(c + i * ldc, acc0[i]);
        _mm256_storeu_ps(c + i * ldc + 8, acc1[i]);
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
// logits rows ldl apart
__attribute__((target("avx2,fma"))) void qk_rows(const float* qs, int64_t r, int64_t d, const float* kp, int64_t nk, float* logits, int64_t ldl) {
    const int64_t panels = nk / kPanel, per_block = kKeyBlock / kPanel;
    for (int64_t p0 = 0; p0 < panels; p0 += per_block) {
        const int64_t p1 = std::min(panels, p0 + per_block);
        for (int64_t i = 0; i < r; i += kRowTile) {
            const float* qi = qs + i * d;
            float* li = logits + i * ldl;
            with_row_tile(r - i, [&](auto mr) {
                for (int64_t p = p0; p < p1; p++) gemm_tile<decltype(mr)::value>(qi, d, kp + p * d * kPanel, kPanel, d, li + p * kPanel, ldl, false);
            });
        }
    }
}

// out (r, dv) = diag(inv) · probs (r, Nk) · v (Nk, dv), in cache blocks of keys; probs' rows ldp apart, v's ldv, out's ldo
__attribute__((target("avx2,fma"))) void pv_rows(const float* probs, int64_t ldp, int64_t r, int64_t nk, const float* v, int64_t ldv, int64_t dv,
                                                 float* out, int64_t ldo, const float* inv) {
    for (int64_t j0 = 0; j0 < nk; j0 += kKeyBlock) {
        const int64_t keys = std::min(kKeyBlock, nk - j0);
        const bool first = j0 == 0;
        for (int64_t i = 0; i < r; i += kRowTile) {
            const float* pi = probs + i * ldp + j0;
            float* oi = out + i * ldo;
            const float* vj = v + j0 * ldv;
            with_row_tile(r - i, [&](auto mr) {
                for (int64_t s = 0; s < dv; s += kPanel) gemm_tile<decltype(mr)::value>(pi, ldp, vj + s, ldv, keys, oi + s, ldo, !first);
            });
        }
    }
    for (int64_t i = 0; i < r; i++) {
        const __m256 f = _mm256_set1_ps(inv[i]);
        for (int64_t c = 0; c < dv; c += 8) _mm256_storeu_ps(out + i * ldo + c, _mm256_mul_ps(_mm256_loadu_ps(out + i * ldo + c), f));
    }
}

// out[j] = Σ_c q[c]·tt[c·kk + j] for j < kk: one query row's relative-position terms from a table transposed to (d, kk),
// 8 outputs per vector and up to 64 per pass over q
__attribute__((target("avx2,fma"))) void rel_terms_avx2(const float* q, const float* tt, int64_t d, int64_t kk, float* out) {
    for (int64_t j0 = 0; j0 < kk; j0 += 64) {
        const int64_t vecs = std::min<int64_t>(8, (kk - j0 + 7) / 8);
        __m256 acc[8];
        __m256i mask[8];
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) {
            acc[v] = _mm256_setzero_ps();
            mask[v] = lane_mask(std::min<int64_t>(8, std::max<int64_t>(0, kk - j0 - 8 * v)));
        }
        for (int64_t c = 0; c < d; c++) {
            const __m256 a = _mm256_broadcast_ss(q + c);
            const float* row = tt + c * kk + j0;
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++)
                if (v < vecs) acc[v] = _mm256_fmadd_ps(a, _mm256_maskload_ps(row + 8 * v, mask[v]), acc[v]);
        }
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++)
            if (v < vecs) _mm256_maskstore_ps(out + j0 + 8 * v, mask[v], acc[v]);
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

// out[j] = Σ_c q[c]·tt[c·kk + j], j < kk (tt: a relative-position table of one query position, transposed to (d, kk))
void rel_terms(const float* q, const float* tt, int64_t d, int64_t kk, float* out) {
#ifdef SA_ROW_KERNEL_AVX2
    if (cpu_has_avx2_fma()) return rel_terms_avx2(q, tt, d, kk, out);
#endif
    for (int64_t j = 0; j < kk; j++) out[j] = 0;
    for (int64_t c = 0; c < d; c++)
        for (int64_t j = 0; j < kk; j++) out[j] += q[c] * tt[c * kk + j];
}

// row-major C (m, n) = A (m, k) · B (k, n), or · Bᵀ when b_transposed (B stored (n, k)); leading dims in elements
void gemm_rows(int m, int n, int k, const float* a, int lda, const float* b, int ldb, bool b_transposed, float* c, int ldc) {
    const float one = 1, zero = 0;
    // column-major view: Cᵀ (n, m) = Bᵀ · Aᵀ
    const char tb = b_transposed ? 'T' : 'N', ta = 'N';
    sgemm_(&tb, &ta, &n, &m, &k, &one, b, &ldb, a, &lda, &zero, c, &ldc);
}

// Where a call's operands lie. Entry e = (b, h), b = e / heads, h = e % heads, has the N query rows q + b·q_batch + h·q_head
// + i·ldq (d values each; likewise k and v with Nk rows) and writes its output rows o + b·o_batch + h·o_head + i·ldo (dv values).
// The relative-position terms come precomputed (rel_h (entries, N, kh), rel_w (entries, N, kw)) or are computed from the
// unscaled query rows and the gathered tables, transposed per query position (table_h (qh, d, kh), table_w (qw, d, kw); query
// row i sits at (i / qw, i % qw)).
struct Layout {
    int64_t batch = 0, heads = 1, n = 0, nk = 0, d = 0, dv = 0;
    const float *q = nullptr, *k = nullptr, *v = nullptr;
    float* o = nullptr;
    int64_t q_batch = 0, q_head = 0, ldq = 0, k_batch = 0, k_head = 0, ldk = 0, v_batch = 0, v_head = 0, ldv = 0;
    int64_t o_batch = 0, o_head = 0, ldo = 0;
    int64_t kh = 0, kw = 0, qw = 0;
    const float *rel_h = nullptr, *rel_w = nullptr, *table_h = nullptr, *table_w = nullptr;
    bool relative() const { return kh > 0; }
};

void run_tasks(const Layout& L, const at::TensorOptions& options, double scale, int64_t block_rows, bool fused_softmax) {
    const int64_t entries = L.batch * L.heads, n = L.n, nk = L.nk, d = L.d, dv = L.dv, kh = L.kh, kw = L.kw;
    if (entries == 0 || n == 0 || dv == 0) return;
    // rows per task: the requested block, or about 1 MiB of logits (a core's L2) and at least 16 rows
    int64_t rows = block_rows > 0 ? block_rows : std::max<int64_t>(16, (int64_t{1} << 18) / std::max<int64_t>(nk, 1));
    rows = std::min(rows, n);
    const int64_t per_entry = (n + rows - 1) / rows, tasks = entries * per_entry;
    const float fscale = static_cast<float>(scale);  // q * scale with a Python float rounds the factor to float first
    const bool rel = L.relative(), tables = rel && L.table_h != nullptr;
    auto q_of = [&](int64_t e) { return L.q + (e / L.heads) * L.q_batch + (e % L.heads) * L.q_head; };
    auto k_of = [&](int64_t e) { return L.k + (e / L.heads) * L.k_batch + (e % L.heads) * L.k_head; };
    auto v_of = [&](int64_t e) { return L.v + (e / L.heads) * L.v_batch + (e % L.heads) * L.v_head; };
    auto o_of = [&](int64_t e) { return L.o + (e / L.heads) * L.o_batch + (e % L.heads) * L.o_head; };

#ifdef SA_ROW_KERNEL_AVX2
    const bool row_kernel = fused_softmax && cpu_has_avx2_fma();
    // both products without BLAS where the keys and v's columns come in panels of 16 (global attention)
    const bool own_products = row_kernel && nk % kPanel == 0 && dv % kPanel == 0;
    // keys packed in panels and v's rows side by side (when they are strided, e.g. in the fused projection: 256 keys' rows of
    // one head would lie on 256 pages), once per entry in one parallel pass
    const bool copy_v = own_products && L.ldv != dv;
    at::Tensor packed, vcopy;
    if (own_products) {
        packed = at::empty({entries, nk * d}, options);
        if (copy_v) vcopy = at::empty({entries, nk * dv}, options);
        float* pp = packed.data_ptr<float>();
        float* pvc = copy_v ? vcopy.data_ptr<float>() : nullptr;
        at::parallel_for(0, entries, 1, [&](int64_t begin, int64_t end) {
            for (int64_t e = begin; e < end; e++) {
                pack_keys(k_of(e), L.ldk, nk, d, pp + e * nk * d);
                if (copy_v)
                    for (int64_t j = 0; j < nk; j++) std::copy_n(v_of(e) + j * L.ldv, dv, pvc + (e * nk + j) * dv);
            }
        });
    }
    const float* pkp = own_products ? packed.data_ptr<float>() : nullptr;
    const float* pvc = copy_v ? vcopy.data_ptr<float>() : nullptr;
#endif
    SingleThreadedBlas single;
    at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
        // this thread's buffers: scaled queries (rows, d), relative terms (rows, kh + kw), logits and probabilities (rows, Nk)
        std::vector<float> qs(static_cast<size_t>(rows * d)), inv(static_cast<size_t>(rows)),
            relbuf(static_cast<size_t>(tables ? rows * (kh + kw) : 0));
        auto logits = at::empty({rows, nk}, options), probs = at::empty({rows, nk}, options);
        float* pl = logits.data_ptr<float>();
#ifdef SA_ROW_KERNEL_AVX2
        auto padded = own_products ? at::empty({rows, nk + kPanel}, options) : at::Tensor();
#endif
        for (int64_t t = begin; t < end; t++) {
            const int64_t e = t / per_entry, r0 = (t % per_entry) * rows, r = std::min(rows, n - r0);
            const float *qe = q_of(e), *ke = k_of(e), *ve = v_of(e);
            float* oe = o_of(e) + r0 * L.ldo;
            for (int64_t i = 0; i < r; i++) {
                const float* qrow = qe + (r0 + i) * L.ldq;
                for (int64_t c = 0; c < d; c++) qs[i * d + c] = qrow[c] * fscale;
            }
            // the task's relative terms: rows of kh, then of kw
            const float *hrows = nullptr, *wrows = nullptr;
            int64_t hstride = kh, wstride = kw;
            if (tables) {
                for (int64_t i = 0; i < r; i++) {
                    const float* qrow = qe + (r0 + i) * L.ldq;
                    const int64_t y = (r0 + i) / L.qw, x = (r0 + i) % L.qw;
                    float* hr = relbuf.data() + i * (kh + kw);
                    rel_terms(qrow, L.table_h + y * d * kh, d, kh, hr);
                    rel_terms(qrow, L.table_w + x * d * kw, d, kw, hr + kh);
                }
                hrows = relbuf.data(), wrows = relbuf.data() + kh, hstride = wstride = kh + kw;
            } else if (rel) {
                hrows = L.rel_h + (e * n + r0) * kh, wrows = L.rel_w + (e * n + r0) * kw;
            }
#ifdef SA_ROW_KERNEL_AVX2
            if (own_products) {
                // logits rows padded by one cache line: rows a multiple of 4 KiB apart would share L1 sets in the product with v
                const int64_t ldl = nk + kPanel;
                float* pp = padded.data_ptr<float>();
                qk_rows(qs.data(), r, d, pkp + e * nk * d, nk, pp, ldl);
                for (int64_t i = 0; i < r; i++)
                    inv[i] = bias_softmax_row_avx2(pp + i * ldl, nk, rel ? hrows + i * hstride : nullptr, kh,
                                                   rel ? wrows + i * wstride : nullptr, kw, false);
                if (copy_v) pv_rows(pp, ldl, r, nk, pvc + e * nk * dv, dv, dv, oe, L.ldo, inv.data());
                else pv_rows(pp, ldl, r, nk, ve, L.ldv, dv, oe, L.ldo, inv.data());
                continue;
            }
#endif
            // (r, Nk) = qs · kᵀ
            gemm_rows(static_cast<int>(r), static_cast<int>(nk), static_cast<int>(d), qs.data(), static_cast<int>(d), ke,
                      static_cast<int>(L.ldk), true, pl, static_cast<int>(nk));
#ifdef SA_ROW_KERNEL_AVX2
            if (row_kernel) {
                // relative terms, maximum and softmax fused per row, in place (the probabilities replace the logits)
                for (int64_t i = 0; i < r; i++)
                    bias_softmax_row_avx2(pl + i * nk, nk, rel ? hrows + i * hstride : nullptr, kh, rel ? wrows + i * wstride : nullptr, kw);
                gemm_rows(static_cast<int>(r), static_cast<int>(dv), static_cast<int>(nk), pl, static_cast<int>(nk), ve,
                          static_cast<int>(L.ldv), false, oe, static_cast<int>(L.ldo));
                continue;
            }
#endif
            if (rel) {
                for (int64_t i = 0; i < r; i++) {
                    const float* hrow = hrows + i * hstride;
                    const float* wrow = wrows + i * wstride;
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
            gemm_rows(static_cast<int>(r), static_cast<int>(dv), static_cast<int>(nk), probs.data_ptr<float>(), static_cast<int>(nk), ve,
                      static_cast<int>(L.ldv), false, oe, static_cast<int>(L.ldo));
        }
    });
}

// q (B', N, d), k (B', Nk, d), v (B', Nk, dv), rel_h (B', N, kh) and rel_w (B', N, kw) or undefined → (B', N, dv)
at::Tensor cpu_float(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in, const at::Tensor& rh_in,
                     const at::Tensor& rw_in, double scale, int64_t block_rows, bool fused_softmax) {
    auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const bool rel = rh_in.defined();
    at::Tensor rh = rel ? rh_in.contiguous() : rh_in, rw = rel ? rw_in.contiguous() : rw_in;
    Layout L;
    L.batch = q.size(0), L.n = q.size(1), L.d = q.size(2), L.nk = k.size(1), L.dv = v.size(2);
    auto out = at::empty({L.batch, L.n, L.dv}, q.options());
    L.q = q.data_ptr<float>(), L.k = k.data_ptr<float>(), L.v = v.data_ptr<float>(), L.o = out.data_ptr<float>();
    L.q_batch = L.n * L.d, L.ldq = L.d, L.k_batch = L.nk * L.d, L.ldk = L.d, L.v_batch = L.nk * L.dv, L.ldv = L.dv;
    L.o_batch = L.n * L.dv, L.ldo = L.dv;
    if (rel) L.kh = rh.size(2), L.kw = rw.size(2), L.rel_h = rh.data_ptr<float>(), L.rel_w = rw.data_ptr<float>();
    run_tasks(L, q.options(), scale, block_rows, fused_softmax);
    return out;
}

// The fused projection qkv (B, H, W, 3E) of heads × d channels per part, tables (H, H, d) and (W, W, d) → (B, H, W, E), read
// and written in place: no copies of q, k, v into per-head tensors, no relative-term tensors, no permute of the output
at::Tensor cpu_fused(const at::Tensor& qkv_in, int64_t heads, const at::Tensor& th_in, const at::Tensor& tw_in, double scale,
                     bool fused_softmax) {
    auto qkv = qkv_in.contiguous();
    const bool rel = th_in.defined();
    // tables (H, H, d), (W, W, d) transposed to (H, d, H), (W, d, W): a query row's terms are then vectors over the keys
    at::Tensor th = rel ? th_in.transpose(1, 2).contiguous() : th_in, tw = rel ? tw_in.transpose(1, 2).contiguous() : tw_in;
    const int64_t b = qkv.size(0), h = qkv.size(1), w = qkv.size(2), c3 = qkv.size(3), e = c3 / 3;
    auto out = at::empty({b, h, w, e}, qkv.options());
    Layout L;
    L.batch = b, L.heads = heads, L.n = L.nk = h * w, L.d = L.dv = e / heads;
    const float* base = qkv.data_ptr<float>();
    L.q = base, L.k = base + e, L.v = base + 2 * e, L.o = out.data_ptr<float>();
    L.q_batch = L.k_batch = L.v_batch = L.n * c3, L.q_head = L.k_head = L.v_head = L.d, L.ldq = L.ldk = L.ldv = c3;
    L.o_batch = L.n * e, L.o_head = L.d, L.ldo = e;
    if (rel) L.kh = h, L.kw = w, L.qw = w, L.table_h = th.data_ptr<float>(), L.table_w = tw.data_ptr<float>();
    run_tasks(L, qkv.options(), scale, 0, fused_softmax);
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

// The same on the attention's fused projection: qkv (B, H, W, 3E) laid out [q | k | v], each num_heads × d; rel_h_table
// (H, H, d) and rel_w_table (W, W, d), the relative-position embeddings gathered per (query, key) offset (get_rel_pos), or
// both undefined; → (B, H, W, E), heads side by side as the attention's output projection takes them.
at::Tensor rel_pos_attention_qkv(const at::Tensor& qkv, int64_t num_heads, const c10::optional<at::Tensor>& rel_h_table,
                                 const c10::optional<at::Tensor>& rel_w_table, double scale, bool aten_softmax) {
    at::Tensor th = rel_h_table.has_value() ? *rel_h_table : at::Tensor(), tw = rel_w_table.has_value() ? *rel_w_table : at::Tensor();
    TORCH_CHECK(th.defined() == tw.defined(), "rel_pos_attention_qkv: rel_h_table and rel_w_table go together");
    TORCH_CHECK(qkv.dim() == 4 && qkv.size(3) % 3 == 0 && num_heads > 0 && (qkv.size(3) / 3) % num_heads == 0,
                "rel_pos_attention_qkv: qkv must be (B, H, W, 3E) with E a multiple of num_heads ", num_heads, ", got ", qkv.sizes());
    const int64_t b = qkv.size(0), h = qkv.size(1), w = qkv.size(2), e = qkv.size(3) / 3, d = e / num_heads, n = h * w;
    if (th.defined())
        TORCH_CHECK(th.dim() == 3 && tw.dim() == 3 && th.size(0) == h && th.size(1) == h && th.size(2) == d && tw.size(0) == w &&
                        tw.size(1) == w && tw.size(2) == d,
                    "rel_pos_attention_qkv: tables ", th.sizes(), " and ", tw.sizes(), " must be (", h, ", ", h, ", ", d, ") and (", w, ", ",
                    w, ", ", d, ")");
#ifdef SAMADAPT_WITH_BLAS
    bool fast = qkv.device().is_cpu() && qkv.scalar_type() == at::kFloat &&
                (!th.defined() || (th.device().is_cpu() && tw.device().is_cpu() && th.scalar_type() == at::kFloat &&
                                   tw.scalar_type() == at::kFloat)) &&
                !(at::GradMode::is_enabled() && (qkv.requires_grad() || (th.defined() && (th.requires_grad() || tw.requires_grad())))) &&
                n < INT32_MAX && qkv.size(3) < INT32_MAX;
    if (fast) return cpu_fused(qkv, num_heads, th, tw, scale, !aten_softmax);
#endif
    // per-head q, k, v (B·heads, N, d) and the decomposed terms rel_h = Σ_c q·table_h[y], rel_w = Σ_c q·table_w[x]
    auto parts = qkv.reshape({b, n, 3, num_heads, d}).permute({2, 0, 3, 1, 4}).reshape({3, b * num_heads, n, d});
    auto q = parts[0], k = parts[1], v = parts[2];
    c10::optional<at::Tensor> rh, rw;
    if (th.defined()) {
        auto rq = q.reshape({b * num_heads, h, w, d});
        rh = at::einsum("bhwc,hkc->bhwk", {rq, th}).reshape({b * num_heads, n, h});
        rw = at::einsum("bhwc,wkc->bhwk", {rq, tw}).reshape({b * num_heads, n, w});
    }
    return composite(q, k, v, rh, rw, scale).view({b, num_heads, h, w, d}).permute({0, 2, 3, 1, 4}).reshape({b, h, w, e});
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(samadapt, m) {
    m.def("rel_pos_attention(Tensor q, Tensor k, Tensor v, Tensor? rel_h, Tensor? rel_w, float scale, int block_rows=0, bool aten_softmax=False) -> Tensor");
    m.def("rel_pos_attention_qkv(Tensor qkv, int num_heads, Tensor? rel_h_table, Tensor? rel_w_table, float scale, bool aten_softmax=False) -> Tensor");
}

TORCH_LIBRARY_IMPL(samadapt, CompositeImplicitAutograd, m) {
    m.impl("rel_pos_attention", TORCH_FN(rel_pos_attention));
    m.impl("rel_pos_attention_qkv", TORCH_FN(rel_pos_attention_qkv));
}
