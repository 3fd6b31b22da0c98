// Time per operator (a cheap profiler for finding where a training step goes): a global RecordFunction callback that
// sums wall time per op name, forward ops and autograd backward nodes alike. Self time excludes nested ops (aten::linear
// → aten::addmm counts the GEMM under addmm only). Wall time and the calling thread's CPU time are both kept: on a shared
// machine the CPU time (with one intra-op thread) is the steadier measure. Reported as text lines
// "name\tcalls\tself_us\ttotal_us\tself_cpu_us".
#include "common.h"
#include <ATen/record_function.h>
#include <chrono>
#include <ctime>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace {

struct Stat { int64_t calls = 0; double self_us = 0, total_us = 0, self_cpu_us = 0; };
struct Frame { std::string name; std::chrono::steady_clock::time_point start; double cpu_start = 0, child_us = 0, child_cpu_us = 0; };

double thread_cpu_us() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

std::mutex stats_mutex;
std::unordered_map<std::string, Stat> stats;
thread_local std::vector<Frame> frames;
at::CallbackHandle handle = 0;

std::unique_ptr<at::ObserverContext> on_enter(const at::RecordFunction& fn) {
    frames.push_back(Frame{fn.name(), std::chrono::steady_clock::now(), thread_cpu_us()});
    return nullptr;
}

void on_exit(const at::RecordFunction& fn, at::ObserverContext*) {
    if (frames.empty()) return;  // started before the profiler was
    auto end = std::chrono::steady_clock::now();
    double cpu_end = thread_cpu_us();
    Frame f = std::move(frames.back());
    frames.pop_back();
    double total = std::chrono::duration<double, std::micro>(end - f.start).count();
    double cpu = cpu_end - f.cpu_start;
    if (!frames.empty()) {
        frames.back().child_us += total;
        frames.back().child_cpu_us += cpu;
    }
    std::lock_guard<std::mutex> lock(stats_mutex);
    auto& s = stats[f.name];
    s.calls++;
    s.total_us += total;
    s.self_us += total - f.child_us;
    s.self_cpu_us += cpu - f.child_cpu_us;
}

}  // namespace

extern "C" {

int32_t sa_profiler_start(void) {
    SA_TRY(-1, {
        {
            std::lock_guard<std::mutex> lock(stats_mutex);
            stats.clear();
        }
        if (handle == 0)
            handle = at::addGlobalCallback(at::RecordFunctionCallback(on_enter, on_exit)
                                               .needsInputs(false)
                                               .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
        return 0;
    })
}

int32_t sa_profiler_stop(void) {
    SA_TRY(-1, {
        if (handle != 0) at::removeCallback(handle);
        handle = 0;
        return 0;
    })
}

const char* sa_profiler_report(void) {
    static thread_local std::string text;
    SA_TRY(nullptr, {
        std::ostringstream s;
        std::lock_guard<std::mutex> lock(stats_mutex);
        for (const auto& [name, st] : stats) s << name << '\t' << st.calls << '\t' << st.self_us << '\t' << st.total_us << '\t' << st.self_cpu_us << '\n';
        text = s.str();
        return text.c_str();
    })
}

}  // extern "C"
