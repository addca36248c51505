"""``geoembed explain``: the top concepts of places, or a world map of one concept."""

from __future__ import annotations

import argparse

from geoembed.cli_args import positive_float, positive_int
from geoembed.errors import GeoembedError

DEFAULT_BANK = "geodata.geoclip"
SPARSE_ALPHA = 0.15  # geoembed.concepts.scoring.SPARSE_ALPHA (not imported: the CLI parser must stay cheap to build)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="explain places with concepts (top concepts, or a concept map)",
        description=(
            "Score places against a concept bank and print their top concepts (or, with --method sparse, a sparse "
            "sum of concepts that reconstructs each place); or, with --map CONCEPT, draw that concept's score over "
            "the globe as a PNG. A bank in the location encoder's space scores places directly; a text bank "
            "(geography, generic, your own) through the registered concept projection from the encoder's space "
            "into the bank's. --standardize gives z-scores against 10,000 reference land places."
        ),
        epilog=(
            "examples:\n"
            "  geoembed explain --lat 27.98 --lon 86.92\n"
            "  geoembed explain --lat 48.86 --lon 2.35 --bank geography\n"
            "  geoembed explain --lat 48.86 --lon 2.35 --bank geography --method sparse\n"
            "  geoembed explain --input examples/cities.csv -o explained.csv --top-k 3\n"
            "  geoembed explain --map 'arid climate' -o arid.png --land-only"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_argument_group("places (one of)")
    where.add_argument("--lat", type=float, help="latitude in degrees (with --lon)")
    where.add_argument("--lon", type=float, help="longitude in degrees (with --lat)")
    where.add_argument("--input", metavar="FILE", help="a file of points (CSV, Parquet, GeoJSON...; as for encode)")
    where.add_argument("--lat-col", help="latitude column of --input (default: found by name)")
    where.add_argument("--lon-col", help="longitude column of --input (default: found by name)")
    where.add_argument("--map", metavar="CONCEPT", help="draw this concept over a global grid instead")
    parser.add_argument("--bank", default=DEFAULT_BANK, help=f"concept bank name or saved folder (default: {DEFAULT_BANK})")
    parser.add_argument("--encoder", default="geoclip", help="location encoder name (default: geoclip)")
    parser.add_argument("--category", help="only concepts under this category path, e.g. natural/climate")
    parser.add_argument("--top-k", type=positive_int, default=5, help="concepts per place (default: 5)")
    parser.add_argument("--method", choices=("top", "sparse"), default="top",
                        help="top: highest-scoring concepts; sparse: non-negative sparse decomposition of each place "
                             "over the bank (text banks), with its reconstruction cosine (default: top)")
    parser.add_argument("--standardize", action="store_true",
                        help="z-scores of each concept against the reference places instead of raw scores (cosine "
                             "or probability): what is unusual here rather than what is strong")
    parser.add_argument("--reference", type=positive_int, metavar="N",
                        help="number of reference land places for --standardize and for centring in --method "
                             "sparse (default: 10000)")
    parser.add_argument("--alpha", type=positive_float, default=SPARSE_ALPHA,
                        help=f"L1 penalty of --method sparse: larger gives fewer concepts (default: {SPARSE_ALPHA})")
    parser.add_argument("--projection", metavar="NAME",
                        help="concept projection to score a text bank with (default: the registered one from the "
                             "encoder's space into the bank's)")
    parser.add_argument("-o", "--output", help="output: .csv/.parquet for --input, .png for --map")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    maps = parser.add_argument_group("map options")
    maps.add_argument("--step", type=float, default=1.0, help="grid step in degrees (default: 1.0)")
    maps.add_argument("--land-only", action="store_true", help="only land cells")
    maps.add_argument("--memory-limit", type=positive_float, default=4.0, metavar="GB",
                      help="refuse a map whose estimated memory exceeds this many GB (default: 4)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    modes = [args.map is not None, args.input is not None, args.lat is not None or args.lon is not None]
    if sum(modes) != 1:
        raise GeoembedError("Give exactly one of: --lat and --lon, --input FILE, or --map CONCEPT.")
    if args.output is not None and not args.overwrite and Path(args.output).exists():
        from geoembed.errors import OutputExistsError

        raise OutputExistsError(f"{args.output} exists; pass --overwrite to replace it.")

    if args.map is not None:
        from geoembed.concepts.explain import concept_map

        if not 0 < args.step <= 90:
            raise GeoembedError(f"--step must be in (0, 90] degrees, got {args.step}.")
        if args.method != "top":
            raise GeoembedError("--map draws one concept's score; --method sparse explains places "
                                "(--lat/--lon, --input).")
        try:
            out = concept_map(args.map, bank=args.bank, encoder=args.encoder, out=args.output or "concept_map.png",
                              step_deg=args.step, land_only=args.land_only, progress=True,
                              memory_limit_gb=args.memory_limit, projection=args.projection,
                              standardize=args.standardize, reference=args.reference)
        except KeyError as exc:  # an unknown concept name: the message lists close matches
            raise GeoembedError(exc.args[0]) from None
        print(f"wrote the concept map of {args.map!r} to {out}")
        return 0

    from geoembed.concepts.explain import explain_locations

    if args.method == "sparse" and args.standardize:
        raise GeoembedError("--standardize applies to --method top; --method sparse reports weights, not scores.")
    options = dict(bank=args.bank, encoder=args.encoder, top_k=args.top_k, category=args.category,
                   method=args.method, standardize=args.standardize, reference=args.reference,
                   projection=args.projection, alpha=args.alpha, progress=True)
    if args.input is not None:
        from geoembed.io import read_points

        _, latlon = read_points(args.input, lat_col=args.lat_col, lon_col=args.lon_col)
        table = explain_locations(latlon, order="latlon", **options)
    else:
        if args.lat is None or args.lon is None:
            raise GeoembedError("--lat and --lon go together.")
        table = explain_locations(lat=[args.lat], lon=[args.lon], **options)
    if args.output is None:
        print(_what(table))
        with _pandas_display():
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        return 0
    _write_table(table, Path(args.output))
    print(f"wrote {len(table)} rows ({table['point'].nunique()} places x top {args.top_k}) to {args.output}")
    return 0


def _what(table) -> str:
    """One line saying what the numbers are and how the bank was reached."""
    attrs = table.attrs
    via = f", through the concept projection {attrs['projection']!r}" if attrs.get("projection") else ""
    if attrs.get("method") == "sparse":
        what = f"sparse decomposition (alpha={attrs.get('alpha')}): weight per concept, reconstruction cosine"
    else:
        what = f"score: {attrs.get('score', 'score')}"
    return f"# {what}; bank space {attrs.get('bank_space')!r}{via}"


def _write_table(table, path) -> None:
    from geoembed.atomic import atomic_write
    from geoembed.errors import DataFileError

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise DataFileError(f"Write explanations to a .csv or .parquet file, not {path.name}.")
    with atomic_write(path) as tmp:
        if suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)


def _pandas_display():
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_colwidth", 60)
