"""Encode Parquet and CSV files of any size in bounded memory: read a chunk of rows, embed it, append it to the output.

Peak memory is set mostly by ``rows_per_chunk`` (the rows, their embeddings and one model), and grows only slowly
with the file (the Parquet footer's per-row-group statistics): 862 MB for 100,000 GeoCLIP points, 1,486 MiB for ten
million (measurements in docs/scale.md). Plain Parquet with coordinate columns, GeoParquet (WKB point
geometries; the ``geo`` metadata is carried over to the output) and CSV/TSV text (:func:`encode_csv`) are supported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from geoembed.atomic import atomic_write
from geoembed.location_encoders.encode import DEFAULT_BATCH_SIZE, DEFAULT_ENCODER, DEFAULT_ROWS_PER_CHUNK


def encode_parquet(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    lat_col: str | None = None,
    lon_col: str | None = None,
    crs: Any = None,
    encoder: Any = DEFAULT_ENCODER,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
    normalize: bool = False,
    prefix: str | None = None,
    device: Any = None,
    overwrite: bool = False,
    progress: bool = True,
    **encoder_kwargs: Any,
) -> dict:
    """Stream ``input_path`` (Parquet/GeoParquet) into ``output_path`` (Parquet): input columns plus embedding columns.

    :func:`geoembed.location_encoders.encode.encode_file` with streaming required. The output is written to a
    temporary file and moved into place only when complete, so an interrupted run never leaves a truncated file.
    Returns its summary: rows, dimensions, encoder, output path...
    """
    return _encode_file_streamed(**locals())


def encode_csv(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    lat_col: str | None = None,
    lon_col: str | None = None,
    crs: Any = None,
    encoder: Any = DEFAULT_ENCODER,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
    normalize: bool = False,
    prefix: str | None = None,
    device: Any = None,
    overwrite: bool = False,
    progress: bool = True,
    **encoder_kwargs: Any,
) -> dict:
    """Stream a CSV/TSV/text file (optionally ``.gz``/``.bz2``/``.zst``) into Parquet, chunk by chunk, like
    :func:`encode_parquet`: memory is bounded by ``rows_per_chunk``, not by the file's size.

    The file is parsed with pyarrow's streaming CSV reader. The coordinate columns are read as text and converted
    with the same checks as :func:`geoembed.io.read_points`; the other columns get the types pyarrow infers from the
    first block of rows (if a later row does not fit, the file is read again with those columns as text, with a
    warning).
    """
    return _encode_file_streamed(**locals())


def _encode_file_streamed(*, input_path, output_path, encoder_kwargs, **options) -> dict:
    from geoembed.location_encoders.encode import encode_file

    return encode_file(input_path, output_path, stream=True, **options, **encoder_kwargs)


def _stream_file(input_path, output_path, *, model, lat_col, lon_col, crs, batch_size, rows_per_chunk, normalize,
                 prefix, overwrite, progress) -> dict:
    """Encode a Parquet or text file chunk by chunk with a built model (the streamed route of ``encode_file``)."""
    from geoembed.io import input_format

    options = dict(model=model, lat_col=lat_col, lon_col=lon_col, crs=crs, batch_size=batch_size,
                   rows_per_chunk=rows_per_chunk, normalize=normalize, prefix=prefix, overwrite=overwrite,
                   progress=progress)
    if input_format(input_path) == "parquet":
        return _stream_parquet(input_path, output_path, **options)
    return _stream_csv(input_path, output_path, **options)


def _stream_parquet(input_path, output_path, *, model, rows_per_chunk, **options) -> dict:
    source = _open_parquet(input_path)
    return _encode_stream(
        lambda: _parquet_batches(input_path, source, rows_per_chunk), output_path,
        column_names=source.schema_arrow.names, metadata=source.schema_arrow.metadata, total=source.metadata.num_rows,
        geo_meta=_geo_metadata(source.schema_arrow), model=model, input_path=input_path, **options,
    )


def _stream_csv(input_path, output_path, *, model, lat_col, lon_col, rows_per_chunk, **options) -> dict:
    from geoembed.io import check_unique_header, coordinate_columns

    path = Path(input_path)
    check_unique_header(path)  # pyarrow would keep both columns and leave the choice of coordinates to chance
    csv_options = _csv_options(path, rows_per_chunk)
    first = _first_csv_block(path, csv_options)
    lat_name, lon_name = coordinate_columns(first, lat_col=lat_col, lon_col=lon_col)
    inferred = {name: _csv_type(first[name]) for name in first.columns}
    text_types = {name: "string" for name in first.columns}

    def run(types: dict) -> dict:
        types = {**types, lat_name: "string", lon_name: "string"}  # coordinates: checked like every other reader
        return _encode_stream(
            lambda: _csv_batches(path, csv_options, types, rows_per_chunk), output_path,
            column_names=list(first.columns), metadata=None, total=None, geo_meta=None, model=model,
            input_path=input_path, lat_col=lat_name, lon_col=lon_name, numeric=(lat_name, lon_name), **options,
        )

    try:
        return run(inferred)
    except _TypeChanged as exc:
        import warnings

        warnings.warn(f"{path}: {exc}; reading the file again with its non-coordinate columns as text.",
                      stacklevel=4)
        return run(text_types)


class _TypeChanged(Exception):
    """A CSV column whose later rows do not fit the type inferred from the first block."""


def _encode_stream(open_batches, output_path, *, column_names, metadata, total, geo_meta, model, input_path, lat_col,
                   lon_col, crs, batch_size, normalize, prefix, overwrite, progress, numeric=()) -> dict:
    """The loop shared by every streamed input: read a batch, embed it, append it to the Parquet output.

    Columns named in ``numeric`` (coordinates read as text) are written as float64, once they passed the checks."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from geoembed.location_encoders.encode import embed_latlon
    from geoembed.io import check_embedding_columns, latlon_from_table
    from geoembed.progress import progress_bar

    # a name clash must stop the run before any encoding
    names = check_embedding_columns(pd.DataFrame(columns=column_names), model.embedding_dim, prefix=prefix,
                                    encoder=model)
    rows = 0
    writer = None
    bar = progress_bar(total=total, unit="pt", desc="encoding", enabled=progress, leave=True)
    try:
        with atomic_write(output_path, overwrite=overwrite) as tmp:
            try:
                for batch in open_batches():
                    frame = batch.to_pandas()
                    frame.index = pd.RangeIndex(rows, rows + len(frame))  # errors name rows by file position
                    table_for_coords = _with_geometry(frame, geo_meta) if geo_meta else frame
                    latlon = latlon_from_table(table_for_coords, lat_col=lat_col, lon_col=lon_col, crs=crs)
                    emb = embed_latlon(latlon, model, batch_size=batch_size, normalize=normalize)
                    columns = np.ascontiguousarray(emb.T)  # one contiguous float32 vector per output column
                    arrays = [_as_number(batch, i, frame) if name in numeric else batch.column(i)
                              for i, name in enumerate(batch.schema.names)]
                    arrays += [pa.array(columns[j]) for j in range(len(columns))]
                    table = pa.Table.from_arrays(arrays, names=batch.schema.names + names)
                    if writer is None:
                        # keep the input's metadata: GeoParquet's "geo" (CRS, geometry column) and pandas' (index)
                        schema = table.schema.with_metadata(metadata or {})
                        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                    writer.write_table(table if table.schema.equals(writer.schema) else table.cast(writer.schema))
                    rows += len(frame)
                    bar.update(len(frame))
                if writer is None:  # an empty file: still write a valid (empty) output
                    from geoembed.errors import InvalidCoordinatesError

                    raise InvalidCoordinatesError(f"{input_path} holds no rows: nothing to encode.")
            finally:
                if writer is not None:
                    writer.close()
    finally:
        bar.close()
    return {"rows": rows, "columns": names}


