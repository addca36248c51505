"""Options shared by ``geoembed geolocate`` and ``geoembed evaluate-photos`` (not a subcommand: the name starts with _)."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any

from geoembed.cli_args import device, positive_int
from geoembed.errors import DataFileError, GeoembedError, OutputExistsError

TABLE_SUFFIXES = (".csv", ".parquet")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", default="geoclip",
                       help="registered image backbone whose features share the location space (default: geoclip, "
                            "from the geoembed-geoclip plugin)")
    group.add_argument("--location-encoder", default="geoclip", help="location encoder of the gallery (default: geoclip)")
    group.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE", type=model_option,
                       help="an option of --model's factory, e.g. clip_model=ViT-B-32 (repeatable; VALUE is read as "
                            "a Python literal when it is one, else as text)")
    group.add_argument("--clip-model", help="for a --model built on a CLIP tower: its open_clip architecture "
                                            "(same as --model-option clip_model=NAME)")
    group.add_argument("--clip-weights", metavar="TAG_OR_PATH",
                       help="for a --model built on a CLIP tower: its weights, an open_clip tag or a weights file "
                            "(same as --model-option clip_pretrained=TAG_OR_PATH)")
    group.add_argument("--ten-crop", action="store_true", help="average the ten crops' scores (GeoCLIP's protocol)")
    group.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="images per batch (default 32)")
    group.add_argument("--device", type=device, default=None,
                       help="cpu, cuda, cuda:N or mps (default: the best available)")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def model_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--model-option``: VALUE as a Python literal (``3``, ``None``, ``True``) or as text."""
    import ast

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY an option name (e.g. clip_model=ViT-B-32), "
                                         f"got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def add_gallery_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where to search")
    group.add_argument("--gallery", default="mp16",
                       help="mp16 (GeoCLIP's 100K coordinates, default), grid:STEP, land:STEP, or a file of points")
    group.add_argument("--country", action="append", metavar="NAME",
                       help="search only inside this country (name or ISO code; repeatable)")
    group.add_argument("--inside", metavar="FILE", help="search only inside the polygons of this vector file")


def cli_weights_option():
    """Word missing-weights errors for the shell: ``--clip-weights FILE``, not the Python keyword."""
    from geoembed.image_backbones.hub import weights_option

    return weights_option(cli="--clip-weights")


def model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Factory options for ``--model`` from the CLI flags (only those given, so plugins get no unknown options)."""
    kwargs: dict[str, Any] = dict(args.model_option or [])
    for flag, key, value in (("--clip-model", "clip_model", args.clip_model),
                             ("--clip-weights", "clip_pretrained", args.clip_weights)):
        if value:
            if key in kwargs and kwargs[key] != value:
                raise GeoembedError(f"{flag} {value} and --model-option {key}={kwargs[key]} disagree; give one.")
            kwargs[key] = value
    return kwargs


def polygons(args: argparse.Namespace):
    """The union of ``--country`` and ``--inside`` polygons as a GeoSeries, or None."""
    import geopandas as gpd
    import pandas as pd

    parts = []
    if args.country:
        from geoembed.geo import countries

        table = countries()
        for name in args.country:
            wanted = name.strip().lower()
            match = table[(table["name"].str.lower() == wanted) | (table["iso_a3"].str.lower() == wanted)]
            if match.empty:
                close = difflib.get_close_matches(name, table["name"].tolist(), n=3, cutoff=0.6)
                hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise GeoembedError(f"Unknown country {name!r} (Natural Earth names or ISO 3166 alpha-3 codes).{hint}")
            parts.append(match.geometry)
    if args.inside:
        path = Path(args.inside)
        if not path.is_file():
            raise FileNotFoundError(f"--inside file {path} does not exist.")
        parts.append(gpd.read_file(path).geometry)
    if not parts:
        return None
    return gpd.GeoSeries(pd.concat([p.to_crs("EPSG:4326") for p in parts], ignore_index=True), crs="EPSG:4326")


def check_output(path: str | None, overwrite: bool) -> None:
    if path is None:
        return
    target = Path(path)
    if target.suffix.lower() not in TABLE_SUFFIXES:
        raise DataFileError(f"Output {target} must end in {' or '.join(TABLE_SUFFIXES)}.")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} already exists; pass --overwrite to replace it.")


def write_table(table, path: str) -> None:
    """Write a DataFrame as CSV or Parquet (from the suffix), atomically."""
    from geoembed.atomic import atomic_write

    with atomic_write(path) as tmp:
        if Path(path).suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
