"""Speed of geoembed's MIND and TaxaBind encoders against their reference implementations, side by side in one run.

Both at the released sizes with random weights (the released weights are not reachable here; speed does not depend
on the values):

- MIND: the reference ``ReSIRENLocationEncoder`` of ``mind_standalone.py`` (width 3072, 12 blocks), called as its
  ``embed`` does (``return_features=True`` under ``torch.no_grad``), against geoembed's ``mind`` (3072-d) and
  ``mind-64`` (its first 64 channels), all three loaded from one float16 state dict;
- TaxaBind: rshf's ``GeoCLIP`` ``LocationEncoder`` with MVRL/ecogeo's config, against geoembed's ``taxabind``, both
  loaded from one random state dict in the published layout.

Each round calls every implementation once on the same batch of 4,096 random points, in turn, so machine noise hits
all of them alike; the median wall-clock and CPU time over rounds are reported, with the ratios reference time /
geoembed time (above 1: geoembed is faster) and the largest difference of the outputs. On a shared machine the CPU
time ratio is the steadier one. Run from the repository root, with local snapshots of
the references (see plugins/*/tests/data/make_reference.py):

    python benchmarks/perf_mind_taxabind.py --mind-snapshot /path/to/mind --rshf-snapshot /path/to/rshf \\
        --output benchmarks/results/perf_mind_taxabind.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
BATCH = 4096


def load_module(path: Path, name: str):
    if not path.is_file():
        sys.exit(f"{path} not found.")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def points(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    return torch.tensor(np.column_stack([lat, lon]), dtype=torch.float32)


def race(calls: dict, rounds: int) -> tuple[dict, dict]:
    """Median wall-clock and CPU seconds per call of each implementation, calls alternating within each round (after
    one warm-up round). CPU time (all threads of this process) is the steadier measure on a machine shared with
    other work, where wall-clock time also counts the time spent waiting for a core."""
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(rounds + 1):
        for name, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            with torch.no_grad():
                call()
            if round_:
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
        print(f"  round {round_}/{rounds}: " + ", ".join(f"{n} {t[-1]:.2f} s (cpu {cpu[n][-1]:.2f} s)"
                                                       for n, t in wall.items() if t), flush=True)
    return ({name: statistics.median(t) for name, t in wall.items()},
            {name: statistics.median(t) for name, t in cpu.items()})


def summary(seconds: dict, cpu_seconds: dict) -> dict:
    return {
        "seconds_per_batch": seconds,
        "cpu_seconds_per_batch": cpu_seconds,
        "points_per_second": {k: BATCH / v for k, v in seconds.items()},
        "ratio_reference_over_geoembed": {k: seconds["reference"] / v for k, v in seconds.items() if k != "reference"},
        "cpu_ratio_reference_over_geoembed": {k: cpu_seconds["reference"] / v for k, v in cpu_seconds.items()
                                              if k != "reference"},
    }


def max_rel_diff(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """Largest |ours - reference| over the largest |reference|."""
    return float((ours - reference).abs().max() / reference.abs().max())


def bench_mind(snapshot: Path, rounds: int, x: torch.Tensor) -> dict:
    from safetensors.torch import save_file

    import geoembed

    ref = load_module(snapshot / "mind_standalone.py", "mind_reference_standalone")
    torch.manual_seed(0)
    built = ref.ReSIRENLocationEncoder(embed_dim=3072, out_dim=None, depth=12)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mind.safetensors"
        save_file({k: v.detach().half().contiguous() for k, v in built.state_dict().items()}, str(path))
        del built
        reference = ref.load_mind(str(path), device="cpu")  # the reference's loader: float16 file -> float32
        full = geoembed.create_location_encoder("mind", weights_path=path)
        prefix = geoembed.create_location_encoder("mind-64", weights_path=path)
    with torch.no_grad():
        expected = reference(x, return_features=True)
        agreement = {"mind": max_rel_diff(full(x), expected), "mind-64": max_rel_diff(prefix(x), expected[:, :64])}
    timings = race({
        "reference": lambda: reference(x, return_features=True),
        "geoembed mind": lambda: full(x),
        "geoembed mind-64": lambda: prefix(x),
    }, rounds)
    return {
        "model": "MIND (width 3072, 12 residual SIREN blocks, float16 weights computed in float32)",
        "reference": "mind_standalone.py ReSIRENLocationEncoder (github.com/taylor-geospatial/mind)",
        **summary(*timings),
        "max_abs_diff_over_max_abs": agreement,
    }


def bench_taxabind(snapshot: Path, rounds: int, x: torch.Tensor) -> dict:
    from safetensors.torch import load_file, save_file

    import geoembed

    recipe = load_module(REPO / "plugins" / "taxabind" / "tests" / "data" / "make_reference.py", "taxabind_recipe")
    ref = load_module(snapshot / "rshf" / "geoclip" / "model.py", "rshf_geoclip_reference")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_file({k: torch.from_numpy(v) for k, v in recipe.random_state().items()}, str(path))
        reference = ref.LocationEncoder(ref.GeoCLIPConfig(sigma=[1, 16, 256], input_size=2, encoded_size=256, dim=512))
        reference.load_state_dict(load_file(str(path)), strict=True)
        reference.eval()
        ours = geoembed.create_location_encoder("taxabind", weights_path=path)
    with torch.no_grad():
        agreement = {"taxabind": max_rel_diff(ours(x), reference(x))}
    timings = race({"reference": lambda: reference(x), "geoembed taxabind": lambda: ours(x)}, rounds)
    return {
        "model": "TaxaBind location encoder (GeoCLIP architecture, sigma 1, 16, 256; float32)",
        "reference": "rshf.geoclip LocationEncoder (github.com/mvrl/rshf @ 87fb301), as TaxaBind loads MVRL/ecogeo",
        **summary(*timings),
        "max_abs_diff_over_max_abs": agreement,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mind-snapshot", type=Path, required=True, help="folder holding mind_standalone.py")
    parser.add_argument("--rshf-snapshot", type=Path, required=True, help="folder holding rshf/geoclip/model.py")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per model (after one warm-up round)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "perf_mind_taxabind.json")
    args = parser.parse_args()
    os.environ.setdefault("GEOEMBED_OFFLINE", "1")
    x = points(BATCH)
    load_before = os.getloadavg()
    print(f"TaxaBind, batch {BATCH}:", flush=True)
    taxabind = bench_taxabind(args.rshf_snapshot, max(args.rounds, 5), x)
    print(f"MIND, batch {BATCH}:", flush=True)
    mind = bench_mind(args.mind_snapshot, args.rounds, x)
    report = {
        "machine": {"cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version(),
                    # other work on the machine slows every implementation alike (calls alternate), not the ratios
                    "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
        "batch": BATCH,
        "mind": mind,
        "taxabind": taxabind,
    }
    from geoembed.atomic import atomic_write

    with atomic_write(args.output) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print("\nmodel      implementation       s/batch  cpu s/batch  points/s  ref/geoembed (wall, cpu)  max diff / max")
    for family, result in (("MIND", mind), ("TaxaBind", taxabind)):
        for name, seconds in result["seconds_per_batch"].items():
            ratio = result["ratio_reference_over_geoembed"].get(name)
            cpu_ratio = result["cpu_ratio_reference_over_geoembed"].get(name)
            ratios = "" if ratio is None else f"{ratio:.2f}, {cpu_ratio:.2f}"
            diff = result["max_abs_diff_over_max_abs"].get(name.replace("geoembed ", ""))
            print(f"{family:10s} {name:20s} {seconds:8.3f} {result['cpu_seconds_per_batch'][name]:11.3f} "
                  f"{BATCH / seconds:9.0f}  {ratios:>24s}  {'' if diff is None else f'{diff:.1e}'}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
