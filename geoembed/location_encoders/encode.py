"""``encode_location``: coordinates in, embeddings out, in bounded memory."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from geoembed.coords import as_latlon
from geoembed.errors import NonFiniteOutputError, PluginOutputError

DEFAULT_ENCODER = "geoclip"
DEFAULT_BATCH_SIZE = 8192
#: Largest magnitude accepted in a location encoder's raw output. Real encoders stay far below it (GeoCLIP about
#: 0.1, the ``latlon`` baseline 180, projected metres 2e7); beyond it the weights are damaged.
MAX_ABS_EMBEDDING = 1e10


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
    return location_encoders.create_cached(encoder, expected_type=LocationEncoder, device=dev, **kwargs)


def clear_encoder_cache() -> None:
    """Forget encoders built by name (frees their memory)."""
    from geoembed.registry import location_encoders

    location_encoders.clear_cached()


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
    result = np.empty((latlon.shape[0], check_embedding_dim(model)), dtype=np.float32)
    start = 0
    for chunk in iter_embeddings(latlon, model, batch_size=batch_size, normalize=normalize, progress=progress):
        result[start : start + len(chunk)] = chunk
        start += len(chunk)
    assert start == len(result), "iter_embeddings checks every batch's row count"
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
