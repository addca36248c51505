"""Downstream suite with the reference GeoCLIP encoder beside geoembed's, in one run.

For each encoder -- the reference implementation (the ``geoclip`` package's ``LocationEncoder``, wrapped as a
geoembed plugin for this script only), geoembed float32 (``geoclip``) and geoembed bfloat16 (``geoclip-bf16``) -- the
quick downstream suite (``run_benchmark(quick=True)``) runs in a fresh process with an empty embedding cache, so each
wall time includes computing every embedding. Then the scores are compared: bfloat16 against float32 (the target:
every R2, accuracy and macro-F1 within 0.005; MAE/RMSE, which carry the target's units, as relative differences), and
float32 against the reference (should be identical).

    python benchmarks/perf_downstream.py --output benchmark-results/perf_downstream.json
    python benchmarks/perf_downstream.py --full --encoders geoclip geoclip-bf16 --output benchmark-results/full.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENCODERS = ("geoclip-reference", "geoclip", "geoclip-bf16")
UNITLESS_SCORES = ("r2", "accuracy", "macro_f1")  # the target "within 0.005" is about these; MAE/RMSE carry units


def register_reference() -> None:
    """Make the reference implementation available as the location encoder ``geoclip-reference``."""
    import geoembed

    def make_reference(**_):
        from geoclip import LocationEncoder as ReferenceEncoder  # imports transformers: ~7 s

        class Reference(geoembed.LocationEncoder):
            embedding_dim = 512

            def __init__(self):
                super().__init__()
                self.model = ReferenceEncoder().eval()

            def forward(self, latlon):
                return self.model(latlon)

        return Reference()

    geoembed.register_location_encoder("geoclip-reference", make_reference, overwrite=True)

    def make_rechunked(**_):
        """geoembed float32 fed 1,000 rows at a time: the same function, float32 rounding differs (~1e-7).

        Its scores against ``geoclip`` measure how much the probes themselves amplify rounding noise.
        """
        import torch

        base = geoembed.create_location_encoder("geoclip")

        class Rechunked(geoembed.LocationEncoder):
            embedding_dim = base.embedding_dim

            def __init__(self):
                super().__init__()
                self.base = base
                self.weights = base.weights

            def forward(self, latlon):
                return torch.cat([self.base(part) for part in latlon.split(1000)])

        return Rechunked()

    geoembed.register_location_encoder("geoclip-rechunked", make_rechunked, overwrite=True)


def child(encoder: str, results_path: str, quick: bool) -> None:
    """Run the suite for one encoder in this (fresh) process and save its tidy results."""
    import geoembed

    register_reference()
    start = time.perf_counter()
    results = geoembed.run_benchmark(tasks=["*"], encoders=[encoder], quick=quick, progress=False)
    wall = time.perf_counter() - start
    results.to_csv(results_path, index=False)
    print(json.dumps({"encoder": encoder, "wall_s": wall}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS))
    parser.add_argument("--output", default="benchmark-results/perf_downstream.json")
    parser.add_argument("--full", action="store_true", help="the full default suite instead of --quick (~6 min each)")
    parser.add_argument("--child", nargs=2, metavar=("ENCODER", "RESULTS_CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, quick=not args.full)
        return

    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="perf_downstream_"))
    walls, tables = {}, {}
    for encoder in args.encoders:
        env = dict(os.environ, GEOEMBED_CACHE_DIR=str(work / f"cache-{encoder}"))  # empty cache: embed everything
        csv = work / f"{encoder}.csv"
        start = time.perf_counter()
        command = [sys.executable, __file__, "--child", encoder, str(csv)] + (["--full"] if args.full else [])
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        walls[encoder] = {"process_s": time.perf_counter() - start, **json.loads(out.stdout.strip().splitlines()[-1])}
        tables[encoder] = pd.read_csv(csv)
        print(f"{encoder}: {'full' if args.full else 'quick'} suite {walls[encoder]['wall_s']:.1f} s "
              f"(process {walls[encoder]['process_s']:.1f} s)", flush=True)

    keys = ["task", "split", "probe", "metric"]
    means = {e: t.groupby(keys)["value"].mean() for e, t in tables.items()}
    report: dict = {"wall_seconds": walls, "comparisons": {}}
    for a, b in (("geoclip-bf16", "geoclip"), ("geoclip", "geoclip-reference"), ("geoclip-rechunked", "geoclip")):
        if a in means and b in means:
            diff = (means[a] - means[b]).abs()
            scores = diff[diff.index.get_level_values("metric").isin(UNITLESS_SCORES)]
            errors = diff[~diff.index.get_level_values("metric").isin(UNITLESS_SCORES)]
            relative = errors / means[b][errors.index].abs()
            report["comparisons"][f"{a} vs {b}"] = {
                "max_abs_score_difference": float(scores.max()),
                "worst_score": str(scores.idxmax()),
                "n_scores": int(scores.size),
                "max_relative_error_metric_difference": float(relative.max()),
                "worst_error_metric": str(relative.idxmax()),
                "by_probe": {
                    probe: {"max": float(group.max()), "mean": float(group.mean()), "above_0.005": int((group > 0.005).sum()),
                            "n": int(group.size)}
                    for probe, group in scores.groupby(level="probe")
                },
            }
            print(f"{a} vs {b}: max |difference| of R2/accuracy/macro-F1 {scores.max():.5f} over {scores.size} mean "
                  f"scores (worst: {scores.idxmax()}); MAE/RMSE differ by at most {relative.max():.2%} relative")
    if "geoclip-reference" in walls and "geoclip" in walls:
        ratio = walls["geoclip-reference"]["wall_s"] / walls["geoclip"]["wall_s"]
        report["speedup_vs_reference"] = ratio
        print(f"suite wall time: reference {walls['geoclip-reference']['wall_s']:.1f} s, geoembed "
              f"{walls['geoclip']['wall_s']:.1f} s ({ratio:.2f}x faster)")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
