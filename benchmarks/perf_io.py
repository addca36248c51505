"""Where ``geoembed encode`` spends its time, and how large its outputs are, on real data.

Input: the 100,000 GPS coordinates of GeoCLIP's gallery (``coordinates_100K.csv``, columns LAT, LON), which the
``geoclip`` wheel ships. Steps timed separately: ``read_points``, encoding with pretrained GeoCLIP
(``encode_location``), and ``write_embeddings`` in each output format and layout, plus reading the embeddings back.
For comparison, the ``columns`` layout is also written with Parquet's default dictionary encoding, which geoembed
turns off for embedding columns.

    python benchmarks/perf_io.py                       # results in benchmarks/results/io.json
    python benchmarks/perf_io.py --rows 10000          # a quicker run on the first rows
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

import geoembed
from geoembed.atomic import atomic_write
from geoembed.io import embedding_column_names, read_embeddings, read_points, write_embeddings
from geoembed.weights import resolve_weights
from geoembed_geoclip import GPS_GALLERY_100K

RESULTS = Path(__file__).resolve().parent / "results" / "io.json"


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return value, round(time.perf_counter() - start, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="use only the first ROWS points")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    source = resolve_weights(GPS_GALLERY_100K).path
    (table, latlon), read_s = timed(read_points, source)
    if args.rows is not None:
        table, latlon = table.iloc[: args.rows], latlon[: args.rows]
    emb, encode_s = timed(geoembed.encode_location, latlon, order="latlon", progress=True)
    result = {
        "input": f"{source.name} ({len(latlon)} rows)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
        "read_points_s": read_s,
        "encode_s": encode_s,
        "points_per_s": round(len(latlon) / encode_s),
        "raw_float32_mb": round(emb.nbytes / 1e6, 1),
        "outputs": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for name, layout in [("columns.parquet", "columns"), ("list.parquet", "list"), ("array.npy", "columns")]:
            path = Path(folder) / name
            _, write_s = timed(write_embeddings, table, emb, path, layout=layout)
            back, read_back_s = timed(read_embeddings, path)
            assert (back == emb).all(), f"{name} did not round-trip"
            result["outputs"][name] = {
                "write_s": write_s,
                "read_embeddings_s": read_back_s,
                "mb": round(path.stat().st_size / 1e6, 1),
            }
        # The same table with pandas' defaults (dictionary encoding on every column), for comparison.
        frame = table.join(embeddings_frame(emb))
        path = Path(folder) / "columns_dictionary.parquet"
        _, write_s = timed(frame.to_parquet, path)
        result["outputs"]["columns.parquet with dictionary encoding (pandas default)"] = {
            "write_s": write_s,
            "mb": round(path.stat().st_size / 1e6, 1),
        }
    with atomic_write(args.output) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def embeddings_frame(emb):
    return pd.DataFrame(emb, columns=embedding_column_names(emb.shape[1]))


if __name__ == "__main__":
    main()
