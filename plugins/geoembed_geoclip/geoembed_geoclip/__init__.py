"""GeoCLIP reference plugin for geoembed.

It registers itself through entry points (see ``pyproject.toml``), exactly as a third-party plugin would:

- ``geoembed.location_encoders``: ``geoclip`` -> :func:`geoclip_location_encoder`; ``geoclip-bf16`` ->
  :func:`geoclip_bfloat16_location_encoder` (same weights, bfloat16 MLPs, opt-in); ``geoclip-random`` ->
  :func:`geoclip_random` (the architecture with seeded random weights: the baseline that shows what pretraining buys);
- ``geoembed.image_backbones``: ``geoclip`` -> :func:`geoclip_image_encoder` (CLIP ViT-L/14 + GeoCLIP's image head);
- ``geoembed.text_encoders``: ``geoclip`` -> :func:`geoembed_geoclip.text_encoder.geoclip_text_encoder` (texts in
  GeoCLIP's location space);
- ``geoembed.concept_banks``: ``geodata.geoclip`` -> :func:`geoembed_geoclip.concept_banks.geodata_geoclip_bank`;
- ``geoembed.commands``: ``train`` and ``evaluate`` (:mod:`geoembed_geoclip.commands`), i.e. ``geoembed train`` and
  ``geoembed evaluate``.

The location encoder factories carry a :class:`geoembed.model_card.ModelCard` (``factory.card``).

Importing the package is cheap (no torch): its names load from their modules on first use (PEP 562), so ``geoembed
--help``, which loads the plugin's command modules, does not pay for the models.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "GeoCLIPLocationEncoder": "location_encoder",
    "equal_earth_projection": "location_encoder",
    "geoclip_location_encoder": "location_encoder",
    "geoclip_bfloat16_location_encoder": "location_encoder",
    "geoclip_random": "location_encoder",
    "GEOCLIP_CARD": "location_encoder",
    "GEOCLIP_RANDOM_CARD": "location_encoder",
    "GeoCLIPImageEncoder": "image_encoder",
    "geoclip_image_encoder": "image_encoder",
    "image_head": "image_encoder",
    "LOCATION_ENCODER_MP16": "weights",
    "IMAGE_HEAD_MP16": "weights",
    "LOGIT_SCALE_MP16": "weights",
    "GPS_GALLERY_100K": "weights",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'geoembed_geoclip' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"geoembed_geoclip.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = list(_HOMES)
