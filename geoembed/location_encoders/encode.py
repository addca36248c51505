"""The one encode pipeline: coordinates in, embeddings out, for arrays and for files, in bounded memory.

- :func:`iter_embeddings`: the one batched loop. It checks the batch size and every batch an encoder returns
  (:func:`check_encoder_output`), shows the progress bar and yields float32 batches; everything that runs a location
  encoder goes through it;
- :func:`embed_latlon`: the loop's batches gathered in one ``(N, D)`` array, or written into one you give (a memory
  map, a float16 array...): what the embedding caches, galleries, streaming chunks and Dask partitions call;
- :func:`encode_location`: arrays, points and geometries in any form, validated, then :func:`embed_latlon`;
- :func:`encode_file`: files in, files out (``geoembed encode``): the output is checked and the model built before any
  slow work, then the file is encoded in memory, streamed chunk by chunk (:mod:`~.streaming`) or on Dask
  (:mod:`~.parallel`), always through :func:`embed_latlon` and with the one column naming
  (:func:`geoembed.io.embedding_column_names`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from geoembed.coords import as_latlon
from geoembed.errors import GeoembedError, NonFiniteOutputError, PluginOutputError

DEFAULT_ENCODER = "geoclip"
DEFAULT_BATCH_SIZE = 8192
#: Largest magnitude accepted in a location encoder's raw output. Real encoders stay far below it (GeoCLIP about
#: 0.1, the ``latlon`` baseline 180, projected metres 2e7); beyond it the weights are damaged.
MAX_ABS_EMBEDDING = 1e10
#: Rows read, embedded and written at a time when a file is streamed (Parquet or CSV in, Parquet out).
DEFAULT_ROWS_PER_CHUNK = 16_384


class UnsupportedOptionError(GeoembedError, TypeError):
    """An option the location encoder's factory does not take (``precision=`` for a coordinate baseline...).

    ``option`` is the keyword argument and ``encoder`` the registered name, so that a command line can name its flag.
    """

    def __init__(self, message: str, *, option: str, encoder: str):
        super().__init__(message)
        self.option = option
        self.encoder = encoder


def resolve_device(device: Any = None):
    """A torch device: the one given, else CUDA, then Apple MPS, then CPU."""
    import torch

    if device is not None and str(device) != "auto":
        try:
            chosen = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"Unknown device {device!r} ({exc}); use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.") from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"Device {device!r} asked for, but CUDA is not available here; use 'cpu' or 'auto'.")
        if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"Device {device!r} asked for, but Apple MPS is not available here; use 'cpu' or 'auto'.")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_location_encoder(encoder: Any = DEFAULT_ENCODER, *, device: Any = None, **kwargs: Any):
    """A ready location encoder in eval mode on ``device``: ``encoder`` is a name (built once and cached) or an instance.

    Building by name goes through the registry, so plugins work everywhere a name is accepted.
    """
    from geoembed.location_encoders.contract import LocationEncoder
    from geoembed.registry import location_encoders

    dev = resolve_device(device)
    if isinstance(encoder, LocationEncoder):
        if kwargs:
            raise TypeError(f"Options {sorted(kwargs)} only apply when the encoder is given by name.")
        return encoder.to(dev).eval()
    if not isinstance(encoder, str):
        raise TypeError(
            f"encoder must be a registered name (see geoembed.list_location_encoders()) or a geoembed.LocationEncoder, "
            f"got {type(encoder).__name__}."
        )
    try:
        return location_encoders.create_cached(encoder, expected_type=LocationEncoder, device=dev, **kwargs)
    except TypeError as exc:  # the factory's own words for an option it does not take: say it in the user's terms
        rejected = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if rejected is None or rejected.group(1) not in kwargs or isinstance(exc, GeoembedError):
            raise
        option = rejected.group(1)
        raise UnsupportedOptionError(
            f"{option}= does not apply to the location encoder {encoder!r}: its factory takes no {option!r} option. "
            f"See its documentation (geoembed plugins lists where it comes from).",
            option=option, encoder=encoder,
        ) from None


def encode_location(
    points: Any = None,
    *,
    lat: Any = None,
    lon: Any = None,
    order: str | None = None,
    encoder: Any = DEFAULT_ENCODER,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: Any = None,
    normalize: bool = False,
    output: str = "numpy",
    progress: bool = False,
    **encoder_kwargs: Any,
):
    """Embed places on Earth with a location encoder (pretrained GeoCLIP by default).

    >>> emb = encode_location(lat=[48.8566, -33.8688], lon=[2.3522, 151.2093])   # doctest: +SKIP
    >>> emb.shape, emb.dtype                                                     # doctest: +SKIP
    ((2, 512), dtype('float32'))

    Args:
        points: instead of ``lat``/``lon``: an ``(N, 2)`` array (with ``order="latlon"`` or ``"lonlat"``), shapely
            Point(s), or a GeoSeries/GeoDataFrame of points in any CRS.
        lat, lon: latitudes and longitudes in degrees (scalars, lists, NumPy, torch, pandas).
        encoder: a registered encoder name or a :class:`~geoembed.LocationEncoder` instance.
        batch_size: points per forward pass; memory stays bounded by it (plus the output array).
        device: ``"cpu"``, ``"cuda"``, ``"mps"``...; default picks CUDA, then MPS, then CPU.
        normalize: L2-normalise each embedding (for cosine similarity).
        output: ``"numpy"`` (float32 array) or ``"torch"`` (float32 tensor on the CPU).
        progress: show a progress bar.
        **encoder_kwargs: passed to the encoder's factory when ``encoder`` is a name (e.g. ``pretrained=False``,
            ``weights_path=...``).

    Returns:
        float32 array or tensor of shape ``(N, D)``.
    """
    if output not in ("numpy", "torch"):
        raise ValueError(f"output must be 'numpy' or 'torch', got {output!r}.")
    _check_batch_size(batch_size)
    latlon = as_latlon(points, lat=lat, lon=lon, order=order)
    model = get_location_encoder(encoder, device=device, **encoder_kwargs)
    result = embed_latlon(latlon, model, batch_size=batch_size, normalize=normalize, progress=progress)
    if output == "torch":
        import torch

        return torch.from_numpy(result)
    return result


def iter_embeddings(
    latlon: np.ndarray,
    model: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    normalize: bool = False,
    progress: bool = False,
) -> Iterator[np.ndarray]:
    """Yield float32 embeddings of validated ``[lat, lon]`` rows, ``batch_size`` rows at a time (streaming).

    Every consumer of a location encoder's output goes through here, and every batch the encoder returns is checked
    by :func:`check_encoder_output` before anyone sees it.
    """
    import torch

    _check_batch_size(batch_size)
    check_embedding_dim(model)
    n = latlon.shape[0]
    bar = _progress_bar(n, progress)
    try:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                batch = torch.as_tensor(latlon[start : start + batch_size], dtype=torch.float32, device=model.device)
                out = check_encoder_output(model(batch), model, rows=len(batch), start=start).float()
                if normalize:
                    out = torch.nn.functional.normalize(out, dim=1)
                emb = out.cpu().numpy()
                bar.update(len(emb))
                yield emb
    finally:
        bar.close()


def embed_latlon(
    latlon: np.ndarray,
    model: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    normalize: bool = False,
    progress: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The ``(N, D)`` embeddings of validated ``[lat, lon]`` rows with a built encoder: :func:`iter_embeddings`' batches
    gathered in one float32 array, or written into ``out`` (any ``(N, D)`` array: a memory map, float16...), returned.

    Use it wherever a built model meets validated coordinates (caches, galleries, file chunks, Dask partitions), so
    that batching, output checks and progress are those of :func:`iter_embeddings`.
    """
    dim = check_embedding_dim(model)
    if out is None:
        out = np.empty((len(latlon), dim), dtype=np.float32)
    elif tuple(out.shape) != (len(latlon), dim):
        raise ValueError(f"out must have shape ({len(latlon)}, {dim}) (rows, embedding_dim), got {tuple(out.shape)}.")
    start = 0
    for chunk in iter_embeddings(latlon, model, batch_size=batch_size, normalize=normalize, progress=progress):
        out[start : start + len(chunk)] = chunk
        start += len(chunk)
    assert start == len(out), "iter_embeddings checks every batch's row count"
    return out


