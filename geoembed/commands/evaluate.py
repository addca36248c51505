"""``geoembed evaluate RUN FEATURES COORDS``: image-to-GPS retrieval accuracy of a trained run."""

from __future__ import annotations

import argparse
import json

from geoembed.commands.encode import _check_device, _device
from geoembed.errors import GeoembedError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="geodesic accuracy (1/25/200/750/2500 km) of a trained run by image-to-GPS retrieval",
        description=(
            "Place each image of FEATURES at its most similar gallery coordinate with the model in RUN (from "
            "geoembed train) and compare with COORDS: share within 1, 25, 200, 750 and 2500 km, and the median error."
        ),
        epilog="example: geoembed evaluate runs/geography test_feats.npy test_coords.npy --gallery mp16",
    )
    parser.add_argument("run_dir", metavar="RUN", help="training run folder")
    parser.add_argument("features", metavar="FEATURES", help=".npy image features, (N, F) or (N, P, F)")
    parser.add_argument("coordinates", metavar="COORDS", help=".npy [lat, lon] rows, or a points file")
    parser.add_argument("--gallery", default="train",
                        help="train (the run's training coordinates, default), mp16 (GeoCLIP's 100K MP-16 "
                             "coordinates), or a .npy / points file")
    parser.add_argument("-o", "--output", metavar="JSON", help="write the metrics to this JSON file")
    parser.add_argument("--predictions", metavar="CSV", help="write per-image true/predicted coordinates and error")
    parser.add_argument("--device", type=_device, default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from geoembed.atomic import atomic_write
    from geoembed_geoclip.evaluation import as_coordinates
    from geoembed_geoclip.training import evaluate_run

    _check_device(args.device)
    try:
        result = evaluate_run(args.run_dir, args.features, args.coordinates, args.gallery,
                              device=None if args.device == "auto" else args.device, progress=not args.no_progress)
    except (ValueError, FloatingPointError) as exc:  # bad input found deep inside: one clear line, not a traceback
        if isinstance(exc, GeoembedError):
            raise
        raise GeoembedError(str(exc)) from exc
    metrics = result.metrics
    for key, value in metrics.items():
        shown = f"{100 * value:.2f} %" if key.startswith("acc@") else (f"{value:.1f}" if isinstance(value, float)
                                                                        else str(value))
        print(f"{key:>12}  {shown}")
    if args.output:
        with atomic_write(args.output) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    if args.predictions:
        truth = as_coordinates(args.coordinates)
        table = pd.DataFrame({"lat": truth[:, 0], "lon": truth[:, 1], "pred_lat": result.predictions[:, 0],
                              "pred_lon": result.predictions[:, 1], "error_km": result.errors_km})
        with atomic_write(args.predictions) as tmp:
            table.to_csv(tmp, index=False)
    return 0
