"""Files in, files out: reading tables of points and writing their embeddings (``geoembed encode`` uses this).

Inputs (format from the suffix):

- CSV ``.csv``, TSV ``.tsv`` and delimited text ``.txt`` (delimiter sniffed), optionally compressed (``.csv.gz``...):
  coordinates come from a latitude and a longitude column, found by name or given explicitly;
- Parquet ``.parquet`` / ``.geoparquet``: GeoParquet (recognised by its ``geo`` metadata) is read with its geometry,
  plain Parquet like a CSV;
- vector files GDAL reads: GeoJSON ``.geojson`` / ``.json``, GeoPackage ``.gpkg``, Shapefile ``.shp``, FlatGeobuf
  ``.fgb``.

Coordinates always pass through :func:`geoembed.coords.as_latlon`, so validation, CRS reprojection and error messages
(naming the offending rows by the table's index) are exactly those of :func:`geoembed.encode_location`.

Outputs: Parquet with the input columns kept plus the embeddings, as one float32 column per dimension or one list
column (``embedding``); a table with a geometry is written as GeoParquet. ``.npy`` holds the bare float32 array.
Every write is atomic and never replaces a file unless asked to.

Embedding columns have one naming everywhere (files, :class:`~geoembed.downstream.featurizer.LocationFeaturizer`,
the ``gdf.geoembed`` accessor): :func:`embedding_column_names`, scikit-learn's ``get_feature_names_out`` convention
(a prefix naming the estimator, then the output's index: ``pca0``, ``pca1``...) with the encoder's registered name as
prefix, an underscore before the index (names may end in digits: ``satclip-l40_000``) and the index zero-padded so
the names sort in dimension order: ``geoclip_000 ... geoclip_511``. An encoder that names its dimensions (a
``feature_names`` attribute, e.g. one concept per dimension) gets those names. Files written before this naming
(``emb_000``...) are still read by :func:`read_embeddings`.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from geoembed.atomic import atomic_write
from geoembed.coords import LAT_COLUMN_NAMES, LON_COLUMN_NAMES, as_latlon
from geoembed.errors import DataFileError, GeoembedError, InvalidCoordinatesError, OutputExistsError

#: Delimited text suffixes and their delimiter (None: sniffed from the file).
TEXT_SUFFIXES: dict[str, str | None] = {".csv": ",", ".tsv": "\t", ".txt": None}
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb")
#: Compression pandas undoes by itself, allowed after a text suffix (``points.csv.gz``).
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")
INPUT_SUFFIXES = (*TEXT_SUFFIXES, *PARQUET_SUFFIXES, *VECTOR_SUFFIXES)
OUTPUT_SUFFIXES = (".parquet", ".geoparquet", ".npy")
LAYOUTS = ("columns", "list")

#: The latitude / longitude column names of :mod:`geoembed.coords` (kept here under their former names).
LAT_NAMES = LAT_COLUMN_NAMES
LON_NAMES = LON_COLUMN_NAMES
#: Prefix of the embedding columns of an array whose encoder is unknown (``write_embeddings`` without ``encoder=``),
#: and the prefix every file written by ``geoembed encode`` before the one naming had: such files are still read.
GENERIC_PREFIX = "emb_"

_MAX_SHOWN = 20


# -- reading ---------------------------------------------------------------------------------------------------------
def read_points(
    path: str | os.PathLike,
    *,
    lat_col: str | None = None,
    lon_col: str | None = None,
    layer: str | None = None,
    crs: Any = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a table of points; return it (a GeoDataFrame when the file has geometries) and its ``(N, 2)`` [lat, lon].

    Args:
        path: a CSV/TSV/text, Parquet/GeoParquet, GeoJSON, GeoPackage, Shapefile or FlatGeobuf file.
        lat_col, lon_col: the coordinate columns; by default they are found by name (``lat``/``latitude``/``y``,
            ``lon``/``lng``/``long``/``longitude``/``x``), and files with point geometries use those instead.
        layer: the layer of a multi-layer file (GeoPackage).
        crs: the CRS of the coordinates when the file does not say it (e.g. ``"EPSG:3857"`` for x/y columns in
            metres, or for a GeoPackage/GeoParquet saved without a CRS); they are reprojected to EPSG:4326.
            Default for columns: longitude/latitude degrees (EPSG:4326).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Input file {path} does not exist.")
    if path.is_dir():
        raise DataFileError(f"{path} is a folder; give a file ({', '.join(INPUT_SUFFIXES)}).")
    kind = input_format(path)
    if layer is not None and kind != "vector":
        raise DataFileError(f"layer= (--layer) applies to multi-layer vector files such as GeoPackage, not to {path}.")
    if kind == "text":
        check_unique_header(path)
    table = _read_table(path, kind, layer)
    if len(table) == 0:
        raise DataFileError(f"{path} has no rows: there is nothing to encode.")
    return table, latlon_from_table(table, lat_col=lat_col, lon_col=lon_col, crs=crs)


def input_format(path: str | os.PathLike) -> str:
    """``"text"``, ``"parquet"`` or ``"vector"``, from the file name; unknown suffixes raise :class:`DataFileError`."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in COMPRESSION_SUFFIXES and suffixes[-2] in TEXT_SUFFIXES:
        return "text"
    suffix = suffixes[-1] if suffixes else ""
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    raise DataFileError(
        f"Cannot tell the format of {path} from its suffix {suffix or '(none)'!r}. Supported inputs: "
        f"{', '.join(INPUT_SUFFIXES)} (text files may be compressed: .csv.gz). Rename the file, or convert it."
    )


