// Generic operator calls through the c10 dispatcher: every ATen op (with autograd and autocast) is reachable from
// C# without a native function per op. The C# side finds an op once (cached handle) and calls it with a marshalled
// argument array; outputs come back flattened.
#include "common.h"
#include <ATen/core/dispatch/Dispatcher.h>
#include <sstream>

namespace {

c10::IValue to_ivalue(const sa_value& a) {
    switch (a.kind) {
        case SA_NONE: return c10::IValue();
        case SA_TENSOR:
            if (a.v.p == nullptr) return c10::IValue();
            return c10::IValue(*reinterpret_cast<const at::Tensor*>(a.v.p));
        case SA_INT: return c10::IValue(a.v.i);
        case SA_DOUBLE: return c10::IValue(a.v.d);
        case SA_BOOL: return c10::IValue(a.v.i != 0);
        case SA_INT_LIST: {
            auto p = static_cast<const int64_t*>(a.v.p);
            return c10::IValue(std::vector<int64_t>(p, p + a.len));
        }
        case SA_DOUBLE_LIST: {
            auto p = static_cast<const double*>(a.v.p);
            return c10::IValue(std::vector<double>(p, p + a.len));
        }
        case SA_BOOL_LIST: {
            auto p = static_cast<const int64_t*>(a.v.p);
            c10::List<bool> l;
            for (int i = 0; i < a.len; i++) l.push_back(p[i] != 0);
            return c10::IValue(l);
        }
        case SA_TENSOR_LIST: {
            auto p = static_cast<const sa_tensor*>(a.v.p);
            c10::List<at::Tensor> l;
            l.reserve(a.len);
            for (int i = 0; i < a.len; i++) l.push_back(sa::T(p[i]));
            return c10::IValue(l);
        }
        case SA_OPT_TENSOR_LIST: {
            auto p = static_cast<const sa_tensor*>(a.v.p);
            c10::List<c10::optional<at::Tensor>> l;
            l.reserve(a.len);
            for (int i = 0; i < a.len; i++) {
                if (p[i] == nullptr) l.push_back(c10::nullopt);
                else l.push_back(sa::T(p[i]));
            }
            return c10::IValue(l);
        }
        case SA_STRING: return c10::IValue(std::string(static_cast<const char*>(a.v.p)));
        case SA_DEVICE: return c10::IValue(sa::device_of(static_cast<int32_t>(a.v.i), a.len));
        default: throw std::invalid_argument("unknown argument kind " + std::to_string(a.kind));
    }
}

void put(sa_value* outs, int32_t max_outs, int32_t& n, const sa_value& v) {
    if (n >= max_outs) throw std::runtime_error("operator returned more than " + std::to_string(max_outs) + " values");
    outs[n++] = v;
}

void from_ivalue(const c10::IValue& v, sa_value* outs, int32_t max_outs, int32_t& n) {
    sa_value o{};
    if (v.isTensor()) {
        const auto& t = v.toTensor();
        if (t.defined()) { o.kind = SA_TENSOR; o.v.p = sa::wrap(t); }
        else o.kind = SA_NONE;
        put(outs, max_outs, n, o);
    } else if (v.isTensorList()) {
        for (const at::Tensor& t : v.toTensorList()) from_ivalue(c10::IValue(t), outs, max_outs, n);
    } else if (v.isTuple()) {
        for (const auto& e : v.toTupleRef().elements()) from_ivalue(e, outs, max_outs, n);
    } else if (v.isInt()) {
        o.kind = SA_INT; o.v.i = v.toInt(); put(outs, max_outs, n, o);
    } else if (v.isDouble()) {
        o.kind = SA_DOUBLE; o.v.d = v.toDouble(); put(outs, max_outs, n, o);
    } else if (v.isBool()) {
        o.kind = SA_BOOL; o.v.i = v.toBool(); put(outs, max_outs, n, o);
    } else if (v.isNone()) {
        o.kind = SA_NONE; put(outs, max_outs, n, o);
    } else if (v.isIntList()) {
        for (auto i : v.toIntVector()) { o.kind = SA_INT; o.v.i = i; put(outs, max_outs, n, o); }
    } else {
        throw std::runtime_error("operator returned a value of unsupported type " + v.tagKind());
    }
}

}  // namespace

extern "C" {

void* sa_op_find(const char* name, const char* overload) {
    SA_TRY(nullptr, {
        auto handle = c10::Dispatcher::singleton().findSchemaOrThrow(name, overload ? overload : "");
        return new c10::OperatorHandle(handle);  // lives for the process; the C# side caches it
    })
}

int32_t sa_op_num_args(void* op) {
    SA_TRY(-1, { return static_cast<int32_t>(static_cast<c10::OperatorHandle*>(op)->schema().arguments().size()); })
}

const char* sa_op_schema(void* op) {
    static thread_local std::string text;
    SA_TRY(nullptr, {
        std::ostringstream s;
        s << static_cast<c10::OperatorHandle*>(op)->schema();
        text = s.str();
        return text.c_str();
    })
}

int32_t sa_op_call(void* op, const sa_value* args, int32_t nargs, sa_value* outs, int32_t max_outs) {
    SA_TRY(-1, {
        auto& handle = *static_cast<c10::OperatorHandle*>(op);
        const auto& schema = handle.schema();
        const auto& formal = schema.arguments();
        if (nargs > static_cast<int32_t>(formal.size()))
            throw std::invalid_argument(schema.name() + ": " + std::to_string(nargs) + " arguments given, the schema takes " +
                                        std::to_string(formal.size()));
        // one argument stack per thread, reused (no allocation per call); a nested call gets its own
        static thread_local torch::jit::Stack reused;
        static thread_local int depth = 0;
        torch::jit::Stack local;
        torch::jit::Stack& stack = depth == 0 ? reused : local;
        struct DepthGuard { int& d; explicit DepthGuard(int& x) : d(x) { ++d; } ~DepthGuard() { --d; } } guard(depth);
        struct ClearGuard { torch::jit::Stack& s; ~ClearGuard() { s.clear(); } } clear_on_exit{stack};  // also on errors
        stack.clear();
        stack.reserve(formal.size());
        for (int32_t i = 0; i < nargs; i++) stack.push_back(to_ivalue(args[i]));
        // trailing arguments not given take the schema's defaults
        for (size_t i = nargs; i < formal.size(); i++) {
            if (!formal[i].default_value())
                throw std::invalid_argument(schema.name() + ": argument '" + formal[i].name() + "' has no default");
            stack.push_back(*formal[i].default_value());
        }
        handle.callBoxed(&stack);
        int32_t n = 0;
        for (const auto& v : stack) from_ivalue(v, outs, max_outs, n);
        return n;
    })
}

}  // extern "C"
