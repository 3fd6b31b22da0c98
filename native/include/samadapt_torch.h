/* SamAdapt's C ABI over libtorch. Every function catches all C++ exceptions: on failure it returns an error
 * value (NULL / -1) and leaves a per-thread message readable with sa_last_error(). Nothing here aborts the process
 * on bad shapes, dtypes or devices. Tensor handles own one reference to an at::Tensor and must be freed with
 * sa_tensor_free. */
#ifndef SAMADAPT_TORCH_H
#define SAMADAPT_TORCH_H
#include <stdint.h>

#if defined(__GNUC__)
#define SA_API __attribute__((visibility("default")))
#else
#define SA_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sa_tensor_s* sa_tensor;

/* ---- errors ---- */
SA_API const char* sa_last_error(void); /* NULL when the last call succeeded */
/* Sets this thread's error message: managed callbacks (checkpoint) call it before returning failure so that the
 * error raised by the bridge says why. */
SA_API void sa_set_error(const char* msg);

/* ---- tensors ---- */
typedef struct {
    int32_t dtype;        /* c10::ScalarType */
    int32_t ndim;
    int32_t device_type;  /* 0 = cpu, 1 = cuda */
    int32_t device_index;
    int32_t requires_grad;
    int32_t is_contiguous;
    int32_t is_leaf;
    int32_t has_grad_fn;
    int64_t numel;
    int64_t storage_offset;
} sa_tensor_meta;

SA_API void sa_tensor_free(sa_tensor t);
SA_API sa_tensor sa_tensor_alias(sa_tensor t);
/* Replaces t's data with src's (like `param.data = src`): t keeps its identity and autograd flags. */
SA_API int32_t sa_tensor_set_data(sa_tensor t, sa_tensor src);
SA_API sa_tensor sa_tensor_from_host(const void* data, const int64_t* shape, int32_t ndim, int32_t dtype,
                                     int32_t device_type, int32_t device_index, int32_t requires_grad);
SA_API int32_t sa_tensor_to_host(sa_tensor t, void* dst, int64_t nbytes);
SA_API int32_t sa_tensor_meta_get(sa_tensor t, sa_tensor_meta* out);
SA_API int32_t sa_tensor_sizes(sa_tensor t, int64_t* sizes, int64_t* strides);
SA_API int32_t sa_tensor_item(sa_tensor t, double* out);
SA_API int64_t sa_live_tensor_handles(void);

/* ---- autograd ---- */
SA_API int32_t sa_tensor_set_requires_grad(sa_tensor t, int32_t requires_grad);
SA_API int32_t sa_tensor_backward(sa_tensor t, sa_tensor grad_or_null, int32_t retain_graph, int32_t create_graph);
SA_API sa_tensor sa_tensor_grad(sa_tensor t); /* NULL with no error when the grad is undefined */
SA_API int32_t sa_tensor_set_grad(sa_tensor t, sa_tensor grad_or_null);
/* torch::autograd::grad(outputs, inputs, grad_outputs); results written to grads (NULL where undefined) */
SA_API int32_t sa_autograd_grad(const sa_tensor* outputs, int32_t n_out, const sa_tensor* inputs, int32_t n_in,
                                const sa_tensor* grad_outputs_or_null, sa_tensor* grads, int32_t retain_graph,
                                int32_t create_graph, int32_t allow_unused);
SA_API int32_t sa_grad_enabled(void);
SA_API void sa_set_grad_enabled(int32_t enabled);
SA_API void* sa_inference_mode_enter(void);
SA_API void sa_inference_mode_exit(void* guard);

/* Gradient checkpointing: fn computes outputs from inputs; it runs once without grad now and again (with grad,
 * same RNG state and the same autocast settings) during backward. fn returns the number of outputs written, or -1 on error. */
typedef int32_t (*sa_checkpoint_fn)(void* ctx, const sa_tensor* inputs, int32_t n_in, sa_tensor* outputs, int32_t max_out);
/* release(ctx) is called exactly once, when the autograd graph that holds the checkpoint is destroyed. */
typedef void (*sa_release_fn)(void* ctx);
SA_API int32_t sa_checkpoint(sa_checkpoint_fn fn, sa_release_fn release, void* ctx, const sa_tensor* inputs, int32_t n_in,
                             sa_tensor* outputs, int32_t max_out);

/* ---- autocast ---- */
SA_API int32_t sa_autocast_set(int32_t device_type, int32_t enabled, int32_t dtype);
SA_API int32_t sa_autocast_enabled(int32_t device_type);
SA_API int32_t sa_autocast_dtype(int32_t device_type); /* the lower-precision dtype autocast uses on that device type */

/* ---- generic operator call through the c10 dispatcher ---- */
enum {
    SA_NONE = 0, SA_TENSOR = 1, SA_INT = 2, SA_DOUBLE = 3, SA_BOOL = 4, SA_INT_LIST = 5, SA_DOUBLE_LIST = 6,
    SA_TENSOR_LIST = 7, SA_STRING = 8, SA_BOOL_LIST = 9, SA_DEVICE = 10, SA_OPT_TENSOR_LIST = 11
};
typedef struct {
    int32_t kind;
    int32_t len;                 /* list length; device index for SA_DEVICE */
    union { int64_t i; double d; const void* p; } v;
} sa_value;

