"""The same measurements as bench/SamAdapt.Bench through Debian's python3-torch (the same libtorch 1.13).
Usage: /usr/bin/python3 bench/python/dispatch.py [dispatch|matmul|all] [threads]"""
import json
import sys
import time

import torch


def micros_per_call(body, iterations, repeats=15, warmup=2000):
    """Minimum over repeats (the least-disturbed run), as the C# harness does."""
    for _ in range(warmup):
        body()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iterations):
            body()
        samples.append((time.perf_counter() - t0) * 1e6 / iterations)
    return min(samples)


def report(name, value, unit):
    print(json.dumps({"lang": "python", "bench": name, "value": value, "unit": unit}))


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else torch.get_num_threads()
    torch.set_num_threads(threads)
    with torch.no_grad():
        if which in ("dispatch", "all"):
            a, b = torch.rand(4), torch.rand(4)
            x, w, bias = torch.rand(1, 64), torch.rand(64, 64), torch.rand(64)
            report("add_4", micros_per_call(lambda: a.add(b), 20000), "us/op")
            report("linear_64", micros_per_call(lambda: torch.nn.functional.linear(x, w, bias), 20000), "us/op")
            report("add_4_scoped", micros_per_call(lambda: a + b, 20000), "us/op")
        if which in ("matmul", "all"):
            n = 1024
            a, b = torch.rand(n, n), torch.rand(n, n)
            us = micros_per_call(lambda: a.matmul(b), 5, 5, 3)
            report("matmul_1024_gflops", 2.0 * n ** 3 / (us * 1e-6) / 1e9, "GFLOP/s")


if __name__ == "__main__":
    main()