def _as_number(batch, i: int, frame):
    import pandas as pd
    import pyarrow as pa

    name = batch.schema.names[i]
    return pa.array(pd.to_numeric(frame[name]).astype("float64").to_numpy(), type=pa.float64(),
                    mask=frame[name].isna().to_numpy())


def _open_parquet(path):
    """The Parquet file's reader; a file that is no Parquet becomes one clear error naming it."""
    import pyarrow.parquet as pq

    from geoembed.errors import DataFileError

    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"Input file {path} does not exist.") from None
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataFileError(f"Could not read {path} as Parquet: {exc}") from None


def _parquet_batches(path, source, rows_per_chunk: int):
    """The file's record batches; damage found midway (a corrupt page) becomes one clear error naming the file."""
    from geoembed.errors import DataFileError

    batches = source.iter_batches(batch_size=rows_per_chunk)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, ValueError) as exc:
            raise DataFileError(f"Could not read {path} as Parquet: {type(exc).__name__}: {exc}") from None
        yield batch


def _csv_options(path: Path, rows_per_chunk: int) -> dict:
    """Delimiter (from the suffix, or sniffed for .txt) and a block size of about ``rows_per_chunk`` rows."""
    import csv

    from geoembed.io import TEXT_SUFFIXES

    suffix = next(s.lower() for s in reversed(path.suffixes) if s.lower() in TEXT_SUFFIXES)
    sample = _head(path, 1 << 16)
    delimiter = TEXT_SUFFIXES[suffix]
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample.decode("utf-8", "replace")).delimiter
        except csv.Error:
            delimiter = ","
    lines = max(sample.count(b"\n"), 1)
    bytes_per_row = max(len(sample) / lines, 8)
    block_size = int(min(max(bytes_per_row * rows_per_chunk, 1 << 16), 1 << 28))  # 64 KiB to 256 MiB of text
    return {"delimiter": delimiter, "block_size": block_size}


