// Workarounds for libtorch kernel defects, registered as operators of the `samadapt` namespace: the C# op layer calls
// them through the dispatcher like any ATen op (src/SamAdapt.Torch/Native/Op.cs), so every caller gets the fix.
// Forward results are those of the ATen op itself (bit-identical); only the backward is routed around the defect.
#include "common.h"
#include <torch/library.h>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Debian's libtorch 1.13 CPU kernel of aten::gelu_backward (exact GELU, float32 and bfloat16) returns wrong values
// (relative error ~1, sometimes NaN) when the incoming gradient's strides differ from the input's, e.g. a gradient
// arriving through a transpose/permute. float64 is right, so finite-difference checks cannot see it. The backward
// below hands the kernel operands of one layout (a copy only when the layouts differ); the math is unchanged.
struct GeluFunction : public torch::autograd::Function<GeluFunction> {
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, std::string approximate) {
        ctx->save_for_backward({self});
        ctx->saved_data["approximate"] = approximate;
        return at::gelu(self, approximate);  // grad mode is off here (Function::apply)
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        at::Tensor self = ctx->get_saved_variables()[0];
        at::Tensor grad = grads[0];
        if (!grad.defined()) return {at::Tensor(), at::Tensor()};
        if (grad.strides() != self.strides()) {
            grad = grad.contiguous();
            self = self.contiguous();
        }
        auto approximate = ctx->saved_data["approximate"].toStringRef();
        return {at::gelu_backward(grad, self, approximate), at::Tensor()};
    }
};

at::Tensor gelu(const at::Tensor& self, c10::string_view approximate) {
    return GeluFunction::apply(self, std::string(approximate));
}

}  // namespace

TORCH_LIBRARY(samadapt, m) {
    // same schema as aten::gelu
    m.def("gelu(Tensor self, *, str approximate='none') -> Tensor");
}

TORCH_LIBRARY_IMPL(samadapt, CompositeImplicitAutograd, m) {
    m.impl("gelu", TORCH_FN(gelu));
}
