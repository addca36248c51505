"""``geoembed geolocate DIR_OR_FILES -o predictions.csv``: where on Earth were these photos taken?"""

from __future__ import annotations

import argparse
import sys

from geoembed.commands import _geolocation_options as options
from geoembed.cli_args import positive_int


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "geolocate",
        help="predict where photos were taken (GeoCLIP image-to-GPS retrieval)",
        description=(
            "Predict the top-K most likely coordinates of each photo by retrieval from a GPS gallery (GeoCLIP). "
            "Gallery embeddings are computed once and cached. Unreadable files are reported and skipped."
        ),
        epilog="example: geoembed geolocate photos/ --top-k 5 -o predictions.csv",
    )
    parser.add_argument("inputs", nargs="+", metavar="DIR_OR_FILE", help="image files or folders of images")
    parser.add_argument("-k", "--top-k", type=positive_int, default=5, help="predictions per image (default 5)")
    parser.add_argument("-o", "--output", help="write predictions here (.csv or .parquet); default: print CSV")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument("--recursive", action="store_true", help="also read images in subfolders")
    options.add_gallery_options(parser)
    parser.add_argument("--within", nargs=3, type=float, metavar=("LAT", "LON", "KM"),
                        help="search only within KM kilometres of LAT, LON (GeoCLIP's Table 5 protocol)")
    options.add_model_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import warnings

    from geoembed.retrieval.geolocate import check_photos_exist, geolocate
    from geoembed.image_backbones.images import SkippedImageWarning, collect_images

    options.check_output(args.output, args.overwrite)  # fail before any slow work
    items = []
    for entry in args.inputs:
        items.extend(collect_images(entry, recursive=args.recursive))
    if not items:
        print("geoembed geolocate: no images found", file=sys.stderr)
        return 1
    check_photos_exist(items)  # a missing photo is named before any model or weights are looked for
    with warnings.catch_warnings(), options.cli_weights_option():
        warnings.simplefilter("ignore", SkippedImageWarning)  # reported below, once, in a list
        predictions = geolocate(
            [item.source for item in items], args.top_k, model=args.model, location_encoder=args.location_encoder,
            gallery=args.gallery, within=args.within, inside=options.polygons(args), ten_crop=args.ten_crop,
            batch_size=args.batch_size, device=args.device, progress=not args.no_progress,
            **options.model_kwargs(args),
        )
    for name, reason in predictions.attrs["skipped"]:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    located = predictions["image"].nunique()
    if args.output:
        options.write_table(predictions, args.output)
        print(f"{located} images located, {len(predictions.attrs['skipped'])} skipped -> {args.output}", file=sys.stderr)
    else:
        predictions.to_csv(sys.stdout, index=False)
    return 0 if located else 1
