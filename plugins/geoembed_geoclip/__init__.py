"""GeoCLIP reference plugin for geoembed.

It registers itself through entry points (see ``pyproject.toml``), exactly as a third-party plugin would:

- ``geoembed.location_encoders``: ``geoclip`` -> :func:`geoclip_location_encoder`; ``geoclip-bf16`` ->
  :func:`geoclip_bfloat16_location_encoder` (same weights, bfloat16 MLPs, opt-in);
- ``geoembed.image_backbones``: ``geoclip`` -> :func:`geoclip_image_encoder` (CLIP ViT-L/14 + GeoCLIP's image head).
"""

from geoembed_geoclip.image_encoder import GeoCLIPImageEncoder, geoclip_image_encoder, image_head
from geoembed_geoclip.location_encoder import (
    GeoCLIPLocationEncoder,
    equal_earth_projection,
    geoclip_bfloat16_location_encoder,
    geoclip_location_encoder,
)
from geoembed_geoclip.weights import GPS_GALLERY_100K, IMAGE_HEAD_MP16, LOCATION_ENCODER_MP16, LOGIT_SCALE_MP16

__all__ = [
    "GeoCLIPLocationEncoder",
    "GeoCLIPImageEncoder",
    "geoclip_image_encoder",
    "image_head",
    "equal_earth_projection",
    "geoclip_location_encoder",
    "geoclip_bfloat16_location_encoder",
    "LOCATION_ENCODER_MP16",
    "IMAGE_HEAD_MP16",
    "LOGIT_SCALE_MP16",
    "GPS_GALLERY_100K",
]