def check_embedding_dim(model: Any) -> int:
    """The encoder's ``embedding_dim``, which must be a positive integer; else :class:`PluginOutputError`."""
    dim = getattr(model, "embedding_dim", None)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise PluginOutputError(
            f"The {_who(model)} declares embedding_dim={dim!r}; it must be a positive integer (the output width). "
            f"Report this to the plugin's authors."
        )
    return int(dim)


def check_encoder_output(out: Any, model: Any, *, rows: int, start: int = 0):
    """Check one batch of a location encoder's output against the plugin contract, and return it.

    The contract: a floating point ``torch.Tensor`` of shape ``(rows, embedding_dim)``, finite, with magnitudes
    under :data:`MAX_ABS_EMBEDDING`. A breach raises :class:`PluginOutputError` (:class:`NonFiniteOutputError` for
    NaN/infinity) naming the encoder and the distribution that installed it, never a wrong answer.
    """
    import torch

    span = f"rows {start}..{start + rows - 1}"
    dim = check_embedding_dim(model)
    if not isinstance(out, torch.Tensor):
        raise PluginOutputError(f"The {_who(model)} returned a {type(out).__name__} for {span}, not a torch.Tensor.")
    if not out.dtype.is_floating_point:
        raise PluginOutputError(f"The {_who(model)} returned {out.dtype} values for {span}; embeddings must be "
                                f"floating point.")
    if tuple(out.shape) != (rows, dim):
        raise PluginOutputError(
            f"The {_who(model)} returned shape {tuple(out.shape)} for {span} of input shape ({rows}, 2); its contract "
            f"is ({rows}, embedding_dim={dim}): one row of width embedding_dim per input row. Report this to the "
            f"plugin's authors."
        )
    finite = torch.isfinite(out)
    if not bool(finite.all()):
        first = start + int(torch.nonzero(~finite.all(dim=1))[0, 0])
        weights = getattr(model, "weights", None)
        which = f" ({weights.name})" if getattr(weights, "name", None) else ""
        raise NonFiniteOutputError(
            f"The {_who(model)} produced non-finite embeddings for {span} (first at row {first}); its weights"
            f"{which} may be damaged. Fetch them again (delete the cached file), or check the file you passed."
        )
    largest = float(out.abs().max()) if out.numel() else 0.0
    if largest > MAX_ABS_EMBEDDING:
        raise PluginOutputError(
            f"The {_who(model)} produced embeddings of magnitude {largest:.3g} for {span}, beyond the "
            f"{MAX_ABS_EMBEDDING:.0e} no working encoder reaches; its weights are probably damaged."
        )
    return out


