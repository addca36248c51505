"""Text maps: how well a text matches each place of a gallery (GeoCLIP's Figure 4).

:func:`text_map` scores a text (through CLIP's text tower and GeoCLIP's head, paper section 4.4) against the location
embeddings of a gallery over the globe and draws the map of its similarity.
"""

from __future__ import annotations

import os
from typing import Any

from geoembed.errors import GeoembedError


def text_map(
    text: str,
    out: str | os.PathLike | None = None,
    *,
    model: Any = "geoclip",
    location_encoder: Any = "geoclip",
    gallery: Any = "grid:1",
    device: Any = None,
    progress: bool = False,
    title: str | None = None,
    cmap: str = "magma",
    **model_kwargs: Any,
):
    """Cosine similarity of a text with location embeddings over the globe (GeoCLIP's Figure 4), optionally as a PNG.

    The text goes through CLIP's text tower and GeoCLIP's head (``model.encode_text``); the locations are a gallery
    (default: a 1-degree grid over the whole globe; ``"land:0.5"`` for a finer land-only map; anything
    :func:`~geoembed.retrieval.gallery.load_gallery` takes), embedded once and cached like any gallery.

    Returns:
        a DataFrame ``lat``, ``lon``, ``similarity``; with ``out``, the map is also saved there as a PNG.
    """
    import pandas as pd
    import torch

    from geoembed.image_backbones.images import get_image_backbone
    from geoembed.location_encoders.encode import get_location_encoder
    from geoembed.retrieval.gallery import gallery_embeddings, load_gallery
    from geoembed.retrieval.geolocate import check_compatible
    from geoembed.retrieval.search import normalize, similarities

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}.")
    image_model = get_image_backbone(model, device=device, **model_kwargs)
    if not hasattr(image_model, "encode_text"):
        raise GeoembedError(f"The image model {type(image_model).__name__} has no text tower (encode_text); use a CLIP "
                            f"model such as 'geoclip'.")
    encoder = get_location_encoder(location_encoder, device=device)
    check_compatible(image_model, encoder)
    gallery = load_gallery(gallery)
    embeddings = gallery_embeddings(gallery, encoder, device=device, progress=progress)
    with torch.inference_mode():
        query = normalize(image_model.encode_text([text]).float().cpu().numpy())[0]
    similarity = similarities(query, embeddings)
    result = pd.DataFrame({"lat": gallery.latlon[:, 0], "lon": gallery.latlon[:, 1], "similarity": similarity})
    if out is not None:
        from geoembed.maps import plot_world

        plot_world(gallery.latlon, similarity, out, title=title if title is not None else f'"{text}"',
                   label="cosine similarity", cmap=cmap, grid_step=gallery.grid_step)
    return result


__all__ = ["text_map"]