def latlon_from_table(
    table: pd.DataFrame,
    *,
    lat_col: str | None = None,
    lon_col: str | None = None,
    crs: Any = None,
) -> np.ndarray:
    """The validated ``(N, 2)`` [lat, lon] of a DataFrame's coordinate columns or a GeoDataFrame's point geometries.

    Explicit columns win over a geometry; see :func:`read_points` for ``crs``.
    """
    target_crs = _parse_crs(crs)
    geometry = _active_geometry(table)
    if geometry is not None and lat_col is None and lon_col is None:
        if target_crs is not None:
            if geometry.crs is None:
                geometry = geometry.set_crs(target_crs)
            elif not geometry.crs.equals(target_crs):
                raise DataFileError(
                    f"The geometries are in {geometry.crs.to_string()}, but crs={crs!r} was given. crs= (--crs) is "
                    f"only for data that states no CRS: drop it to use the geometries' own."
                )
        return as_latlon(geometry)

    lat_name = _find_column(table, lat_col, LAT_NAMES, "latitude", "lat_col", "--lat-col")
    lon_name = _find_column(table, lon_col, LON_NAMES, "longitude", "lon_col", "--lon-col")
    if lat_name == lon_name:
        raise DataFileError(f"Latitude and longitude cannot both come from the column {lat_name!r}.")
    lat = _numeric_column(table, lat_name)
    lon = _numeric_column(table, lon_name)
    if target_crs is None:
        return as_latlon(lat=lat, lon=lon)
    import geopandas

    points = geopandas.points_from_xy(lon.to_numpy(), lat.to_numpy(), crs=target_crs)
    return as_latlon(geopandas.GeoSeries(points, index=table.index))


def coordinate_columns(table: pd.DataFrame, *, lat_col: str | None = None,
                       lon_col: str | None = None) -> tuple[str, str]:
    """The names of the latitude and longitude columns :func:`latlon_from_table` would use (for streamed reads)."""
    lat_name = _find_column(table, lat_col, LAT_NAMES, "latitude", "lat_col", "--lat-col")
    lon_name = _find_column(table, lon_col, LON_NAMES, "longitude", "lon_col", "--lon-col")
    if lat_name == lon_name:
        raise DataFileError(f"Latitude and longitude cannot both come from the column {lat_name!r}.")
    return lat_name, lon_name