def _who(model: Any) -> str:
    from geoembed.registry import describe_plugin

    return describe_plugin(model, "location encoder")


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")


def _progress_bar(total: int, enabled: bool):
    from geoembed.progress import progress_bar

    return progress_bar(total=total, unit="pt", desc="encoding", enabled=enabled)


# -- files in, files out ---------------------------------------------------------------------------------------------
def encode_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    encoder: Any = DEFAULT_ENCODER,
    pretrained: bool | None = None,
    weights_path: str | os.PathLike | None = None,
    seed: int | None = None,
    precision: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    layer: str | None = None,
    crs: Any = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: Any = None,
    normalize: bool = False,
    layout: str = "columns",
    prefix: str | None = None,
    column: str = "embedding",
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
    scheduler: str | None = None,
    stream: bool | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **encoder_kwargs: Any,
) -> dict:
    """Embed every point of a file and write the embeddings beside its columns: the pipeline of ``geoembed encode``.

    >>> encode_file("cities.csv", "cities.parquet", encoder="xyz")                  # doctest: +SKIP
    {'rows': 20, 'dim': 3, 'encoder': 'xyz', 'weights': 'none', 'route': 'stream', ...}

    Inputs and outputs are those of :func:`geoembed.io.read_points` and :func:`geoembed.io.write_embeddings`. The
    route follows the files: Parquet or CSV in, Parquet out with one column per dimension is streamed in chunks of
    ``rows_per_chunk`` rows (memory bounded whatever the file size, :mod:`~geoembed.location_encoders.streaming`);
    ``scheduler`` (``"local"`` or a ``tcp://host:8786`` Dask scheduler) encodes a Parquet file or folder on Dask into
    a folder of Parquet files (:mod:`~geoembed.location_encoders.parallel`); anything else is read whole, encoded and
    written at once. ``stream=True`` insists on streaming (an error where it cannot), ``stream=False`` forbids it.
    Every route checks the output path before any slow work and writes atomically; the in-memory and streamed routes
    also refuse embedding column names the input already has, before encoding.

    Args:
        encoder: a registered name (needed with ``scheduler``: workers build their own) or an encoder.
        pretrained, weights_path, seed, precision: options of the encoder's factory, passed on only when given; an
            encoder that does not take one raises :class:`UnsupportedOptionError` naming it. A ``weights_path``
            whose values are not all finite is refused before encoding.
        prefix: prefix of the embedding columns; default: the one naming (:func:`geoembed.io.embedding_column_names`:
            ``geoclip_000``..., or the encoder's own ``feature_names``).
        **encoder_kwargs: further factory options.

    Returns:
        A summary: ``rows``, ``dim``, ``encoder`` (name), ``identity``, ``weights`` (a label), ``output``, ``route``
        (``"memory"``, ``"stream"`` or ``"dask"``), ``columns`` (the embedding column names, None for ``.npy``) and,
        for Dask, ``partitions``.
    """
    from geoembed.io import LAYOUTS, check_output, embedding_column_names

    _check_batch_size(batch_size)
    if isinstance(rows_per_chunk, bool) or not isinstance(rows_per_chunk, (int, np.integer)) or rows_per_chunk < 1:
        raise ValueError(f"rows_per_chunk must be a positive integer, got {rows_per_chunk!r}.")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}.")
    options = dict(encoder_kwargs)
    options.update({k: v for k, v in (("pretrained", pretrained), ("weights_path", weights_path), ("seed", seed),
                                       ("precision", precision)) if v is not None})
    if weights_path is not None and pretrained is False:
        raise ValueError("weights_path= loads weights, pretrained=False asks for random ones: give only one.")
    name = encoder if isinstance(encoder, str) else None
    if scheduler and name is None:
        raise TypeError("scheduler= needs a registered encoder name (each Dask worker builds its own copy), got "
                        f"{type(encoder).__name__}.")
    input_path = Path(input_path)
    if not input_path.exists():
        raise FileNotFoundError(f"Input file {input_path} does not exist.")
    route = _route(input_path, output_path, scheduler=scheduler, layout=layout, layer=layer, stream=stream)
    fmt = None
    if route != "dask":
        fmt = check_output(output_path, overwrite=overwrite)  # fail before any slow work
    elif Path(output_path).exists() and not overwrite:
        from geoembed.errors import OutputExistsError

        raise OutputExistsError(f"{output_path} already exists; pass overwrite=True (--overwrite) to replace it.")
    if name is None and options:
        raise TypeError(f"Options {sorted(options)} only apply when the encoder is given by name.")
    dev = None if device is None or str(device) == "auto" else device
    model = get_location_encoder(encoder, device=dev, **options)
    if weights_path is not None:
        _check_finite_weights(model, weights_path)
    summary = {"encoder": name or type(model).__name__, "identity": model.identity,
               "weights": _weights_label(model, pretrained=pretrained, seed=seed), "route": route,
               "dim": check_embedding_dim(model), "output": str(output_path)}

    if route == "dask":
        from geoembed.location_encoders import parallel

        summary.update(parallel._encode_dataset(
            input_path, output_path, scheduler=scheduler, overwrite=overwrite, lat_col=lat_col, lon_col=lon_col,
            crs=crs, encoder=name, batch_size=batch_size, normalize=normalize, prefix=prefix, device=dev, **options))
        summary["columns"] = embedding_column_names(model.embedding_dim, prefix, encoder=model)
        return summary
    if route == "stream":
        from geoembed.location_encoders import streaming

        summary.update(streaming._stream_file(
            input_path, output_path, model=model, lat_col=lat_col, lon_col=lon_col, crs=crs, batch_size=batch_size,
            rows_per_chunk=rows_per_chunk, normalize=normalize, prefix=prefix, overwrite=overwrite,
            progress=progress))
        return summary
    summary.update(_encode_in_memory(
        input_path, output_path, fmt=fmt, model=model, lat_col=lat_col, lon_col=lon_col, layer=layer, crs=crs,
        batch_size=batch_size, normalize=normalize, layout=layout, prefix=prefix, column=column,
        overwrite=overwrite, progress=progress))
    return summary


