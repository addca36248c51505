"""geoembed: embeddings of places on Earth.

>>> import geoembed
>>> emb = geoembed.encode_location(lat=[48.8566], lon=[2.3522])   # doctest: +SKIP

Importing geoembed is cheap: torch and the plugins load on first use (PEP 562 lazy attributes).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

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
    "refresh_plugins": "geoembed.registry",
    "load_all_plugins": "geoembed.registry",
    # encoding
    "encode_location": "geoembed.encode",
    "get_location_encoder": "geoembed.encode",
    "iter_embeddings": "geoembed.encode",
    "resolve_device": "geoembed.encode",
    "as_latlon": "geoembed.coords",
    "LocationEncoder": "geoembed.location_encoder",
    # scale: Parquet files larger than memory, and Dask clusters (geoembed/streaming.py, parallel.py)
    "encode_parquet": "geoembed.streaming",
    "encode_dask": "geoembed.parallel",
    "encode_parquet_dataset": "geoembed.parallel",
    # weights
    "WeightsRecord": "geoembed.weights",
    "resolve_weights": "geoembed.weights",
    "cache_dir": "geoembed.weights",
    # downstream: tasks and benchmarks (geoembed/downstream/)
    "register_task": "geoembed.downstream.tasks",
    "load_task": "geoembed.downstream.tasks",
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
    # images: backbones, feature extraction, geo-localization and text maps (geoembed/images.py, geolocate.py)
    "ImageBackbone": "geoembed.image_backbone",
    "get_image_backbone": "geoembed.images",
    "encode_images": "geoembed.images",
    "extract_features": "geoembed.images",
    "FeatureStore": "geoembed.images",
    "read_exif_latlon": "geoembed.images",
    "SkippedImageWarning": "geoembed.images",
    "geolocate": "geoembed.geolocate",
    "text_map": "geoembed.geolocate",
    "load_gallery": "geoembed.geolocate",
    "Gallery": "geoembed.geolocate",
    "gallery_embeddings": "geoembed.geolocate",
    "evaluate_photos": "geoembed.geolocate",
    "accuracy_at": "geoembed.geolocate",
    # raster patches as images (geoembed/patches.py); training lives in the GeoCLIP plugin (geoembed_geoclip.training)
    "RasterPatchSource": "geoembed.patches",
    "RasterLayer": "geoembed.patches",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geoembed' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__
