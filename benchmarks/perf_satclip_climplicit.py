"""Speed of geoembed's SatCLIP and Climplicit encoders against the reference implementations, side by side.

Same random weights in both (built by the reference with a fixed seed, loaded into geoembed's class through the
checkpoint layout), batch 4,096 points, calls alternating between implementations within each round so that machine
noise hits both alike; the median over rounds is reported with the ratio reference / geoembed (> 1: geoembed faster)
and the largest absolute difference of the outputs.

References (never imported by geoembed itself): ``rangegeo`` 0.1.0 for SatCLIP's original location encoder
(closed-form "analytic" harmonics, float64), torchgeo 0.10's ``SatCLIP`` re-implementation for comparison (loaded
from its file; recursive Legendre functions, so at L=40 it is not the same function), ``rshf`` 0.2.2 for Climplicit.
Run in the throwaway environment described in plugins/*/tests/data/make_reference.py:

    PYTHONPATH=$PWD:$PWD/plugins/satclip:$PWD/plugins/climplicit /tmp/refvenv-satclip/bin/python \\
        benchmarks/perf_satclip_climplicit.py --torchgeo /tmp/tgsrc --threads 1

Writes benchmarks/results/perf_satclip_climplicit.json (``--output`` to change).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

BATCH = 4096
ROOT = Path(__file__).resolve().parents[1]


def points(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` ``[lat, lon]`` uniform on the sphere, float32 values."""
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    return np.column_stack([lat, lon]).astype(np.float32)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, reference, ours, rounds: int, note: str = "") -> dict:
    with torch.no_grad():
        ref_out, our_out = reference(), ours()  # warm-up, and the outputs to compare
        ref_times, our_times = [], []
        for i in range(rounds):
            pair = [(ref_times, reference), (our_times, ours)]
            for times, fn in pair if i % 2 == 0 else pair[::-1]:
                times.append(timed(fn))
    ref_s, our_s = statistics.median(ref_times), statistics.median(our_times)
    diff = float((ref_out.double() - our_out.double()).abs().max())
    row = {"reference_s": ref_s, "geoembed_s": our_s, "ratio": ref_s / our_s, "max_abs_diff": diff,
           "reference_points_per_s": BATCH / ref_s, "geoembed_points_per_s": BATCH / our_s, "rounds": rounds}
    if note:
        row["note"] = note
    print(f"{name:34s} reference {ref_s:8.3f} s   geoembed {our_s:8.3f} s   ratio {ref_s / our_s:7.2f}x   "
          f"max|diff| {diff:.3g}", flush=True)
    return row


def satclip_cases(torchgeo_root: Path | None, rounds: int) -> dict:
    from rangegeo.satclip.location_encoder import LocationEncoder, get_neural_network, get_positional_encoding

    from geoembed_satclip import SatCLIPLocationEncoder

    latlon = torch.from_numpy(points(BATCH))
    lonlat64 = latlon[:, [1, 0]].double()
    results = {}
    for legendre in (10, 40):
        torch.manual_seed(legendre)
        posenc = get_positional_encoding("sphericalharmonics", legendre_polys=legendre, harmonics_calculation="analytic")
        nnet = get_neural_network("siren", input_dim=legendre * legendre, num_classes=256, dim_hidden=512, num_layers=2)
        original = LocationEncoder(posenc.double(), nnet.double()).double().eval()
        ours = SatCLIPLocationEncoder.from_checkpoint({f"model.location.{k}": v for k, v in original.state_dict().items()})
        results[f"satclip-l{legendre}"] = compare(
            f"SatCLIP L={legendre} (original)", lambda: original(lonlat64), lambda: ours(latlon), rounds)
        if torchgeo_root is not None:
            spec = importlib.util.spec_from_file_location("tg_satclip", torchgeo_root / "torchgeo/models/satclip.py")
            tg = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(tg)
            other = tg.SatCLIP(legendre_polys=legendre, capacity=512, embed_dim=256, num_hidden_layers=2).double()
            other.load_state_dict(original.state_dict(), strict=False)
            other.nnet.load_state_dict(original.nnet.state_dict())
            other.eval()
            results[f"satclip-l{legendre}-vs-torchgeo"] = compare(
                f"SatCLIP L={legendre} (torchgeo 0.10)", lambda: other(lonlat64), lambda: ours(latlon), rounds,
                note="torchgeo 0.10 evaluates exact harmonics by recursion (float32-rounded coefficients, latitude "
                     "clamped to +-89.95), not the closed-form values the released models were trained on")
    return results


def climplicit_cases(rounds: int) -> dict:
    from rshf.climplicit import Climplicit

    from geoembed_climplicit import from_state_dict

    torch.manual_seed(0)
    reference = Climplicit({"return_chelsa": False}).eval()  # the release's architecture: 16 x 512
    latlon = torch.from_numpy(points(BATCH))
    lonlat = latlon[:, [1, 0]].contiguous()
    results = {}
    for month in (None, 4):
        ours = from_state_dict(reference.state_dict(), month)
        month_tensor = None if month is None else torch.ones(BATCH) * month
        label = "1024-d (months 3, 6, 9, 12)" if month is None else f"256-d (month {month})"
        results["climplicit-1024" if month is None else "climplicit-256"] = compare(
            f"Climplicit {label}", lambda: reference(lonlat, month_tensor), lambda: ours(latlon), rounds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torchgeo", type=Path, help="folder holding an unpacked torchgeo 0.10 wheel (optional)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "perf_satclip_climplicit.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = {"cpu_count": __import__("os").cpu_count(), "threads": torch.get_num_threads(),
               "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
               "python": platform.python_version(), "batch": BATCH}
    print(machine)
    results = {"machine": machine, "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "satclip": satclip_cases(args.torchgeo, args.rounds), "climplicit": climplicit_cases(args.rounds)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
