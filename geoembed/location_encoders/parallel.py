"""Distributed encoding with Dask: billions of points, one model per worker, results identical to one process.

>>> import dask.dataframe as dd                                         # doctest: +SKIP
>>> ddf = dd.read_parquet("points/")                                   # doctest: +SKIP
>>> emb = geoembed.location_encoders.parallel.encode_dask(ddf, lat_col="lat", lon_col="lon")   # lazy: + geoclip_000...
>>> emb.to_parquet("embeddings/")                                      # doctest: +SKIP

Each partition is encoded by :func:`encode_partition` inside the worker. Encoders built by name are cached per
process (:func:`geoembed.location_encoders.encode.get_location_encoder`), so every worker process loads the model once and reuses it for all
its partitions. dask-geopandas GeoDataFrames work too (their point geometries are read, in any CRS).
Install with ``pip install pygeoembed[dask]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from geoembed.location_encoders.encode import DEFAULT_BATCH_SIZE, DEFAULT_ENCODER


def encode_partition(
    frame,
    *,
    lat_col: str | None = None,
    lon_col: str | None = None,
    crs: Any = None,
    encoder: str = DEFAULT_ENCODER,
    batch_size: int = DEFAULT_BATCH_SIZE,
    normalize: bool = False,
    prefix: str | None = None,
    device: Any = None,
    encoder_kwargs: dict | None = None,
):
    """Encode one pandas (Geo)DataFrame partition: its columns plus float32 embedding columns (the one naming of
    :func:`geoembed.io.embedding_column_names`), index kept."""
    import pandas as pd

    from geoembed.location_encoders.encode import embed_latlon, get_location_encoder
    from geoembed.io import embedding_column_names, latlon_from_table

    model = get_location_encoder(encoder, device=device, **(encoder_kwargs or {}))
    names = embedding_column_names(model.embedding_dim, prefix, encoder=model)
    if len(frame) == 0:
        emb = np.empty((0, model.embedding_dim), dtype=np.float32)
    else:
        latlon = latlon_from_table(frame, lat_col=lat_col, lon_col=lon_col, crs=crs)
        emb = embed_latlon(latlon, model, batch_size=batch_size, normalize=normalize)
    return pd.concat([frame, pd.DataFrame(emb, index=frame.index, columns=names)], axis=1)


def encode_dask(
    frame,
    *,
    lat_col: str | None = None,
    lon_col: str | None = None,
    crs: Any = None,
    encoder: str = DEFAULT_ENCODER,
    batch_size: int = DEFAULT_BATCH_SIZE,
    normalize: bool = False,
    prefix: str | None = None,
    device: Any = None,
    **encoder_kwargs: Any,
):
    """Lazily encode a dask DataFrame or dask-geopandas GeoDataFrame with ``map_partitions``.

    ``encoder`` must be a registered name (workers build it themselves; model objects are not shipped over the
    network). Returns a lazy frame: the input columns plus float32 embedding columns (``geoclip_000``...).
    """
    from geoembed.location_encoders.encode import get_location_encoder
    from geoembed.io import embedding_column_names

    if not isinstance(encoder, str):
        raise TypeError(
            "encode_dask needs a registered encoder name (each worker builds its own copy), got "
            f"{type(encoder).__name__}. Register your encoder with geoembed.register_location_encoder in a module the "
            "workers import, or publish it as an entry point plugin."
        )
    model = get_location_encoder(encoder, device="cpu", **encoder_kwargs)  # fails early, on the client
    meta = _meta_with_embeddings(frame._meta, embedding_column_names(model.embedding_dim, prefix, encoder=model))
    return frame.map_partitions(
        encode_partition,
        lat_col=lat_col,
        lon_col=lon_col,
        crs=crs,
        encoder=encoder,
        batch_size=batch_size,
        normalize=normalize,
        prefix=prefix,
        device=device,
        encoder_kwargs=encoder_kwargs,
        meta=meta,
    )


def encode_parquet_dataset(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    scheduler: str | None = None,
    overwrite: bool = False,
    **kwargs: Any,
) -> dict:
    """Encode a (partitioned) Parquet dataset with Dask and write a partitioned Parquet dataset.

    :func:`geoembed.location_encoders.encode.encode_file` on Dask (``kwargs`` are its options). ``scheduler`` is the
    address of a running ``distributed`` scheduler (``tcp://host:8786``); without it (or with
    ``"local"``), Dask's local scheduler runs in this process. A scheduler that does not answer within
    :data:`SCHEDULER_TIMEOUT_S` seconds is reported at once, not after Dask's 30 s default. The output folder is written beside its final name and renamed when
    complete, so a failed run never leaves a half-written dataset under that name.
    """
    from geoembed.location_encoders.encode import encode_file

    return encode_file(input_path, output_path, scheduler=scheduler or "local", overwrite=overwrite, **kwargs)


def _encode_dataset(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    scheduler: str | None = None,
    overwrite: bool = False,
    **kwargs: Any,
) -> dict:
    """The Dask route of ``encode_file``: read the dataset, :func:`encode_dask` it, write it beside and rename it."""
    import shutil

    import dask.dataframe as dd

    from geoembed.atomic import discard_temp, make_temp

    output = Path(output_path)
    if output.exists() and not overwrite:
        from geoembed.errors import OutputExistsError

        raise OutputExistsError(f"{output} already exists; pass overwrite=True (--overwrite) to replace it.")
    client = None
    if scheduler and scheduler != "local":
        client = _connect(scheduler)
    try:
        try:
            frame = dd.read_parquet(str(input_path))
        except (OSError, ValueError) as exc:  # not Parquet, or damaged: pyarrow's errors are OSError/ValueError
            from geoembed.errors import DataFileError

            raise DataFileError(f"Could not read {input_path} as Parquet: {type(exc).__name__}: {exc}") from None
        encoded = encode_dask(frame, **kwargs)
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = make_temp(output, directory=True)  # tagged with this process: removed on SIGTERM, swept if stale
        try:
            encoded.to_parquet(str(staging), write_index=False)
            if output.exists():
                shutil.rmtree(output)
            os.replace(staging, output)
        finally:
            discard_temp(staging)
        rows = sum(_parquet_rows(p) for p in output.glob("*.parquet"))
    finally:
        if client is not None:
            client.close()
    return {"rows": rows, "output": str(output), "partitions": frame.npartitions}


SCHEDULER_TIMEOUT_S = 10


def _connect(scheduler: str):
    """A ``distributed`` client of ``scheduler``, or one clear error when it cannot be reached."""
    from distributed import Client

    from geoembed.errors import GeoembedError

    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise GeoembedError(
            f"Cannot reach the Dask scheduler at {scheduler} within {SCHEDULER_TIMEOUT_S} s ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}). Check the address and that the scheduler "
            f"is running (dask scheduler), or use --scheduler local to run on this machine."
        ) from None


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _meta_with_embeddings(meta, names: list[str]):
    import pandas as pd

    empty = pd.DataFrame({n: np.array([], dtype=np.float32) for n in names}, index=meta.index)
    return pd.concat([meta, empty], axis=1)