def _route(input_path: Path, output_path: Any, *, scheduler: str | None, layout: str, layer: str | None,
           stream: bool | None) -> str:
    """``"dask"``, ``"stream"`` or ``"memory"``: how :func:`encode_file` handles these files."""
    from geoembed.errors import DataFileError
    from geoembed.io import input_format, output_format

    parquet_input = input_path.suffix.lower() in (".parquet", ".geoparquet") or (
        input_path.is_dir() and any(input_path.glob("*.parquet")))
    if scheduler:
        if not parquet_input:
            raise DataFileError(f"scheduler= (--scheduler) needs Parquet input (a file or a folder of files), got "
                                f"{input_path}.")
        return "dask"
    if input_path.is_dir():
        raise DataFileError(f"{input_path} is a folder: a folder of Parquet files is encoded with Dask, on a cluster "
                            f"(scheduler='tcp://host:8786', --scheduler) or on this machine (scheduler='local').")
    kind = input_format(input_path)
    out = output_format(output_path)
    streamable = layout == "columns" and (
        (out == "parquet" and (kind == "parquet" or (kind == "text" and _pyarrow_reads_compression(input_path))))
        or (out == "geoparquet" and kind == "parquet" and stream is True and _is_geoparquet(input_path)))
    if stream is False or (stream is None and not streamable):
        return "memory"
    if not streamable:
        raise DataFileError(f"Streaming encodes Parquet or CSV/TSV input into a .parquet output with one column per "
                            f"dimension (layout='columns'); {input_path} -> {output_path} cannot be streamed.")
    if layer is not None:
        raise DataFileError(f"layer= (--layer) applies to multi-layer vector files such as GeoPackage, not to "
                            f"{input_path}.")
    return "stream"


