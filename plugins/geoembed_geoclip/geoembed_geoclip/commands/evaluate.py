"""``geoembed evaluate RUN FEATURES COORDS``: image-to-GPS retrieval accuracy of a trained run.

A ``geoembed.commands`` entry point of this plugin (see :mod:`geoembed.cli` for the contract).
"""

from __future__ import annotations

import argparse
import json

from geoembed.cli_args import check_device, device, positive_int
from geoembed.errors import GeoembedError


name = "evaluate"
help = "geodesic accuracy (1/25/200/750/2500 km) of a trained run by image-to-GPS retrieval"  # noqa: A001
description = (
    "Place each image of FEATURES at its most similar gallery coordinate with the model in RUN (from "
    "geoembed train) and compare with COORDS: share within 1, 25, 200, 750 and 2500 km, and the median error."
)
epilog = "example: geoembed evaluate runs/geography test_feats.npy test_coords.npy --gallery mp16"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", help="training run folder")
    parser.add_argument("features", metavar="FEATURES", help=".npy image features, (N, F) or (N, P, F)")
    parser.add_argument("coordinates", metavar="COORDS", help=".npy [lat, lon] rows, or a points file")
    parser.add_argument("--gallery", default="train",
                        help="train (the run's training coordinates, default), mp16 (GeoCLIP's 100K MP-16 "
                             "coordinates), or a .npy / points file")
    parser.add_argument("-o", "--output", metavar="JSON", help="write the metrics to this JSON file")
    parser.add_argument("--predictions", metavar="CSV", help="write per-image true/predicted coordinates and error")
    parser.add_argument("--explain", type=positive_int, metavar="N",
                        help="concept-aware runs: print the concepts behind the predictions of the first N images")
    parser.add_argument("--top", type=positive_int, default=5, help="concepts shown per image with --explain")
    parser.add_argument("--device", type=device, default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from geoembed.atomic import atomic_write
    from geoembed_geoclip.evaluation import as_coordinates
    from geoembed_geoclip.training import evaluate_run

    check_device(args.device)
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
    if args.explain:
        print_explanations(args, result)
    return 0


def print_explanations(args: argparse.Namespace, result) -> None:
    """Why each of the first N images was placed where it was: the concepts that added most to the winning score."""
    from geoembed_geoclip.evaluation import load_features
    from geoembed_geoclip.training import load_model

    model = load_model(args.run_dir, device=None if args.device == "auto" else args.device)
    if model.concepts is None:
        raise GeoembedError("--explain needs a concept-aware run; this one is plain GeoCLIP (trained with --no-concepts).")
    features = load_features(args.features)[: args.explain]
    if features.ndim == 3:
        features = features[:, 0]  # the first view of each image
    predicted = result.predictions[: args.explain]
    table = model.explain(features, predicted, top=args.top)
    for pair, group in table.groupby("pair"):
        lat, lon = predicted[pair]
        concepts = ", ".join(f"{c} ({v:+.3f})" for c, v in zip(group["concept"], group["contribution"]))
        print(f"image {pair}: placed at {lat:.2f}, {lon:.2f} ({result.errors_km[pair]:.0f} km off) because of: "
              f"{concepts}")
