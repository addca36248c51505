"""``geoembed evaluate-photos TABLE_OR_PHOTOS``: geo-localization accuracy at 1/25/200/750/2500 km."""

from __future__ import annotations

import argparse
import json
import sys

from geoembed.commands import _geolocation_options as options


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate-photos",
        help="accuracy of photo geo-localization against known positions",
        description=(
            "Geolocate photos whose true positions are known (a CSV/Parquet table of image paths with lat/lon "
            "columns, or photos carrying GPS EXIF tags) and report the share within 1, 25, 200, 750 and 2500 km "
            "and the median error."
        ),
        epilog="example: geoembed evaluate-photos im2gps3k.csv --ten-crop -o per_image.csv",
    )
    parser.add_argument("source", metavar="TABLE_OR_PHOTOS",
                        help="a .csv/.parquet of image paths (relative to it) and coordinates, or a folder of photos "
                             "with GPS EXIF tags")
    parser.add_argument("--image-col", help="column of image paths (default: found by name: image, path, file...)")
    parser.add_argument("--lat-col", help="latitude column (default: found by name)")
    parser.add_argument("--lon-col", help="longitude column (default: found by name)")
    parser.add_argument("--exif", action="store_true", help="take the true positions from the photos' GPS tags")
    parser.add_argument("--within-km", type=float, metavar="KM",
                        help="search only within KM of each photo's true position (GeoCLIP's Table 5 protocol)")
    parser.add_argument("-o", "--output", help="per-image results (.csv or .parquet)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    options.add_gallery_options(parser)
    options.add_model_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import warnings

    from geoembed.retrieval.evaluation import evaluate_photos
    from geoembed.image_backbones.images import SkippedImageWarning

    options.check_output(args.output, args.overwrite)
    with warnings.catch_warnings(record=True) as caught, options.cli_weights_option():
        warnings.simplefilter("always", SkippedImageWarning)
        summary, per_image = evaluate_photos(
            args.source, within_km=args.within_km, image_col=args.image_col, lat_col=args.lat_col,
            lon_col=args.lon_col, exif=args.exif, model=args.model, location_encoder=args.location_encoder,
            gallery=args.gallery, inside=options.polygons(args), ten_crop=args.ten_crop, batch_size=args.batch_size,
            device=args.device, progress=not args.no_progress, **options.model_kwargs(args),
        )
    for warning in caught:
        if issubclass(warning.category, SkippedImageWarning):
            print(str(warning.message), file=sys.stderr)
    if args.output:
        options.write_table(per_image, args.output)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{summary['n']} photos evaluated, {summary['skipped']} skipped")
    for key, value in summary.items():
        if key.startswith("acc@"):
            print(f"  {key[4:]:>8}  {100 * value:6.2f} %")
    print(f"  median error {summary['median_km']:.1f} km, mean {summary['mean_km']:.1f} km")
    return 0
