"""Performance of geoembed's GeoCLIP location encoder against the reference implementation, side by side in one run.

Measures, for the reference (the ``geoclip`` package's ``LocationEncoder``), geoembed float32 and geoembed bfloat16:

- throughput (points/s) at batch 1, 64, 4,096 and 65,536: calls alternate between implementations within each round
  so that machine noise hits all of them alike; the median over rounds is reported;
- agreement: max abs difference to the reference (float32) and minimum cosine similarity (bfloat16);
- fresh process to first embedding (median of runs), and peak memory (max RSS) of a fresh process encoding 65,536
  points in batches of 16,384;
- optionally (``--gallery``) the gallery part of geo-localization: the reference's ``predict`` embeds its whole 100K
  gallery for every image; geoembed embeds it once, caches it, and then only scores it.

Prints a table of ratios and writes JSON. Run from the repository root on a quiet machine:

    python benchmarks/perf_location_encoder.py --output benchmark-results/perf.json

Timing never goes into unit tests; correctness of every fast path does (tests/test_geoclip.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

BATCH_SIZES = (1, 64, 4096, 65536)
REFERENCE_FIRST = (
    "import torch; from geoclip import LocationEncoder; "
    "m = LocationEncoder().eval(); torch.set_grad_enabled(False); m(torch.tensor([[48.8566, 2.3522]]))"
)
OURS_FIRST = "import geoembed; geoembed.encode_location(lat=48.8566, lon=2.3522)"
REFERENCE_MEMORY = (
    "import torch, numpy as np; from geoclip import LocationEncoder; m = LocationEncoder().eval(); "
    "x = torch.rand(65536, 2) * torch.tensor([180.0, 360.0]) - torch.tensor([90.0, 180.0]); "
    "torch.set_grad_enabled(False); [m(x[i:i + 16384]) for i in range(0, 65536, 16384)]"
)
OURS_MEMORY = (
    "import numpy as np, geoembed; r = np.random.default_rng(0); "
    "geoembed.encode_location(lat=r.uniform(-90, 90, 65536), lon=r.uniform(-180, 180, 65536), batch_size=16384)"
)


def points(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    return torch.tensor(np.column_stack([lat, lon]), dtype=torch.float32)


def load_models():
    from geoclip import LocationEncoder as ReferenceEncoder  # the reference implementation (imports transformers)

    import geoembed

    reference = ReferenceEncoder().eval()
    ours = geoembed.create_location_encoder("geoclip").eval()
    ours_bf16 = geoembed.create_location_encoder("geoclip", precision="bfloat16").eval()
    return {"reference": reference, "geoembed-float32": ours, "geoembed-bfloat16": ours_bf16}


def agreement(models: dict) -> dict:
    x = points(4096, seed=1)
    with torch.inference_mode():
        ref = models["reference"](x)
        out = {}
        for name, model in models.items():
            y = model(x).float()
            cos = torch.nn.functional.cosine_similarity(y, ref, dim=1)
            out[name] = {"max_abs_diff": float((y - ref).abs().max()), "min_cosine": float(cos.min()),
                         "mean_cosine": float(cos.mean())}
    return out


def throughput(models: dict, batch_sizes, rounds: int, seconds: float) -> dict:
    x_all = points(max(batch_sizes), seed=2)
    results: dict = {}
    with torch.inference_mode():
        for bs in batch_sizes:
            x = x_all[:bs]
            for model in models.values():  # warm-up (allocations, lazy weight caches)
                model(x)
            per_model = {name: [] for name in models}
            for _ in range(rounds):
                for name, model in models.items():
                    calls, start = 0, time.perf_counter()
                    while True:
                        model(x)
                        calls += 1
                        elapsed = time.perf_counter() - start
                        if elapsed >= seconds or (bs >= 4096 and calls >= 1):
                            break
                    per_model[name].append(calls * bs / elapsed)
            results[bs] = {name: statistics.median(v) for name, v in per_model.items()}
            print(f"  batch {bs}: " + ", ".join(f"{k} {v:,.0f}/s" for k, v in results[bs].items()), flush=True)
    return results


def fresh_process(code: str, runs: int) -> dict:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "runs_s": times}


def peak_memory_mb(code: str) -> float:
    """Max RSS of a fresh process running ``code`` (GNU time measures the child alone)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-c", code], check=True,
                         capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024


