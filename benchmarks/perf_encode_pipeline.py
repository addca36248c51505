"""Throughput of geoembed's encode pipeline on 100,000 real points, for arrays and for files.

Input: the 100,000 GPS coordinates of GeoCLIP's gallery (``coordinates_100K.csv``, columns LAT, LON), which the
``geoclip`` wheel ships. For each encoder (``xyz``, a coordinate baseline that measures the pipeline's own overhead,
and pretrained ``geoclip``), timed separately, each the best of ``--repeats`` runs:

- ``array``: :func:`geoembed.encode_location` on the ``(N, 2)`` array;
- ``csv_to_parquet``: ``geoembed encode coordinates_100K.csv -o out.parquet`` (read, encode, write, streamed);
- ``npy``: ``geoembed encode coordinates_100K.csv -o out.npy`` (the whole table in memory).

The model is built once before timing (encoders built by name are cached), so the figures are the pipeline's, not
the loading of weights. Each measurement gives the wall time (``*_s``) and the process's CPU time summed over its
threads (``*_cpu_s``, ``time.process_time``): on a shared machine the wall time follows the other jobs' load, the CPU
time much less. Run it on two trees to compare them (PYTHONPATH chooses the tree):

    python benchmarks/perf_encode_pipeline.py --output benchmarks/results/encode_pipeline.json
    python benchmarks/perf_encode_pipeline.py --rows 10000 --repeats 1       # a quicker run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import geoembed
from geoembed.atomic import atomic_write
from geoembed.cli import main as cli_main
from geoembed.io import read_points
from geoembed.weights import resolve_weights
from geoembed_geoclip import GPS_GALLERY_100K

RESULTS = Path(__file__).resolve().parent / "results" / "encode_pipeline.json"


def best_of(repeats: int, func, *args, **kwargs) -> tuple[float, float]:
    """The least wall time and the least CPU time of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        func(*args, **kwargs)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return round(min(wall), 3), round(min(cpu), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="use only the first ROWS points")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("--encoders", nargs="+", default=["xyz", "geoclip"])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    source = resolve_weights(GPS_GALLERY_100K).path
    table, latlon = read_points(source)
    with tempfile.TemporaryDirectory() as folder:
        if args.rows is not None:
            table, latlon = table.iloc[: args.rows], latlon[: args.rows]
            source = Path(folder) / "points.csv"
            table.to_csv(source, index=False)
        result = {
            "input": f"{GPS_GALLERY_100K.filename} ({len(latlon)} rows)",
            "geoembed": str(Path(geoembed.__file__).parent),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
            "repeats": args.repeats,
            "encoders": {},
        }
        for name in args.encoders:
            geoembed.encode_location(latlon[:10], order="latlon", encoder=name, device="cpu")  # build once
            row = {}
            row["array_s"], row["array_cpu_s"] = best_of(args.repeats, geoembed.encode_location, latlon,
                                                         order="latlon", encoder=name, device="cpu")
            for label, suffix in (("csv_to_parquet_s", ".parquet"), ("npy_s", ".npy")):
                out = Path(folder) / f"out{suffix}"
                argv = ["encode", str(source), "-o", str(out), "--encoder", name, "--device", "cpu", "--overwrite",
                        "--no-progress"]
                row[label], row[label.replace("_s", "_cpu_s")] = best_of(args.repeats, _cli, argv)
            row["array_points_per_s"] = round(len(latlon) / row["array_s"])
            result["encoders"][name] = row
            print(name, row, flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.output, overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _cli(argv: list[str]) -> None:
    code = cli_main(argv)
    if code != 0:
        raise SystemExit(f"geoembed {' '.join(argv)} failed with exit code {code}")


if __name__ == "__main__":
    main()
