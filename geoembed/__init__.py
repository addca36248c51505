"""geoembed: embeddings of places on Earth.

>>> import geoembed
>>> emb = geoembed.encode_location(lat=[48.8566], lon=[2.3522])   # doctest: +SKIP

Importing geoembed is cheap: torch and the plugins load on first use (PEP 562 lazy attributes).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from geoembed import _moved_modules  # noqa: E402  (old module paths import with a deprecation warning)

_moved_modules.install()

# public name -> module that defines it
_LAZY = {
    # registry (public contract: register_<kind>, create_<kind>, list_<kind>s)
    "register_image_backbone": "geoembed.registry",
    "create_image_backbone": "geoembed.registry",
    "list_image_backbones": "geoembed.registry",
    "register_location_encoder": "geoembed.registry",
    "create_location_encoder": "geoembed.registry",
    "list_location_encoders": "geoembed.registry",
    "register_concept_bank": "geoembed.registry",
    "create_concept_bank": "geoembed.registry",
    "list_concept_banks": "geoembed.registry",
    "register_concept_projection": "geoembed.registry",
    "create_concept_projection": "geoembed.registry",
    "list_concept_projections": "geoembed.registry",
    "refresh_plugins": "geoembed.registry",
    "load_all_plugins": "geoembed.registry",
    # encoding
    "encode_location": "geoembed.location_encoders.encode",
    "get_location_encoder": "geoembed.location_encoders.encode",
    "iter_embeddings": "geoembed.location_encoders.encode",
    "resolve_device": "geoembed.location_encoders.encode",
    "as_latlon": "geoembed.coords",
    "LocationEncoder": "geoembed.location_encoders.contract",
    # scale: Parquet files larger than memory, and Dask clusters (geoembed/location_encoders/streaming.py, parallel.py)
    "encode_parquet": "geoembed.location_encoders.streaming",
    "encode_dask": "geoembed.location_encoders.parallel",
    "encode_parquet_dataset": "geoembed.location_encoders.parallel",
    # weights
    "WeightsRecord": "geoembed.weights",
    "resolve_weights": "geoembed.weights",
    "cache_dir": "geoembed.weights",
    # downstream: tasks and benchmarks (geoembed/downstream/)
    "register_task": "geoembed.downstream.tasks",
    "create_task": "geoembed.downstream.tasks",
    "load_task": "geoembed.downstream.tasks",  # deprecated: create_task
    "list_tasks": "geoembed.downstream.tasks",
    "run_benchmark": "geoembed.downstream.benchmark",
    "LocationFeaturizer": "geoembed.downstream.featurizer",
    # files: point tables in, embeddings out (geoembed encode)
    "read_points": "geoembed.io",
    "write_embeddings": "geoembed.io",
    "read_embeddings": "geoembed.io",
    # concept banks, text encoders and concept explanations of places (geoembed/concepts/)
    "ConceptBank": "geoembed.concepts.bank",
    "load_concept_bank": "geoembed.concepts.bank",
    "register_text_encoder": "geoembed.concepts.text_encoders",
    "create_text_encoder": "geoembed.concepts.text_encoders",
    "list_text_encoders": "geoembed.concepts.text_encoders",
    "TextEncoder": "geoembed.concepts.text_encoders",
    "explain_location": "geoembed.concepts.explain",
    "explain_locations": "geoembed.concepts.explain",
    "concept_profile": "geoembed.concepts.explain",
    "concept_map": "geoembed.concepts.explain",
    "sparse_explanation": "geoembed.concepts.explain",
    "explain_task": "geoembed.concepts.probe",
    "ConceptProjection": "geoembed.concepts.projection",
    "LinearConceptProjection": "geoembed.concepts.projection",
    # images: backbones and feature extraction (geoembed/image_backbones/); geo-localization, text maps (geoembed/retrieval/)
    "ImageBackbone": "geoembed.image_backbones.contract",
    "get_image_backbone": "geoembed.image_backbones.images",
    "encode_images": "geoembed.image_backbones.images",
    "extract_features": "geoembed.image_backbones.images",
    "FeatureStore": "geoembed.image_backbones.images",
    "read_exif_latlon": "geoembed.image_backbones.images",
    "SkippedImageWarning": "geoembed.image_backbones.images",
    "geolocate": "geoembed.retrieval.geolocate",
    "text_map": "geoembed.retrieval.text_maps",
    "load_gallery": "geoembed.retrieval.gallery",
    "Gallery": "geoembed.retrieval.gallery",
    "gallery_embeddings": "geoembed.retrieval.gallery",
    "register_gallery": "geoembed.retrieval.gallery",
    "create_gallery": "geoembed.retrieval.gallery",
    "list_galleries": "geoembed.retrieval.gallery",
    "evaluate_photos": "geoembed.retrieval.evaluation",
    "accuracy_at": "geoembed.retrieval.evaluation",
    # raster patches as images (geoembed/image_backbones/patches.py); training lives in the GeoCLIP plugin (geoembed_geoclip.training)
    "RasterPatchSource": "geoembed.image_backbones.patches",
    "RasterLayer": "geoembed.image_backbones.patches",
}

# geoembed 0.1's public names that broke the registry vocabulary (register_<kind>, create_<kind>, list_<kind>s): they
# keep working for one release and warn with the name to use. Every geoembed function that takes an encoder, backbone
# or bank also accepts a registered name or a built object directly.
_DEPRECATED = {
    "get_location_encoder": "create_location_encoder(name, **options)",
    "get_image_backbone": "create_image_backbone(name, **options)",
    "load_concept_bank": "create_concept_bank(name, **options), or ConceptBank.load(folder) for a saved bank",
}

__all__ = sorted(set(_LAZY) - set(_DEPRECATED) - {"load_task"}) + ["__version__"]  # load_task warns by itself


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geoembed' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if name in _DEPRECATED:
        value = _deprecated_alias(name, value, _DEPRECATED[name])
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def _deprecated_alias(name: str, function: Any, instead: str) -> Any:
    import functools
    import warnings

    @functools.wraps(function)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"geoembed.{name} is deprecated: use geoembed.{instead}.", DeprecationWarning, stacklevel=2)
        return function(*args, **kwargs)

    return alias


def __dir__() -> list[str]:
    return __all__