def _is_geoparquet(path: Path) -> bool:
    from geoembed.io import _is_geoparquet as has_geo_metadata

    try:
        return path.is_file() and has_geo_metadata(path)
    except (OSError, ValueError):  # not Parquet: the streamed reader reports it
        return False


def _pyarrow_reads_compression(path: Path) -> bool:
    """Plain text, or compressed as pyarrow's streaming reader undoes it (gzip, bzip2, zstd; not xz or zip)."""
    last = path.suffix.lower()
    return last not in (".xz", ".zip")


def _encode_in_memory(input_path: Path, output_path: Any, *, fmt: str, model: Any, lat_col, lon_col, layer, crs,
                      batch_size: int, normalize: bool, layout: str, prefix, column: str, overwrite: bool,
                      progress: bool) -> dict:
    """The whole table read at once, encoded and written: outputs other than Parquet columns, vector inputs."""
    from geoembed.io import check_embedding_columns, read_points, write_embeddings

    table, latlon = read_points(input_path, lat_col=lat_col, lon_col=lon_col, layer=layer, crs=crs)
    if fmt == "geoparquet":
        table = _with_point_geometry(table, latlon)
    names = None
    if fmt != "npy":  # a name clash must stop the run before encoding, not after
        names = check_embedding_columns(table, model.embedding_dim, layout=layout, prefix=prefix, column=column,
                                        encoder=model)
    embeddings = embed_latlon(latlon, model, batch_size=batch_size, normalize=normalize, progress=progress)
    write_embeddings(table, embeddings, output_path, layout=layout, prefix=prefix, column=column, encoder=model,
                     overwrite=overwrite)
    return {"rows": len(latlon), "columns": names}


def _with_point_geometry(table, latlon):
    """A GeoDataFrame with EPSG:4326 points, for GeoParquet output from an input that has only coordinate columns."""
    import geopandas

    from geoembed.errors import DataFileError

    if isinstance(table, geopandas.GeoDataFrame) and table._geometry_column_name in table.columns:
        return table
    if "geometry" in table.columns:
        raise DataFileError(
            "The input has a 'geometry' column that is not a geometry; write .parquet instead of .geoparquet."
        )
    points = geopandas.points_from_xy(latlon[:, 1], latlon[:, 0], crs="EPSG:4326")
    return geopandas.GeoDataFrame(table, geometry=points)


def _check_finite_weights(model: Any, weights_path: Any) -> None:
    """Refuse a user's weights file whose values are not all finite, naming that file (before any encoding)."""
    import torch

    tensors = list(model.parameters()) + list(model.buffers())
    if any(t.is_floating_point() and not bool(torch.isfinite(t).all()) for t in tensors):
        raise GeoembedError(
            f"weights_path= (--weights) {weights_path}: this weights file holds NaN or infinite values, so every "
            f"embedding would be NaN. The file itself is bad (this is not a cache problem): export it again from a "
            f"healthy model, or drop it to use the published weights."
        )


def _weights_label(model: Any, *, pretrained: bool | None, seed: int | None) -> str:
    weights = getattr(model, "weights", None)
    if weights is not None:
        return weights.name
    if pretrained is False:
        return f"random (seed {seed})" if seed is not None else "random"
    return "none"