def _read_table(path: Path, kind: str, layer: str | None) -> pd.DataFrame:
    """Read ``path`` with the library that knows its format; failures become one clear :class:`DataFileError`."""
    try:
        if kind == "text":
            text_suffix = next(s.lower() for s in reversed(path.suffixes) if s.lower() in TEXT_SUFFIXES)
            delimiter = TEXT_SUFFIXES[text_suffix]
            if delimiter is None:  # let Python's csv.Sniffer find it
                return pd.read_csv(path, sep=None, engine="python")
            return pd.read_csv(path, sep=delimiter)
        if kind == "parquet":
            if _is_geoparquet(path):
                import geopandas

                return geopandas.read_parquet(path)
            return pd.read_parquet(path)
        import geopandas

        layer = _choose_layer(path, layer)
        return geopandas.read_file(path, layer=layer)
    except GeoembedError:
        raise
    except Exception as exc:  # parser, Arrow and GDAL errors of many types: all mean "this file cannot be read"
        hint = " A .json input must be GeoJSON; convert other JSON to CSV or Parquet." if path.suffix == ".json" else ""
        raise DataFileError(f"Could not read {path} as {kind} data: {type(exc).__name__}: {exc}{hint}") from exc


def check_unique_header(path: str | os.PathLike) -> None:
    """Refuse a delimited text file whose header repeats a column name.

    pandas would keep the first ``lat`` and rename the second to ``lat.1``, so which one holds the coordinates would
    be decided silently. Only the header line is read.
    """
    path = Path(path)
    text_suffix = next(s.lower() for s in reversed(path.suffixes) if s.lower() in TEXT_SUFFIXES)
    delimiter = TEXT_SUFFIXES[text_suffix]
    try:
        if delimiter is None:
            header = pd.read_csv(path, sep=None, engine="python", header=None, nrows=1, dtype=str)
        else:
            header = pd.read_csv(path, sep=delimiter, header=None, nrows=1, dtype=str)
    except Exception:  # unreadable or empty: _read_table reports it with the full reason
        return
    # Empty names (trailing delimiters) are left to pandas, which numbers them "Unnamed: 3"...
    names = [str(v).strip() for v in header.iloc[0].tolist() if isinstance(v, str)] if len(header) else []
    repeated = sorted(set(pd.Index(names)[pd.Index(names).duplicated()]))
    if repeated:
        raise DataFileError(
            f"{path}: the header repeats the column name(s) {repeated}, so it is ambiguous which column holds the "
            f"data. Rename the duplicates so that every column name is unique."
        )


def _is_geoparquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    return b"geo" in metadata


def _choose_layer(path: Path, layer: str | None) -> str | None:
    """The layer to read: the one asked for (checked), the only one, or an error listing them."""
    import geopandas

    names = [str(n) for n in geopandas.list_layers(path)["name"]]
    if layer is not None:
        if layer not in names:
            raise DataFileError(f"{path} has no layer {layer!r}; its layers are {names}.")
        return layer
    if len(names) > 1:
        raise DataFileError(f"{path} has {len(names)} layers {names}; choose one with layer= (--layer).")
    return None


def _active_geometry(table: pd.DataFrame):
    """The active geometry GeoSeries of a GeoDataFrame, or None (plain DataFrame, or no geometry column set)."""
    if not type(table).__module__.startswith("geopandas"):
        return None
    try:
        return table.geometry
    except AttributeError:  # a GeoDataFrame whose active geometry column is not set
        return None


def _parse_crs(crs: Any):
    if crs is None:
        return None
    import pyproj

    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise DataFileError(
            f"crs={crs!r} is not a coordinate reference system pyproj knows ({exc}). Use e.g. 'EPSG:4326' or "
            f"'EPSG:3857'."
        ) from None


