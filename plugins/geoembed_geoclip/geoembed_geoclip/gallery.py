"""GeoCLIP's GPS gallery as a geoembed gallery: ``create_gallery("mp16")``, ``geoembed geolocate --gallery mp16``.

The 100,000 MP-16 photo coordinates GeoCLIP searches by default (``coordinates_100K.csv`` of the ``geoclip`` wheel,
record :data:`geoembed_geoclip.weights.GPS_GALLERY_100K`, checked by its sha256). Registered through the entry point
group ``geoembed.galleries`` of this plugin's ``pyproject.toml``, under ``mp16`` and its longer name ``mp16-100k``.
"""

from __future__ import annotations

import functools

from geoembed.retrieval.gallery import Gallery

#: The gallery's name (its cached embeddings are filed under it).
NAME = "mp16-100k"


def mp16_gallery() -> Gallery:
    """GeoCLIP's 100K MP-16 coordinates (``[lat, lon]`` degrees), read from the ``geoclip`` wheel or the cache."""
    from geoembed.weights import resolve_weights

    from geoembed_geoclip.weights import GPS_GALLERY_100K

    return _read(str(resolve_weights(GPS_GALLERY_100K).path))


@functools.lru_cache(maxsize=2)
def _read(path: str) -> Gallery:
    import pandas as pd

    table = pd.read_csv(path, usecols=["LAT", "LON"])
    return Gallery.from_latlon(table[["LAT", "LON"]].to_numpy(), NAME)