def gallery(models: dict, rounds: int) -> dict:
    """Gallery part of one geo-localization: reference = embed 100K gallery + score; ours = score a cached gallery."""
    import geoembed
    from geoembed.weights import resolve_weights
    from geoembed_geoclip.weights import GPS_GALLERY_100K

    import pandas as pd

    table = pd.read_csv(resolve_weights(GPS_GALLERY_100K).path)
    g = torch.tensor(table[["LAT", "LON"]].to_numpy(), dtype=torch.float32)
    query = torch.nn.functional.normalize(torch.randn(1, 512), dim=1)
    timings = {"reference": [], "geoembed-cached": []}
    with torch.inference_mode():
        start = time.perf_counter()
        cached = torch.from_numpy(geoembed.encode_location(g.numpy(), order="latlon", normalize=True))
        build = time.perf_counter() - start
        for _ in range(rounds):
            start = time.perf_counter()
            emb = torch.nn.functional.normalize(models["reference"](g), dim=1)
            torch.topk(query @ emb.T, 5)
            timings["reference"].append(time.perf_counter() - start)
            start = time.perf_counter()
            torch.topk(query @ cached.T, 5)
            timings["geoembed-cached"].append(time.perf_counter() - start)
    return {"gallery_points": len(g), "cache_build_s": build,
            **{k: statistics.median(v) for k, v in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement at small batch sizes")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--gallery", action="store_true", help="also time the gallery part of geo-localization")
    parser.add_argument("--output", default="benchmark-results/perf_location_encoder.json")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    models = load_models()
    report: dict = {
        "machine": {"cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version()},
        "agreement": agreement(models),
    }
    print("agreement:", json.dumps(report["agreement"], indent=1), flush=True)
    print("throughput:", flush=True)
    report["throughput"] = throughput(models, args.batch_sizes, args.rounds, args.seconds)
    print("fresh process to first embedding:", flush=True)
    report["first_embedding"] = {"reference": fresh_process(REFERENCE_FIRST, args.startup_runs),
                                 "geoembed": fresh_process(OURS_FIRST, args.startup_runs)}
    report["peak_memory_mb"] = {"reference": peak_memory_mb(REFERENCE_MEMORY), "geoembed": peak_memory_mb(OURS_MEMORY)}
    if args.gallery:
        report["gallery"] = gallery(models, args.rounds)

    print("\n| measure | reference | geoembed float32 | ratio | geoembed bfloat16 | ratio |")
    print("|---|---|---|---|---|---|")
    for bs, row in report["throughput"].items():
        ref = row["reference"]
        print(f"| points/s at batch {bs:,} | {ref:,.0f} | {row['geoembed-float32']:,.0f} | "
              f"{row['geoembed-float32'] / ref:.2f}x | {row['geoembed-bfloat16']:,.0f} | "
              f"{row['geoembed-bfloat16'] / ref:.2f}x |")
    first = report["first_embedding"]
    print(f"| fresh process to first embedding | {first['reference']['median_s']:.2f} s | "
          f"{first['geoembed']['median_s']:.2f} s | "
          f"{first['geoembed']['median_s'] / first['reference']['median_s']:.2f}x the time | | |")
    mem = report["peak_memory_mb"]
    print(f"| peak memory, 65,536 points | {mem['reference']:.0f} MB | {mem['geoembed']:.0f} MB | "
          f"{mem['geoembed'] / mem['reference']:.2f}x | | |")
    agree = report["agreement"]
    print(f"| max abs diff to reference | 0 | {agree['geoembed-float32']['max_abs_diff']:.2e} | | "
          f"{agree['geoembed-bfloat16']['max_abs_diff']:.2e} (min cosine "
          f"{agree['geoembed-bfloat16']['min_cosine']:.5f}) | |")
    if "gallery" in report:
        gal = report["gallery"]
        print(f"| gallery part per image ({gal['gallery_points']:,} points) | {gal['reference'] * 1e3:.1f} ms | "
              f"{gal['geoembed-cached'] * 1e3:.2f} ms | {gal['reference'] / gal['geoembed-cached']:.0f}x faster | | |")

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