def _find_column(
    table: pd.DataFrame, requested: str | None, tiers: Sequence[Sequence[str]], what: str, param: str, flag: str
) -> str:
    """The column holding ``what``: the one requested (checked), else the only one with a recognised name."""
    geometry_name = getattr(table, "_geometry_column_name", None)
    columns = [c for c in table.columns if isinstance(c, str) and c != geometry_name]
    how = f"{param}= ({flag} on the command line)"
    repeated = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
    if repeated:
        raise DataFileError(f"The table has several columns named {repeated}: it is ambiguous which holds the data. "
                            f"Rename the duplicates so that every column name is unique.")
    if requested is not None:
        if requested in table.columns:
            return requested
        lowered = [c for c in columns if c.lower() == requested.lower()]
        close = lowered or difflib.get_close_matches(requested, columns, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DataFileError(f"No column named {requested!r} ({param}).{hint} The columns are {_listing(columns)}.")
    for names in tiers:
        matches = [c for c in columns if c.strip().lower() in names]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise DataFileError(
                f"Several columns could hold the {what}: {matches}. Say which one with {how}."
            )
    known = ", ".join(name for names in tiers for name in names)
    raise DataFileError(
        f"No {what} column found. The columns are {_listing(columns)}; recognised {what} names are {known} (any "
        f"case). Name the column with {how}."
    )


def _numeric_column(table: pd.DataFrame, name: str) -> pd.Series:
    """A column as float64 (keeping the index), naming the rows whose text is not a number."""
    column = table[name]
    values = pd.to_numeric(column, errors="coerce").astype("float64")
    not_numbers = values.isna() & column.notna()
    if not_numbers.any():
        positions = np.flatnonzero(not_numbers.to_numpy())
        shown = ", ".join(f"row {column.index[i]} ({column.iloc[i]!r})" for i in positions[:5])
        more = f" and {len(positions) - 5} more" if len(positions) > 5 else ""
        raise InvalidCoordinatesError(
            f"Column {name!r}: {len(positions)} value(s) are not numbers: {shown}{more}. Coordinates must be decimal "
            f"degrees written with a decimal point (48.85, not 48,85 or 48°51'N)."
        )
    return values


def _listing(columns: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:_MAX_SHOWN])
    more = f" and {len(columns) - _MAX_SHOWN} more" if len(columns) > _MAX_SHOWN else ""
    return f"[{shown}{more}]" if columns else "(none)"


# -- writing ---------------------------------------------------------------------------------------------------------
def output_format(path: str | os.PathLike) -> str:
    """``"parquet"``, ``"geoparquet"`` or ``"npy"`` from the output file name; anything else raises."""
    suffix = Path(path).suffix.lower()
    if suffix in OUTPUT_SUFFIXES:
        return suffix[1:]
    if suffix in (".csv", ".tsv", ".txt"):
        raise DataFileError(
            f"Embeddings are not written as text ({path}): hundreds of float columns as text are large, slow and lose "
            f"precision. Write .parquet (readable by pandas, polars, DuckDB...) or .npy instead."
        )
    raise DataFileError(f"Cannot write {path}: supported outputs are {', '.join(OUTPUT_SUFFIXES)}.")


