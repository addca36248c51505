"""Speed of geoembed's TorchSpatial encoders against the reference implementation, side by side in one run.

For each published checkpoint (default: all 17) both implementations are built from the same file: the reference
(github.com/seai-lab/TorchSpatial ``main/``, imported from a snapshot you point at, as the trainer builds it:
``utils.get_loc_model`` + ``load_state_dict``) and geoembed's (``create_location_encoder(name, weights_path=...)``).
Each call is one forward pass on a batch of points, under ``torch.inference_mode()``:

- reference: ``model(x, return_feats=True)`` with ``x`` the float32 ``(lon, lat)`` tensor it takes;
- geoembed: ``model(x)`` with the float32 ``[lat, lon]`` tensor it takes.

Both run with the same number of torch threads (``--threads``, default 1). Throughput at batch 1, 64 and 4,096:
within each round the two implementations alternate (reference, then ours, then reference...), so machine noise
hits both alike; each measurement repeats calls for ``--seconds`` (at least one
call) and the median over ``--rounds`` is reported, with the ratio ours / reference (> 1: geoembed is faster). The
features of both are compared on the 4,096 points as a sanity check (max |ours - reference| / max |reference|).

    git clone https://github.com/seai-lab/TorchSpatial /tmp/TorchSpatial
    python benchmarks/perf_torchspatial.py /tmp/TorchSpatial --output benchmarks/results/perf_torchspatial.json
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
BATCH_SIZES = (1, 64, 4096)


def points(n: int, seed: int = 0) -> torch.Tensor:
    """``(n, 2)`` float32 ``[lat, lon]``, uniform on the sphere."""
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    return torch.tensor(np.column_stack([lat, lon]), dtype=torch.float32)


def import_reference(snapshot: Path):
    main_dir = snapshot / "main" if (snapshot / "main" / "utils.py").is_file() else snapshot
    if not (main_dir / "utils.py").is_file():
        raise SystemExit(f"{snapshot} is not a TorchSpatial snapshot (no main/utils.py).")
    sys.path.insert(0, str(main_dir))
    cwd = os.getcwd()
    os.chdir(main_dir)
    try:
        import utils  # the reference's own module
    finally:
        os.chdir(cwd)
    return utils


def build_pair(reference_utils, name: str, weights_dir: Path):
    import geoembed
    from geoembed_torchspatial.checkpoints import CHECKPOINTS

    path = weights_dir / CHECKPOINTS[name].filename
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    params = dict(checkpoint["params"])
    reference = reference_utils.get_loc_model(
        train_locs=None, params=params, spa_enc_type=params["spa_enc_type"], num_inputs=params["num_loc_feats"],
        num_classes=params["num_classes"], num_filts=params["num_filts"], num_users=params["num_users"],
        device="cpu",
    )
    reference.load_state_dict(checkpoint["state_dict"])
    reference.eval()
    ours = geoembed.create_location_encoder(name, weights_path=path).eval()
    return reference, ours


def measure(fn, seconds: float) -> float:
    """Seconds per call: repeat for at least ``seconds`` (and at least once)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path, help="a TorchSpatial checkout (holding main/) or its main/ folder")
    parser.add_argument("--weights", type=Path,
                        default=Path(os.environ.get("GEOEMBED_SHARED_DIR", REPO / ".." / "shared"))
                        / "weights" / "torchspatial")
    parser.add_argument("--models", nargs="+", default=["torchspatial-*"], help="names or wildcards (default: all)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.2, help="time per measurement")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both implementations (default 1: steadiest on a shared machine)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "perf_torchspatial.json")
    args = parser.parse_args()

    from geoembed.atomic import atomic_write
    from geoembed_torchspatial.checkpoints import CHECKPOINTS

    names = sorted({n for p in args.models for n in CHECKPOINTS if fnmatch.fnmatchcase(n, p)})
    if not names:
        parser.error(f"no TorchSpatial encoder matches {args.models}")
    reference_utils = import_reference(args.snapshot)
    torch.set_num_threads(args.threads)
    machine = {"cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version(),
               "processor": platform.processor() or platform.machine()}
    print(f"machine: {machine}", flush=True)
    x_all = points(max(args.batch_sizes), seed=2)
    report: dict = {"machine": machine, "settings": {"rounds": args.rounds, "seconds": args.seconds,
                                                     "batch_sizes": args.batch_sizes}, "models": {}}
    torch.manual_seed(0)
    np.random.seed(0)
    with torch.inference_mode():
        for name in names:
            reference, ours = build_pair(reference_utils, name, args.weights)
            x = x_all[: max(args.batch_sizes)]
            theirs_out = reference(x[:, [1, 0]].contiguous(), return_feats=True)
            ours_out = ours(x)
            agreement = float((ours_out - theirs_out).abs().max() / theirs_out.abs().max())
            row: dict = {"max_relative_difference": agreement, "throughput": {}}
            for bs in args.batch_sizes:
                xb = x_all[:bs]
                xb_lonlat = xb[:, [1, 0]].contiguous()
                call_ref = lambda: reference(xb_lonlat, return_feats=True)  # noqa: E731
                call_ours = lambda: ours(xb)  # noqa: E731
                call_ref(), call_ours()  # warm-up
                ref_times, our_times = [], []
                for _ in range(args.rounds):
                    ref_times.append(measure(call_ref, args.seconds))
                    our_times.append(measure(call_ours, args.seconds))
                ref_pps = bs / statistics.median(ref_times)
                our_pps = bs / statistics.median(our_times)
                row["throughput"][str(bs)] = {"reference_points_per_s": ref_pps, "geoembed_points_per_s": our_pps,
                                              "ratio": our_pps / ref_pps}
            report["models"][name] = row
            print(f"{name:42s} " + "  ".join(
                f"b{bs}: {row['throughput'][str(bs)]['ratio']:.2f}x" for bs in args.batch_sizes
            ) + f"  (max rel diff {agreement:.1e})", flush=True)

    ratios = {str(bs): [m["throughput"][str(bs)]["ratio"] for m in report["models"].values()]
              for bs in args.batch_sizes}
    report["summary"] = {bs: {"min_ratio": min(r), "median_ratio": statistics.median(r), "max_ratio": max(r)}
                         for bs, r in ratios.items()}
    print("\n| model | " + " | ".join(f"batch {bs:,}: reference / geoembed points/s (ratio)"
                                      for bs in args.batch_sizes) + " |")
    print("|---|" + "---|" * len(args.batch_sizes))
    for name, row in report["models"].items():
        cells = [f"{t['reference_points_per_s']:,.0f} / {t['geoembed_points_per_s']:,.0f} ({t['ratio']:.2f}x)"
                 for t in row["throughput"].values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nratio geoembed / reference: " + "; ".join(
        f"batch {bs}: min {s['min_ratio']:.2f}x, median {s['median_ratio']:.2f}x" for bs, s in report["summary"].items()))
    with atomic_write(args.output) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
