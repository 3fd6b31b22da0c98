"""SAM vit_b CPU benchmark, Python side: the same computation as bench/SamAdapt.Bench's `sam` mode (which must run first: it writes
the random-weight .pth, the image, the prompts and its own outputs into the work folder). Loads the .pth into sam_reference.Sam,
checks that the image embedding and the decoder's low-res logits agree with C#'s (‖a−b‖/‖b‖ ≤ 1e-4, else exit 1), then times the
image encoder and the 10-prompt decoder pass at the given thread count (minimum of `repeats` after `warmup`).
Usage: /usr/bin/python3 bench/python/sam_bench.py [threads] [workdir] [warmup] [repeats]"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sam_reference import Predictor, Sam  # noqa: E402


def report(name, value, unit):
    print(json.dumps({"lang": "python", "bench": name, "value": value, "unit": unit}))


def min_millis(body, warmup, repeats):
    for _ in range(warmup):
        body()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        body()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


def rel(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
    work = sys.argv[2] if len(sys.argv) > 2 else os.path.join("bench", ".work")
    warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    torch.set_num_threads(threads)
    model = Sam()
    model.load_state_dict(torch.load(os.path.join(work, "sam_vit_b_random.pth"), map_location="cpu"), strict=True)
    model.eval()
    image = np.load(os.path.join(work, "image.npy"))
    prompts = json.load(open(os.path.join(work, "prompts.json")))
    predictor = Predictor(model)

    with torch.no_grad():
        x, _ = predictor.preprocess(image)
        enc = min_millis(lambda: model.image_encoder(x), warmup, repeats)
    predictor.set_image(image)
    e = rel(np.load(os.path.join(work, "csharp_embedding.npy")), predictor.features.numpy())
    low = np.stack([predictor.predict(p["point_coords"], p["point_labels"], p["box"])[2] for p in prompts])
    d = rel(np.load(os.path.join(work, "csharp_low_res_logits.npy")), low)
    print(f"# check: C# vs Python image embedding rel err {e:.2e}, low-res logits (10 prompts) rel err {d:.2e}", file=sys.stderr)
    if not (e <= 1e-4 and d <= 1e-4):
        print("# the Python reference does not compute the same function as C# (rel err > 1e-4): timings not comparable", file=sys.stderr)
        sys.exit(1)
    report("sam_vit_b_encoder", enc, "ms")
    dec = min_millis(lambda: [predictor.predict(p["point_coords"], p["point_labels"], p["box"]) for p in prompts], warmup, repeats)
    report("sam_vit_b_decoder_10_prompts", dec, "ms")


if __name__ == "__main__":
    main()