def check_output(path: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Check an output path before doing any work: return its format; raise if it exists and may not be replaced."""
    fmt = output_format(path)
    path = Path(path)
    if path.is_dir():
        raise DataFileError(f"The output {path} is a folder; give a file name ending in {', '.join(OUTPUT_SUFFIXES)}.")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it.")
    return fmt


def embedding_column_names(dim: int, prefix: str | None = None, *, encoder: Any = None) -> list[str]:
    """The names of ``dim`` embedding columns: the one naming of files, featurizers and the ``gdf.geoembed`` accessor.

    Following scikit-learn's ``get_feature_names_out`` convention (an estimator prefix, then the output index), with:

    - ``prefix`` given: ``prefix`` + zero-padded index (``prefix="g"``: ``g000``, ``g001``...);
    - else the encoder's own names, when it has a ``feature_names`` attribute (one name per dimension);
    - else ``<encoder name>_`` + zero-padded index: ``geoclip_000 ... geoclip_511``, ``xyz_000``. ``encoder`` is a
      registered name or an encoder (built by name: its registered name; else its class name in lower case);
    - no encoder: ``emb_000``... (:data:`GENERIC_PREFIX`).

    Indices are padded to at least three digits so that the names sort in dimension order, and the underscore keeps
    names unambiguous for encoder names that end in digits (``satclip-l40_000``).
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer (the embedding width), got {dim!r}.")
    if prefix is None:
        own = None if encoder is None or isinstance(encoder, str) else getattr(encoder, "feature_names", None)
        if own is not None:
            return _checked_feature_names(own, int(dim), encoder)
        prefix = GENERIC_PREFIX if encoder is None else f"{encoder_name(encoder)}_"
    width = max(3, len(str(dim - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(dim)]


def encoder_name(encoder: Any) -> str:
    """The name an encoder goes by in column names: the registered name it was built from, else its class name."""
    if isinstance(encoder, str):
        return encoder
    from geoembed.registry import location_encoders

    spec = location_encoders.origin(encoder)
    return spec.name if spec is not None else type(encoder).__name__.lower()


def _checked_feature_names(names: Any, dim: int, encoder: Any) -> list[str]:
    from geoembed.errors import PluginOutputError

    names = [str(n) for n in names] if not isinstance(names, str) else []
    if len(names) != dim or len(set(names)) != dim or not all(names):
        from geoembed.registry import describe_plugin

        raise PluginOutputError(
            f"The {describe_plugin(encoder, 'location encoder')} declares feature_names that are not {dim} distinct, "
            f"non-empty names (one per dimension of embedding_dim={dim}). Report this to the plugin's authors."
        )
    return names


def write_embeddings(
    table: pd.DataFrame | None,
    embeddings: Any,
    path: str | os.PathLike,
    *,
    layout: str = "columns",
    prefix: str | None = None,
    column: str = "embedding",
    encoder: Any = None,
    overwrite: bool = False,
) -> Path:
    """Write embeddings, with the rows of ``table`` they belong to, atomically to ``path``; return the path.

    Args:
        table: the input rows (kept as they are, index included), or None to write the embeddings alone.
        embeddings: ``(N, D)`` array or CPU tensor, one row per table row; stored as float32.
        path: ``.parquet`` (GeoParquet when ``table`` is a GeoDataFrame), ``.geoparquet`` (needs a GeoDataFrame) or
            ``.npy`` (the array only; ``table`` is not written).
        layout: ``"columns"`` (one float32 column per dimension, named by :func:`embedding_column_names` from
            ``prefix`` or ``encoder``) or ``"list"`` (one list column named ``column``).
        encoder: the encoder (or its registered name) that made the embeddings, which names the columns.
        overwrite: replace an existing file (otherwise :class:`~geoembed.errors.OutputExistsError`).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}.")
    fmt = check_output(path, overwrite=overwrite)
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2:
        raise DataFileError(f"Embeddings must be a 2-D (rows, dimensions) array, got shape {emb.shape}.")
    if table is not None and len(table) != emb.shape[0]:
        raise DataFileError(f"The table has {len(table)} rows but there are {emb.shape[0]} embeddings.")
    path = Path(path)

    if fmt == "npy":
        with atomic_write(path, overwrite=overwrite) as tmp, open(tmp, "wb") as fh:
            np.save(fh, emb)
        return path

    frame = _with_embeddings(table, emb, layout, prefix, column, encoder)
    if fmt == "geoparquet" and _active_geometry(frame) is None:
        raise DataFileError(
            f"{path} is GeoParquet, which needs a table with a geometry (a GeoDataFrame, e.g. geopandas.GeoDataFrame("
            f"df, geometry=geopandas.points_from_xy(df.lon, df.lat), crs='EPSG:4326')). Or write .parquet."
        )
    # Dictionary encoding suits repeated values, not embeddings: on 100K GeoCLIP embeddings it made the file 45% larger.
    embedding_names = set(frame.columns) - set(table.columns if table is not None else [])
    plain = [str(c) for c in frame.columns if c not in embedding_names]
    with atomic_write(path, overwrite=overwrite) as tmp:
        frame.to_parquet(tmp, use_dictionary=plain)
    return path


def check_embedding_columns(
    table: pd.DataFrame | None, dim: int, *, layout: str = "columns", prefix: str | None = None,
    column: str = "embedding", encoder: Any = None,
) -> list[str]:
    """The column names ``dim``-wide embeddings will get; raise if ``table`` already has one (check before encoding)."""
    names = embedding_column_names(dim, prefix, encoder=encoder) if layout == "columns" else [column]
    clash = [c for c in names if table is not None and c in table.columns]
    if clash:
        option = "prefix= (--prefix)" if layout == "columns" else "column= (--column)"
        raise DataFileError(
            f"The table already has column(s) named like the new embeddings ({_listing(clash)}), perhaps from an "
            f"earlier run. Drop them from the input, or choose another {option}."
        )
    return names


def _with_embeddings(
    table: pd.DataFrame | None, emb: np.ndarray, layout: str, prefix: str | None, column: str, encoder: Any = None
) -> pd.DataFrame:
    names = check_embedding_columns(table, emb.shape[1], layout=layout, prefix=prefix, column=column, encoder=encoder)
    index = table.index if table is not None else pd.RangeIndex(emb.shape[0])
    if layout == "columns":
        new = pd.DataFrame(emb, index=index, columns=names)
    else:  # rows are views of emb: pyarrow writes them as one list<float> column without a Python-level copy
        new = pd.DataFrame({column: list(emb)}, index=index)
    return new if table is None else pd.concat([table, new], axis=1)


def read_embeddings(
    path: str | os.PathLike, *, prefix: str | None = None, column: str = "embedding",
    columns: Sequence[str] | None = None,
) -> np.ndarray:
    """The float32 ``(N, D)`` embeddings of a file :func:`write_embeddings` or ``geoembed encode`` wrote.

    Which columns hold them: ``columns`` (the names, in order), else the columns named ``prefix`` + index, else the
    list column ``column``, else the one set of columns named ``<name>_<index>`` with indices 0..D-1 (``geoclip_000``...
    as written today, ``emb_000``... as written before); ``.npy`` files hold the array itself.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if output_format(path) == "npy":
        return np.load(path, allow_pickle=False).astype(np.float32, copy=False)
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing or not len(columns):
            raise DataFileError(f"{path} has no column(s) {_listing(missing)}; its columns are {_listing(names)}."
                                if missing else "columns= is empty; name at least one embedding column.")
        return _stack_columns(path, list(columns))
    if prefix is None and column in names:
        import pyarrow.compute as pc

        lists = pq.read_table(path, columns=[column]).column(column).combine_chunks()
        lengths = pc.list_value_length(lists)
        if lists.null_count or pc.min(lengths).as_py() != pc.max(lengths).as_py():
            raise DataFileError(f"The list column {column!r} of {path} holds missing or unequal-length embeddings.")
        return np.asarray(lists.flatten().to_numpy(), dtype=np.float32).reshape(len(lists), -1)
    groups = _numbered_columns(names)
    if prefix is not None:
        found = groups.get(prefix)
        if found is None:
            raise DataFileError(f"{path} has no columns named {prefix}000, {prefix}001...; its columns are "
                                f"{_listing(names)}. Pass the prefix= (or columns=) it was written with.")
        return _stack_columns(path, found)
    if len(groups) == 1:
        return _stack_columns(path, next(iter(groups.values())))
    if not groups:
        raise DataFileError(
            f"{path} has neither a list column {column!r} nor embedding columns named <name>_000, <name>_001... "
            f"(its columns are {_listing(names)}); pass the column=, prefix= or columns= it was written with."
        )
    raise DataFileError(f"{path} holds several sets of embedding columns (prefixes {sorted(groups)}); choose one with "
                        f"prefix=.")


def _numbered_columns(names: Sequence[str]) -> dict[str, list[str]]:
    """``{prefix: [prefix0.., prefix1..]}`` for every prefix whose columns number exactly 0..D-1 (in index order)."""
    found: dict[str, dict[int, str]] = {}
    for name in names:
        match = re.match(r"^(.*?)(\d+)$", name)
        if match:
            found.setdefault(match.group(1), {})[int(match.group(2))] = name
    return {p: [by_index[i] for i in range(len(by_index))] for p, by_index in found.items()
            if p and sorted(by_index) == list(range(len(by_index)))}


def _stack_columns(path: Path, names: list[str]) -> np.ndarray:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=names)
    return np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float32, copy=False)
