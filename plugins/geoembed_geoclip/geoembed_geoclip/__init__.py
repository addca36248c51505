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
"""

import dataclasses

from geoembed.model_card import ModelCard, with_card

from geoembed_geoclip.image_encoder import GeoCLIPImageEncoder, geoclip_image_encoder, image_head
from geoembed_geoclip.location_encoder import (
    GeoCLIPLocationEncoder,
    equal_earth_projection,
    geoclip_bfloat16_location_encoder,
    geoclip_location_encoder,
)
from geoembed_geoclip.weights import GPS_GALLERY_100K, IMAGE_HEAD_MP16, LOCATION_ENCODER_MP16, LOGIT_SCALE_MP16

GEOCLIP_CARD = ModelCard(
    family="GeoCLIP",
    embedding_dim=512,
    input_convention="(lat, lon) degrees, Equal Earth projected and scaled inside the model",
    training_data="MP-16: 4.72M geotagged Flickr photos (contrastive with CLIP ViT-L/14 image features)",
    license=LOCATION_ENCODER_MP16.license,
    citation=LOCATION_ENCODER_MP16.citation,
    weights=LOCATION_ENCODER_MP16,
    hyperparameters={"sigmas": (1, 16, 256), "rff_features": 256, "hidden": 1024, "precision": "float32"},
    description="Sum of three random-Fourier-feature MLP branches; the location tower of GeoCLIP.",
    homepage="https://github.com/VicenteVivan/geo-clip",
    training_sources=("mp16",),
)
GEOCLIP_RANDOM_CARD = ModelCard(
    family="GeoCLIP (random weights)",
    embedding_dim=512,
    input_convention="(lat, lon) degrees, Equal Earth projected and scaled inside the model",
    training_data="none (seeded random weights)",
    license="MIT",
    citation=LOCATION_ENCODER_MP16.citation,
    hyperparameters={"sigmas": (1, 16, 256), "seed": 0},
    description="GeoCLIP's architecture with random weights; the gap to geoclip is what pretraining buys.",
)


@with_card(GEOCLIP_RANDOM_CARD)
def geoclip_random(seed: int = 0) -> GeoCLIPLocationEncoder:
    """Factory of ``"geoclip-random"``: GeoCLIP's architecture with seeded random weights (a baseline)."""
    return geoclip_location_encoder(pretrained=False, seed=seed)


with_card(GEOCLIP_CARD)(geoclip_location_encoder)
with_card(
    dataclasses.replace(
        GEOCLIP_CARD,
        hyperparameters={**GEOCLIP_CARD.hyperparameters, "precision": "bfloat16"},
        description="GeoCLIP with bfloat16 MLPs (same weights; cosine similarity to float32 above 0.9999).",
    )
)(geoclip_bfloat16_location_encoder)

__all__ = [
    "GeoCLIPLocationEncoder",
    "GeoCLIPImageEncoder",
    "geoclip_image_encoder",
    "image_head",
    "equal_earth_projection",
    "geoclip_location_encoder",
    "geoclip_bfloat16_location_encoder",
    "geoclip_random",
    "LOCATION_ENCODER_MP16",
    "IMAGE_HEAD_MP16",
    "LOGIT_SCALE_MP16",
    "GPS_GALLERY_100K",
    "GEOCLIP_CARD",
    "GEOCLIP_RANDOM_CARD",
]