def _head(path: Path, size: int) -> bytes:
    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as stream:
        return stream.read(size)


def _csv_reader(path: Path, options: dict, column_types: dict | None = None):
    import pyarrow.csv as pacsv

    from geoembed.errors import DataFileError

    try:
        return pacsv.open_csv(
            str(path),
            read_options=pacsv.ReadOptions(block_size=options["block_size"]),
            parse_options=pacsv.ParseOptions(delimiter=options["delimiter"]),
            # empty fields are missing values, as pandas reads them (so errors say "missing", not "not a number")
            convert_options=pacsv.ConvertOptions(column_types=column_types or {}, strings_can_be_null=True),
        )
    except FileNotFoundError:
        raise FileNotFoundError(f"Input file {path} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise DataFileError(f"Could not read {path} as text data: {type(exc).__name__}: {exc}") from None


def _first_csv_block(path: Path, options: dict):
    """The first block of rows as a DataFrame (column names and inferred types)."""
    from geoembed.errors import DataFileError

    reader = _csv_reader(path, options)
    try:
        batch = reader.read_next_batch()
    except StopIteration:
        raise DataFileError(f"{path} has no rows: there is nothing to encode.") from None
    except (OSError, ValueError) as exc:
        raise DataFileError(f"Could not read {path} as text data: {type(exc).__name__}: {exc}") from None
    return batch.to_pandas()


def _csv_type(column) -> str:
    """The Arrow type name pyarrow inferred for a column of the first block (``"string"`` when unsure)."""
    kind = column.dtype.kind
    return {"i": "int64", "f": "float64", "b": "bool"}.get(kind, "string")


def _csv_batches(path: Path, options: dict, column_types: dict, rows_per_chunk: int):
    """Record batches of at most ``rows_per_chunk`` rows; a type that changes midway raises :class:`_TypeChanged`."""
    import pyarrow as pa

    from geoembed.errors import DataFileError

    reader = _csv_reader(path, options, {k: pa.type_for_alias(v) for k, v in column_types.items()})
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            if "conversion error" in str(exc) and set(column_types.values()) != {"string"}:
                raise _TypeChanged(str(exc).split("\n")[0]) from None
            raise DataFileError(f"Could not read {path} as text data: {exc}") from None
        except (OSError, ValueError) as exc:
            raise DataFileError(f"Could not read {path} as text data: {type(exc).__name__}: {exc}") from None
        for start in range(0, batch.num_rows, rows_per_chunk):
            yield batch.slice(start, rows_per_chunk)


def _geo_metadata(schema) -> dict | None:
    raw = (schema.metadata or {}).get(b"geo")
    return json.loads(raw) if raw else None


def _with_geometry(frame, geo_meta: dict):
    """A GeoDataFrame view of a chunk of GeoParquet rows (WKB decoded with the file's CRS)."""
    import geopandas
    import shapely

    column = geo_meta.get("primary_column", "geometry")
    crs = geo_meta.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
    geometry = shapely.from_wkb(frame[column].to_numpy())
    return geopandas.GeoDataFrame(frame.drop(columns=[column]), geometry=geometry, crs=crs)
