"""``geoembed encode INPUT -o OUTPUT``: embed every point of a file and write the embeddings beside its columns.

This module only parses the command line: the work is :func:`geoembed.location_encoders.encode.encode_file`.
"""

from __future__ import annotations

import argparse
import time

from geoembed.cli_args import check_device, device, positive_int
from geoembed.errors import GeoembedError
from geoembed.location_encoders.encode import DEFAULT_BATCH_SIZE, DEFAULT_ENCODER, DEFAULT_ROWS_PER_CHUNK


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "encode",
        help="embed the points of a CSV/Parquet/GeoJSON/GeoPackage file",
        description=(
            "Embed every point of INPUT with a location encoder and write OUTPUT: the input columns plus the "
            "embeddings (.parquet; GeoParquet when the input has geometries) or the bare float32 array (.npy). "
            "Inputs: .csv .tsv .txt (optionally compressed), .parquet .geoparquet, .geojson .json .gpkg .shp .fgb."
        ),
        epilog="example: geoembed encode examples/cities.csv -o cities.parquet",
    )
    parser.add_argument("input", metavar="INPUT", help="file of points")
    parser.add_argument("-o", "--output", required=True, help="output file: .parquet, .geoparquet or .npy")

    where = parser.add_argument_group("where the coordinates are")
    where.add_argument("--lat-col", help="latitude column (default: found by name: lat, latitude, y...)")
    where.add_argument("--lon-col", help="longitude column (default: found by name: lon, lng, longitude, x...)")
    where.add_argument("--layer", help="layer of a multi-layer file (GeoPackage)")
    where.add_argument(
        "--crs",
        help="CRS of the coordinates when the file states none, e.g. EPSG:3857 for x/y columns in metres "
        "(default for columns: EPSG:4326 degrees)",
    )

    model = parser.add_argument_group("encoder")
    model.add_argument("--encoder", default=DEFAULT_ENCODER, help=f"location encoder name (default: {DEFAULT_ENCODER})")
    weights = model.add_mutually_exclusive_group()
    weights.add_argument("--weights", metavar="PATH", help="your own weights file or folder instead of the published")
    weights.add_argument("--random-weights", action="store_true", help="random initialisation (a baseline)")
    model.add_argument("--seed", type=int, default=0, help="seed of --random-weights (default: 0)")
    model.add_argument(
        "--batch-size",
        metavar="N",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"points per forward pass (default: {DEFAULT_BATCH_SIZE})",
    )
    model.add_argument("--device", type=device, default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    model.add_argument("--normalize", action="store_true", help="L2-normalise each embedding")
    model.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        help="inference precision, for encoders that offer it (geoclip: bfloat16 is ~2x faster on CPUs with "
        "AVX512-BF16, cosine similarity to float32 > 0.9999)",
    )

    scale = parser.add_argument_group("scale")
    scale.add_argument(
        "--rows-per-chunk",
        metavar="N",
        type=positive_int,
        default=DEFAULT_ROWS_PER_CHUNK,
        help="Parquet or CSV in, Parquet out (columns layout): rows read, embedded and written at a time, which "
        f"bounds memory whatever the file size (default: {DEFAULT_ROWS_PER_CHUNK})",
    )
    scale.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="encode a Parquet file or folder of Parquet files on a running Dask cluster (tcp://host:8786), or "
        "with Dask on this machine (local); OUTPUT is then a folder of Parquet files",
    )

    out = parser.add_argument_group("output")
    out.add_argument(
        "--layout",
        choices=("columns", "list"),
        default="columns",
        help="one float32 column per dimension (default) or one list column",
    )
    out.add_argument(
        "--prefix",
        help="name prefix of the embedding columns (default: the encoder's name, as in geoclip_000, geoclip_001...; "
        "or the encoder's own names for its dimensions)",
    )
    out.add_argument("--column", default="embedding", help="name of the list column (default: embedding)")
    out.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


#: The flag of each option of ``encode_file`` that has one, to name it in errors.
FLAGS = {"pretrained": "--random-weights", "weights_path": "--weights", "seed": "--seed", "precision": "--precision"}


def run(args: argparse.Namespace) -> int:
    """Parse nothing more: map the flags to :func:`~geoembed.location_encoders.encode.encode_file`'s arguments."""
    from geoembed.location_encoders.encode import UnsupportedOptionError, encode_file

    started = time.perf_counter()
    check_device(args.device)
    try:
        summary = encode_file(
            args.input, args.output, encoder=args.encoder,
            pretrained=False if args.random_weights else None,
            weights_path=args.weights,
            seed=args.seed if args.random_weights else None,
            precision=args.precision,
            lat_col=args.lat_col, lon_col=args.lon_col, layer=args.layer, crs=args.crs,
            batch_size=args.batch_size, device=args.device, normalize=args.normalize,
            layout=args.layout, prefix=args.prefix, column=args.column,
            rows_per_chunk=args.rows_per_chunk, scheduler=args.scheduler,
            overwrite=args.overwrite, progress=not args.no_progress,
        )
    except UnsupportedOptionError as exc:
        raise GeoembedError(
            f"{FLAGS.get(exc.option, exc.option)} does not apply to the location encoder {exc.encoder!r}: its "
            f"factory takes no {exc.option!r} option. See its documentation (geoembed plugins lists where it comes "
            f"from)."
        ) from None
    seconds = time.perf_counter() - started
    if summary["route"] == "dask":
        print(f"encoded {summary['rows']} points in {summary['partitions']} partitions on {args.scheduler} with "
              f"{args.encoder} -> {args.output}/ in {seconds:.1f} s")
        return 0
    streamed = f", streamed in chunks of {args.rows_per_chunk} rows" if summary["route"] == "stream" else ""
    print(f"encoded {summary['rows']} points -> {summary['dim']}-d embeddings with {args.encoder} "
          f"(weights {summary['weights']}) -> {args.output} in {seconds:.1f} s{streamed}")
    return 0
