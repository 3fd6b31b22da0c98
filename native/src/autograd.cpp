// Autograd entry points: backward, grads, grad mode, inference mode, and gradient checkpointing (recompute in
// backward) as a custom autograd Function that calls back into managed code.
#include "common.h"
#include <ATen/CPUGeneratorImpl.h>
#ifdef SAMADAPT_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/CUDAContext.h>
#endif

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

struct RngSnapshot {
    at::Tensor cpu;
    std::vector<at::Tensor> cuda;
    static RngSnapshot take() {
        RngSnapshot s;
        auto gen = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(gen.mutex());
        s.cpu = gen.get_state();
#ifdef SAMADAPT_WITH_CUDA
        if (torch::cuda::is_available()) {
            for (int d = 0; d < static_cast<int>(torch::cuda::device_count()); d++) {
                auto g = at::cuda::detail::getDefaultCUDAGenerator(d);
                std::lock_guard<std::mutex> l2(g.mutex());
                s.cuda.push_back(g.get_state());
            }
        }
#endif
        return s;
    }
    void restore() const {
        auto gen = at::detail::getDefaultCPUGenerator();
        {
            std::lock_guard<std::mutex> lock(gen.mutex());
            gen.set_state(cpu);
        }
#ifdef SAMADAPT_WITH_CUDA
        for (size_t d = 0; d < cuda.size(); d++) {
            auto g = at::cuda::detail::getDefaultCUDAGenerator(static_cast<int>(d));
            std::lock_guard<std::mutex> l2(g.mutex());
            g.set_state(cuda[d]);
        }
#endif
    }
};

variable_list run_callback(sa_checkpoint_fn fn, void* ctx, const variable_list& inputs) {
    std::vector<sa_tensor> in;
    in.reserve(inputs.size());
    for (auto& t : inputs) in.push_back(sa::wrap(t));
    std::vector<sa_tensor> out(64, nullptr);
    int32_t n = fn(ctx, in.data(), static_cast<int32_t>(in.size()), out.data(), static_cast<int32_t>(out.size()));
    for (auto h : in) sa_tensor_free(h);
    if (n < 0) {
        for (auto h : out) sa_tensor_free(h);
        throw std::runtime_error("checkpointed function failed in managed code");
    }
    variable_list result;
    for (int32_t i = 0; i < n; i++) {
        result.push_back(sa::T(out[i]));
        sa_tensor_free(out[i]);
    }
    return result;
}

// Owns the managed callback's context: released when the autograd node (and so its saved data) is destroyed.
struct CallbackOwner : torch::CustomClassHolder {
    sa_release_fn release;
    void* user;
    CallbackOwner(sa_release_fn r, void* u) : release(r), user(u) {}
    ~CallbackOwner() override {
        if (release) release(user);
    }
};

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
    // The inputs arrive as a TensorList: autograd's argument scan (ExtractVariables) only treats Tensor, optional<Tensor> and
    // TensorList as variables — a std::vector<Tensor> would be taken as a non-tensor, leaving the output without a grad_fn.
    static variable_list forward(AutogradContext* ctx, at::TensorList input_list, int64_t fn, int64_t user, int64_t release) {
        variable_list inputs = input_list.vec();
        auto rng = std::make_shared<RngSnapshot>(RngSnapshot::take());
        ctx->saved_data["owner"] = c10::IValue::make_capsule(c10::make_intrusive<CallbackOwner>(
            reinterpret_cast<sa_release_fn>(release), reinterpret_cast<void*>(user)));
        ctx->saved_data["fn"] = fn;
        ctx->saved_data["user"] = user;
        ctx->saved_data["rng"] = c10::IValue(rng->cpu);
        ctx->saved_data["ninputs"] = static_cast<int64_t>(inputs.size());
        // keep CUDA RNG states too (as a tensor list)
        ctx->saved_data["rng_cuda"] = c10::IValue(c10::List<at::Tensor>(rng->cuda));
        ctx->save_for_backward(inputs);
        // Function::apply already runs forward with grad disabled
        return run_callback(reinterpret_cast<sa_checkpoint_fn>(fn), reinterpret_cast<void*>(user), inputs);
    }

    static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
        auto saved = ctx->get_saved_variables();
        auto fn = reinterpret_cast<sa_checkpoint_fn>(ctx->saved_data["fn"].toInt());
        auto user = reinterpret_cast<void*>(ctx->saved_data["user"].toInt());
        variable_list detached;
        for (auto& t : saved) {
            auto d = t.detach();
            d.set_requires_grad(t.requires_grad());
            detached.push_back(d);
        }
        RngSnapshot current = RngSnapshot::take();
        RngSnapshot then;
        then.cpu = ctx->saved_data["rng"].toTensor();
        for (const at::Tensor& t : ctx->saved_data["rng_cuda"].toTensorList()) then.cuda.push_back(t);
        variable_list outputs;
        {
            at::AutoGradMode enable(true);
            then.restore();
            outputs = run_callback(fn, user, detached);
            current.restore();
        }
        variable_list outs_with_grad, grads;
        for (size_t i = 0; i < outputs.size() && i < grad_outputs.size(); i++) {
            if (outputs[i].requires_grad() && grad_outputs[i].defined()) {
                outs_with_grad.push_back(outputs[i]);
                grads.push_back(grad_outputs[i]);
            }
        }
        if (!outs_with_grad.empty()) torch::autograd::backward(outs_with_grad, grads);
        variable_list result;
        for (auto& d : detached) result.push_back(d.requires_grad() ? d.grad() : at::Tensor());
        result.push_back(at::Tensor());  // fn
        result.push_back(at::Tensor());  // user
        result.push_back(at::Tensor());  // release
        return result;
    }
};

}  // namespace

