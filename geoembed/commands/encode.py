"""``geoembed encode INPUT -o OUTPUT``: embed every point of a file and write the embeddings beside its columns."""

from __future__ import annotations

import argparse
import inspect
import time

from geoembed.commands._args import check_device, device, positive_int
from geoembed.location_encoders.encode import DEFAULT_BATCH_SIZE, DEFAULT_ENCODER
from geoembed.errors import GeoembedError



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
        default=16_384,
        help="Parquet in, Parquet out (columns layout): rows read, embedded and written at a time, which bounds "
        "memory whatever the file size (default: 16384)",
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
    out.add_argument("--prefix", default="emb_", help="name prefix of the embedding columns (default: emb_)")
    out.add_argument("--column", default="embedding", help="name of the list column (default: embedding)")
    out.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from geoembed.location_encoders.encode import get_location_encoder, iter_embeddings
    from geoembed.io import check_embedding_columns, check_output, read_points, write_embeddings

    started = time.perf_counter()
    check_device(args.device)
    options = _encoder_options(args)
    if args.weights is not None:
        _check_user_weights(args, options)
    if args.scheduler:
        return _run_on_dask(args, options, started)
    output_format = check_output(args.output, overwrite=args.overwrite)  # fail before any slow work
    if output_format == "parquet" and args.layout == "columns" and (_is_parquet(args.input) or _is_text(args.input)):
        return _run_streaming(args, options, started)
    table, latlon = read_points(args.input, lat_col=args.lat_col, lon_col=args.lon_col, layer=args.layer, crs=args.crs)
    if output_format == "geoparquet":
        table = _with_point_geometry(table, latlon)
    device = None if args.device == "auto" else args.device
    model = get_location_encoder(args.encoder, device=device, **options)
    if output_format != "npy":  # a name clash must stop the run before encoding, not after
        check_embedding_columns(table, model.embedding_dim, layout=args.layout, prefix=args.prefix, column=args.column)

    embeddings = np.empty((len(latlon), model.embedding_dim), dtype=np.float32)
    start = 0
    for chunk in iter_embeddings(
        latlon, model, batch_size=args.batch_size, normalize=args.normalize, progress=not args.no_progress
    ):
        embeddings[start : start + len(chunk)] = chunk
        start += len(chunk)

    write_embeddings(
        table,
        embeddings,
        args.output,
        layout=args.layout,
        prefix=args.prefix,
        column=args.column,
        overwrite=args.overwrite,
    )
    print(
        f"encoded {len(latlon)} points -> {model.embedding_dim}-d embeddings with {args.encoder} "
        f"(weights {_weights_label(model, args, options)}) -> {args.output} in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _run_streaming(args: argparse.Namespace, options: dict, started: float) -> int:
    """Parquet or CSV in, Parquet out: chunk by chunk, in bounded memory (see geoembed.location_encoders.streaming)."""
    from pathlib import Path

    from geoembed.location_encoders.streaming import encode_csv, encode_parquet

    if Path(args.input).is_dir():
        raise GeoembedError(f"{args.input} is a folder: a folder of Parquet files is encoded with Dask, on a cluster "
                            f"(--scheduler tcp://host:8786) or on this machine (--scheduler local).")
    if args.layer is not None:
        raise GeoembedError(f"--layer applies to multi-layer vector files such as GeoPackage, not to {args.input}.")
    stream = encode_parquet if _is_parquet(args.input) else encode_csv
    summary = stream(
        args.input, args.output, lat_col=args.lat_col, lon_col=args.lon_col, crs=args.crs, encoder=args.encoder,
        batch_size=args.batch_size, rows_per_chunk=args.rows_per_chunk, normalize=args.normalize, prefix=args.prefix,
        device=None if args.device == "auto" else args.device, overwrite=args.overwrite,
        progress=not args.no_progress, **options,
    )
    from geoembed.location_encoders.encode import get_location_encoder

    model = get_location_encoder(args.encoder, device=None if args.device == "auto" else args.device, **options)
    print(
        f"encoded {summary['rows']} points -> {summary['dim']}-d embeddings with {args.encoder} "
        f"(weights {_weights_label(model, args, options)}) -> {args.output} in {time.perf_counter() - started:.1f} s, "
        f"streamed in chunks of {args.rows_per_chunk} rows"
    )
    return 0


def _run_on_dask(args: argparse.Namespace, options: dict, started: float) -> int:
    """A Parquet file or folder encoded on a Dask cluster into a folder of Parquet files."""
    from geoembed.location_encoders.parallel import encode_parquet_dataset

    if not _is_parquet(args.input):
        raise GeoembedError(f"--scheduler needs Parquet input (a file or a folder of files), got {args.input}.")
    summary = encode_parquet_dataset(
        args.input, args.output, scheduler=args.scheduler, overwrite=args.overwrite, lat_col=args.lat_col,
        lon_col=args.lon_col, crs=args.crs, encoder=args.encoder, batch_size=args.batch_size,
        normalize=args.normalize, prefix=args.prefix, device=None if args.device == "auto" else args.device,
        **options,
    )
    print(
        f"encoded {summary['rows']} points in {summary['partitions']} partitions on {args.scheduler} with "
        f"{args.encoder} -> {args.output}/ in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _is_text(path: str) -> bool:
    """A CSV/TSV/text file that pyarrow can stream (plain, or compressed with gzip, bzip2 or zstd)."""
    from pathlib import Path

    from geoembed.io import TEXT_SUFFIXES

    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst"):
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in TEXT_SUFFIXES and not Path(path).is_dir()


def _is_parquet(path: str) -> bool:
    from pathlib import Path

    p = Path(path)
    return p.suffix.lower() in (".parquet", ".geoparquet") or (p.is_dir() and any(p.glob("*.parquet")))


def _encoder_options(args: argparse.Namespace) -> dict:
    """Factory keyword arguments for the weights and precision options, checked against what the factory accepts."""
    from geoembed.registry import location_encoders

    options: dict = {}
    if args.weights is None and not args.random_weights and args.precision is None:
        return options
    factory = location_encoders.get(args.encoder)
    if args.precision is not None:
        _require_option(factory, "precision", args.encoder, "--precision")
        options["precision"] = args.precision
    if args.weights is not None:
        _require_option(factory, "weights_path", args.encoder, "--weights")
        options["weights_path"] = args.weights
    elif args.random_weights:
        _require_option(factory, "pretrained", args.encoder, "--random-weights")
        options["pretrained"] = False
        if _accepts(factory, "seed"):
            options["seed"] = args.seed
    return options


def _check_user_weights(args: argparse.Namespace, options: dict) -> None:
    """Refuse a --weights file whose values are not all finite, naming that file (before any encoding).

    The model is built once here; encoders built by name are cached, so encoding reuses it."""
    import torch

    from geoembed.location_encoders.encode import get_location_encoder

    model = get_location_encoder(args.encoder, device=None if args.device == "auto" else args.device, **options)
    tensors = list(model.parameters()) + list(model.buffers())
    bad = [t for t in tensors if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise GeoembedError(
            f"--weights {args.weights}: this weights file holds NaN or infinite values, so every embedding would be "
            f"NaN. The file itself is bad (this is not a cache problem): export it again from a healthy model, or "
            f"drop --weights to use the published weights."
        )


def _weights_label(model, args: argparse.Namespace, options: dict) -> str:
    if model.weights is not None:
        return model.weights.name
    if args.random_weights:
        return f"random (seed {options['seed']})" if "seed" in options else "random"
    return "none"


def _accepts(factory, option: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no introspectable signature: let the factory decide
        return True
    return option in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _require_option(factory, option: str, encoder: str, flag: str) -> None:
    if not _accepts(factory, option):
        raise GeoembedError(
            f"{flag} does not apply to the location encoder {encoder!r}: its factory takes no {option!r} option. "
            f"See its documentation (geoembed plugins lists where it comes from)."
        )


def _with_point_geometry(table, latlon):
    """A GeoDataFrame with EPSG:4326 points, for GeoParquet output from an input that has only coordinate columns."""
    import geopandas

    if isinstance(table, geopandas.GeoDataFrame) and table._geometry_column_name in table.columns:
        return table
    if "geometry" in table.columns:
        raise GeoembedError(
            "The input has a 'geometry' column that is not a geometry; write .parquet instead of .geoparquet."
        )
    points = geopandas.points_from_xy(latlon[:, 1], latlon[:, 0], crs="EPSG:4326")
    return geopandas.GeoDataFrame(table, geometry=points)
