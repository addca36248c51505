"""Image geo-localization by retrieval (GeoCLIP): where on Earth was a photo taken?

A photo's embedding (an image backbone whose features share the location encoder's space, such as GeoCLIP's) is
compared with the embeddings of a *gallery* of GPS coordinates (:mod:`geoembed.retrieval.gallery`, embedded once and
cached on disk); the most similar coordinates are the predictions, and a softmax over the whole gallery (scaled by
the model's learned logit scale) gives their probabilities, exactly as the reference ``GeoCLIP.predict`` does. The
search is the one retrieval engine, :func:`geoembed.retrieval.search.retrieve`.

Prior knowledge restricts the search: ``within=(lat, lon, radius_km)`` (GeoCLIP's Table 5 protocol; one row per image
also works) and ``inside=`` polygons (a country from a GeoDataFrame). Probabilities are then normalised over the
allowed gallery points only.

The other jobs of ``geoembed.retrieval`` have their own modules: galleries (``gallery``), the engine (``search``),
accuracy (``evaluation``) and text maps (``text_maps``). Their names still import from here for one release, with a
:class:`DeprecationWarning` naming their new module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from geoembed.errors import GeoembedError
from geoembed.retrieval import gallery as _gallery

if TYPE_CHECKING:
    from geoembed.retrieval.gallery import Gallery
    from geoembed.retrieval.search import Retrieval


# -- geolocate ---------------------------------------------------------------------------------------------------------
def geolocate(
    images: Any,
    top_k: int = 5,
    *,
    model: Any = "geoclip",
    location_encoder: Any = "geoclip",
    gallery: Any = _gallery.DEFAULT_GALLERY,
    within: Any = None,
    inside: Any = None,
    ten_crop: bool = False,
    batch_size: int = 32,
    device: Any = None,
    progress: bool = False,
    gallery_dtype: str = "float32",
    **model_kwargs: Any,
):
    """Predict where photos were taken: the ``top_k`` most likely gallery coordinates per image, with probabilities.

    >>> preds = geolocate(["photo1.jpg", "photo2.jpg"], top_k=5)                # doctest: +SKIP
    >>> preds = geolocate("photo.jpg", within=(48.85, 2.35, 750))               # doctest: +SKIP

    Args:
        images: paths, folders, PIL images, arrays or tensors (see :func:`geoembed.image_backbones.images.collect_images`); files that
            cannot be read are skipped with a :class:`~geoembed.image_backbones.images.SkippedImageWarning` and listed in
            ``result.attrs["skipped"]``.
        model: the image model: ``"geoclip"`` (CLIP ViT-L/14 + GeoCLIP's head) or any image backbone whose features
            live in the location encoder's space; its ``logit_scale`` (log temperature) scales the softmax.
        location_encoder: the location encoder that embeds the gallery (``"geoclip"``).
        gallery: where to search: a registered gallery name (``"mp16"`` with the GeoCLIP plugin), ``"grid:STEP"``,
            ``"land:STEP"``, a points file, a table or coordinates; see :func:`~geoembed.retrieval.gallery.load_gallery`.
        within: ``(lat, lon, radius_km)``, or one such row per image: search only that close to a known point.
        inside: polygons (GeoDataFrame/GeoSeries/shapely) to search in, e.g. one country of ``geoembed.geo.countries()``.
        ten_crop: average the logits of the ten crops (GeoCLIP's evaluation protocol) instead of one centre crop.
        gallery_dtype: ``"float16"`` halves the cached gallery file.
        **model_kwargs: passed to the image model's factory (e.g. ``clip_pretrained="/path/ViT-L-14.safetensors"``).

    Returns:
        a DataFrame with one row per image and rank: ``image``, ``rank`` (1 = best), ``lat``, ``lon``,
        ``probability`` (softmax over the allowed gallery) and ``similarity`` (cosine, averaged over crops).
        An image restricted to fewer than ``top_k`` gallery points gets fewer rows.
    """
    import pandas as pd
    import torch

    from geoembed.image_backbones.images import collect_images, get_image_backbone, iter_feature_batches
    from geoembed.location_encoders.encode import get_location_encoder
    from geoembed.retrieval.gallery import gallery_embeddings, load_gallery
    from geoembed.retrieval.search import inside_mask, normalize, retrieve, within_rows

    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}.")
    items = collect_images(images)
    check_photos_exist(items)  # before any model or weights: a missing photo is the first thing to hear about
    image_model = get_image_backbone(model, device=device, **model_kwargs)
    encoder = get_location_encoder(location_encoder, device=device)
    check_compatible(image_model, encoder)
    gallery = load_gallery(gallery)
    restrictions = within_rows(within, len(items))
    allowed = None
    if inside is not None:
        allowed = inside_mask(gallery.latlon, inside)
        if not allowed.any():
            raise GeoembedError(f"No point of the gallery {gallery.name!r} lies inside the given polygons; use a denser "
                                f"gallery (e.g. gallery='land:0.1') or check the polygons' CRS.")
    embeddings = gallery_embeddings(gallery, encoder, dtype=gallery_dtype, device=device, progress=progress)
    logit_scale = float(torch.as_tensor(getattr(image_model, "logit_scale", 0.0)).exp())

    frames, skipped = [], []
    for rows, features, bad in iter_feature_batches(items, image_model, batch_size=batch_size,
                                                    views="ten_crop" if ten_crop else "center", progress=progress):
        skipped.extend((items[i].name, reason) for i, reason in bad)
        if not rows:
            continue
        queries = normalize(features)
        if queries.ndim == 3:  # the mean of unit vectors: its dot products are the mean of the crops' cosines
            queries = queries.mean(axis=1)
        found = retrieve(queries, embeddings, top_k, logit_scale=logit_scale, allowed=allowed,
                         within=None if restrictions is None else restrictions[rows], gallery_latlon=gallery.latlon,
                         device=device)
        _check_found(found, [items[r].name for r in rows], restrictions, rows)
        frames.append(_predictions_frame([items[r].name for r in rows], found, gallery, logit_scale))
    columns = ["image", "rank", "lat", "lon", "probability", "similarity"]
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    result.attrs["skipped"] = skipped
    result.attrs["gallery"] = gallery.name
    return result


def check_photos_exist(items: Sequence[Any]) -> None:
    """Raise when every photo given is a path that does not exist; when only some are missing, they are skipped later.

    Cheap and first: it runs before the model and its weights are looked for.
    """
    paths = [item.source for item in items if isinstance(item.source, Path)]
    missing = [str(p) for p in paths if not p.exists()]
    if items and len(missing) == len(items):
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise FileNotFoundError(f"No such photo: {shown}.")


def check_compatible(image_model: Any, encoder: Any) -> None:
    """Raise unless the image model's features and the location encoder's embeddings share one space (same size)."""
    if image_model.feature_dim != encoder.embedding_dim:
        raise GeoembedError(
            f"The image model gives {image_model.feature_dim}-d features but the location encoder "
            f"{type(encoder).__name__} gives {encoder.embedding_dim}-d embeddings; geo-localization needs a model "
            f"trained to share the location space, such as the image backbone 'geoclip' with location encoder 'geoclip'."
        )


def _check_found(found: Retrieval, names: list[str], within_rows: np.ndarray | None, rows: list[int]) -> None:
    empty = ~np.isfinite(found.log_norm)
    if not empty.any():
        return
    i = int(np.flatnonzero(empty)[0])
    where = ""
    if within_rows is not None:
        lat, lon, radius = within_rows[rows[i]]
        where = f" within {radius:g} km of ({lat:g}, {lon:g})"
    raise GeoembedError(
        f"No gallery point lies{where} in the allowed area for image {names[i]}; enlarge the radius or use a denser "
        f"gallery (e.g. gallery='land:0.1')."
    )


def _predictions_frame(names: list[str], found: Retrieval, gallery: Gallery, logit_scale: float):
    import pandas as pd

    valid = np.isfinite(found.logits)
    image_row, rank = np.nonzero(valid)
    index = found.indices[valid]
    return pd.DataFrame({
        "image": np.asarray(names, dtype=object)[image_row],
        "rank": rank + 1,
        "lat": gallery.latlon[index, 0],
        "lon": gallery.latlon[index, 1],
        "probability": found.probabilities[valid],
        "similarity": found.logits[valid] / logit_scale,
    })


#: Names that lived here before ``geoembed.retrieval`` was split by job: name -> its module now.
_MOVED = {
    **dict.fromkeys(["Gallery", "DEFAULT_GALLERY", "GALLERY_CACHE", "load_gallery", "gallery_embeddings",
                     "gallery_cache_path"], "geoembed.retrieval.gallery"),
    **dict.fromkeys(["Retrieval", "retrieve", "inside_mask", "CHUNK_ROWS"], "geoembed.retrieval.search"),
    **dict.fromkeys(["THRESHOLDS_KM", "IMAGE_COLUMNS", "accuracy_at", "load_photo_truth", "evaluate_photos"],
                    "geoembed.retrieval.evaluation"),
    "text_map": "geoembed.retrieval.text_maps",
}


def __getattr__(name: str) -> Any:
    """The moved names, for one release, with a warning naming their module now."""
    import importlib
    import warnings

    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"geoembed.retrieval.geolocate.{name} moved to {module}.{name}; import it from there (the old "
                  f"place goes in the next release).", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), name)


__all__ = ["check_photos_exist", "geolocate"]