SA_API void* sa_op_find(const char* name, const char* overload);
SA_API int32_t sa_op_num_args(void* op);
SA_API const char* sa_op_schema(void* op);
/* Returns the number of values written to outs (tensors and lists of tensors are flattened), or -1. */
SA_API int32_t sa_op_call(void* op, const sa_value* args, int32_t nargs, sa_value* outs, int32_t max_outs);

/* ---- runtime ---- */
SA_API void sa_manual_seed(uint64_t seed);
/* Default generator state (uint8 tensor) of the CPU (device_type 0) or a CUDA device (device_type 1). */
SA_API sa_tensor sa_rng_get_state(int32_t device_type, int32_t device_index);
SA_API int32_t sa_rng_set_state(int32_t device_type, int32_t device_index, sa_tensor state);
SA_API void sa_set_num_threads(int32_t n);
SA_API int32_t sa_get_num_threads(void);
SA_API int32_t sa_cuda_is_available(void);
SA_API int32_t sa_cuda_device_count(void);
SA_API int32_t sa_cuda_synchronize(int32_t device);
SA_API int32_t sa_cuda_memory_stats(int32_t device, int64_t* allocated, int64_t* reserved, int64_t* peak_allocated);
SA_API int32_t sa_cuda_reset_peak(int32_t device);
SA_API int32_t sa_cuda_empty_cache(void);
SA_API int32_t sa_cuda_device_name(int32_t device, char* buf, int32_t len);
SA_API int32_t sa_set_tf32(int32_t matmul, int32_t cudnn);
SA_API int32_t sa_set_deterministic(int32_t enabled);
/* CPU caching allocator for blocks of 1 MiB and more (native/src/allocator.cpp): bytes held for reuse, the limit
 * ($SAMADAPT_CPU_CACHE_MB), and releasing every held block */
SA_API int64_t sa_cpu_cache_bytes(void);
SA_API int64_t sa_cpu_cache_limit(void);
SA_API void sa_cpu_cache_empty(void);
/* time per operator: start clears and records, stop stops recording, report gives lines "name\tcalls\tself_us\ttotal_us\tself_cpu_us" (CPU time of the calling thread) */
SA_API int32_t sa_profiler_start(void);
SA_API int32_t sa_profiler_stop(void);
SA_API const char* sa_profiler_report(void);
SA_API const char* sa_torch_version(void);
SA_API const char* sa_torch_config(void);

/* ---- distributed (c10d) ----
 * A TCP key-value store (rendezvous, heartbeats) and a process group (Gloo on CPU tensors; NCCL on CUDA tensors in
 * builds with SAMADAPT_WITH_NCCL). Every blocking call is bounded by a timeout; a dead or late peer is reported as an
 * error (-1 / NULL and sa_last_error), not a crash. Collectives work in place on the given tensors' data. */
typedef struct sa_store_s* sa_store;
typedef struct sa_process_group_s* sa_process_group;
enum { SA_BACKEND_GLOO = 0, SA_BACKEND_NCCL = 1 };
/* is_server: this process hosts the store (rank 0); world_size <= 0: unknown. */
SA_API sa_store sa_store_create(const char* host, int32_t port, int32_t world_size, int32_t is_server, int64_t timeout_ms);
SA_API void sa_store_free(sa_store s);
SA_API int32_t sa_store_set(sa_store s, const char* key, const void* data, int64_t len);
/* Waits up to timeout_ms for the key; returns the value's length (copies at most cap bytes into buf), or -1. */
SA_API int64_t sa_store_get(sa_store s, const char* key, void* buf, int64_t cap, int64_t timeout_ms);
SA_API int64_t sa_store_add(sa_store s, const char* key, int64_t delta); /* INT64_MIN on error */
SA_API int32_t sa_store_check(sa_store s, const char* key);               /* 1 exists, 0 not, -1 error */
/* device (Gloo): NULL/"" the default interface, "if:NAME" a network interface, otherwise a host name or address to bind. */
SA_API sa_process_group sa_pg_create(sa_store s, int32_t backend, int32_t rank, int32_t size, int64_t timeout_ms,
                                     const char* device);
SA_API void sa_pg_free(sa_process_group g);
SA_API int32_t sa_pg_broadcast(sa_process_group g, const sa_tensor* tensors, int32_t n, int32_t root);
/* Sum over ranks, then divide by divisor; packed into flat buckets of at most bucket_bytes per dtype/device. */
SA_API int32_t sa_pg_allreduce(sa_process_group g, const sa_tensor* tensors, int32_t n, double divisor, int64_t bucket_bytes);
SA_API int32_t sa_pg_barrier(sa_process_group g);
SA_API int32_t sa_pg_rank(sa_process_group g);
SA_API int32_t sa_pg_size(sa_process_group g);

#ifdef __cplusplus
}
#endif
#endif