namespace {
at::Generator default_generator(int32_t device_type, int32_t device_index) {
    if (device_type == 0) return at::detail::getDefaultCPUGenerator();
#ifdef SAMADAPT_WITH_CUDA
    if (device_type == 1) return at::cuda::detail::getDefaultCUDAGenerator(static_cast<c10::DeviceIndex>(device_index));
#endif
    throw std::invalid_argument("no default generator for device type " + std::to_string(device_type) +
                                " in this build");
}
}  // namespace

extern "C" {

sa_tensor sa_rng_get_state(int32_t device_type, int32_t device_index) {
    SA_TRY(nullptr, {
        auto gen = default_generator(device_type, device_index);
        std::lock_guard<std::mutex> lock(gen.mutex());
        return sa::wrap(gen.get_state());
    })
}

int32_t sa_rng_set_state(int32_t device_type, int32_t device_index, sa_tensor state) {
    SA_TRY(-1, {
        auto gen = default_generator(device_type, device_index);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(sa::T(state));
        return 0;
    })
}

int32_t sa_tensor_set_requires_grad(sa_tensor t, int32_t requires_grad) {
    SA_TRY(-1, { sa::T(t).set_requires_grad(requires_grad != 0); return 0; })
}

int32_t sa_tensor_backward(sa_tensor t, sa_tensor grad, int32_t retain_graph, int32_t create_graph) {
    SA_TRY(-1, {
        at::Tensor g = grad ? sa::T(grad) : at::Tensor();
        sa::T(t).backward(g, retain_graph ? c10::optional<bool>(true) : c10::nullopt, create_graph != 0);
        return 0;
    })
}

sa_tensor sa_tensor_grad(sa_tensor t) {
    SA_TRY(nullptr, {
        auto g = sa::T(t).grad();
        if (!g.defined()) return nullptr;
        return sa::wrap(g);
    })
}

int32_t sa_tensor_set_grad(sa_tensor t, sa_tensor grad) {
    SA_TRY(-1, {
        sa::T(t).mutable_grad() = grad ? sa::T(grad) : at::Tensor();
        return 0;
    })
}

int32_t sa_autograd_grad(const sa_tensor* outputs, int32_t n_out, const sa_tensor* inputs, int32_t n_in,
                         const sa_tensor* grad_outputs, sa_tensor* grads, int32_t retain_graph, int32_t create_graph,
                         int32_t allow_unused) {
    SA_TRY(-1, {
        variable_list outs, ins, gos;
        for (int i = 0; i < n_out; i++) outs.push_back(sa::T(outputs[i]));
        for (int i = 0; i < n_in; i++) ins.push_back(sa::T(inputs[i]));
        if (grad_outputs)
            for (int i = 0; i < n_out; i++) gos.push_back(grad_outputs[i] ? sa::T(grad_outputs[i]) : at::Tensor());
        auto res = torch::autograd::grad(outs, ins, gos, retain_graph ? c10::optional<bool>(true) : c10::nullopt,
                                         create_graph != 0, allow_unused != 0);
        for (int i = 0; i < n_in; i++) grads[i] = res[i].defined() ? sa::wrap(res[i]) : nullptr;
        return 0;
    })
}

int32_t sa_grad_enabled(void) { return at::GradMode::is_enabled(); }
void sa_set_grad_enabled(int32_t enabled) { at::GradMode::set_enabled(enabled != 0); }

void* sa_inference_mode_enter(void) {
    SA_TRY(nullptr, { return new c10::InferenceMode(true); })
}
void sa_inference_mode_exit(void* guard) { delete static_cast<c10::InferenceMode*>(guard); }

int32_t sa_checkpoint(sa_checkpoint_fn fn, sa_release_fn release, void* ctx, const sa_tensor* inputs, int32_t n_in,
                      sa_tensor* outputs, int32_t max_out) {
    SA_TRY(-1, {
        variable_list ins;
        for (int i = 0; i < n_in; i++) ins.push_back(sa::T(inputs[i]));
        auto outs = CheckpointFunction::apply(at::TensorList(ins), reinterpret_cast<int64_t>(fn), reinterpret_cast<int64_t>(ctx),
                                              reinterpret_cast<int64_t>(release));
        if (static_cast<int32_t>(outs.size()) > max_out) throw std::runtime_error("checkpoint: too many outputs");
        for (size_t i = 0; i < outs.size(); i++) outputs[i] = sa::wrap(outs[i]);
        return static_cast<int32_t>(outs.size());
    })
}

}  // extern "C"
