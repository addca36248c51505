"""GeoCLIP's text encoder: CLIP's text tower followed by GeoCLIP's head, i.e. texts in GeoCLIP's location space.

Registered as the ``geoclip`` entry point of the ``geoembed.text_encoders`` group (``pyproject.toml``), so
``geoembed.create_text_encoder("geoclip")`` and ``load_concept_bank("geography", text_encoder="geoclip")`` find it.
"""

from __future__ import annotations

import os
from typing import Any

from geoembed.concepts.text_encoders import TextEncoder, weights_tag

from geoembed_geoclip.weights import IMAGE_HEAD_MP16, LOCATION_ENCODER_MP16


class GeoCLIPTextEncoder(TextEncoder):
    """CLIP's text tower followed by GeoCLIP's head h1, h2: texts in GeoCLIP's location space (paper section 4.4).

    With the published parts (CLIP ViT-L/14 ``openai`` and GeoCLIP's head), text vectors live in the space of the
    pretrained ``geoclip`` location encoder, so a text bank built with this encoder can explain places directly
    (``explain_location(..., bank=load_concept_bank("geography", text_encoder="geoclip"))``). Any other CLIP tower or
    head gets a space of its own and is refused there.
    """

    default_prompt = "{}"  # GeoCLIP's text queries are plain phrases ("desert")

    def __init__(self, *, pretrained: bool = True, clip_model: str = "ViT-L-14",
                 clip_pretrained: str | os.PathLike | None = "openai", device: Any = None, **backbone_kwargs: Any):
        from geoembed.image_backbones.images import get_image_backbone

        self.backbone = get_image_backbone(
            "geoclip", device=device, pretrained=pretrained, clip_model=clip_model,
            clip_pretrained=None if clip_pretrained is None else str(clip_pretrained), **backbone_kwargs)
        self.embedding_dim = int(self.backbone.feature_dim)
        self.weights_id = self.backbone.identity
        self.space = geoclip_text_space(clip_model, clip_pretrained, getattr(self.backbone, "head_weights", None),
                                        self.weights_id, customised=bool(backbone_kwargs))

    def _embed(self, texts: list[str]):
        import torch

        with torch.inference_mode():
            return self.backbone.encode_text(texts)


def geoclip_text_space(clip_model: str, clip_pretrained: Any, head_weights: Any, weights_id: str, *,
                       customised: bool = False) -> str:
    """GeoCLIP's location space for the published parts (CLIP ViT-L/14 ``openai`` + the MP-16 head), else a space of
    its own: only the published pair was trained to land text next to GeoCLIP's location embeddings."""
    published = (clip_model == "ViT-L-14" and str(clip_pretrained) == "openai" and not customised
                 and head_weights is not None and head_weights.sha256 == IMAGE_HEAD_MP16.sha256)
    if published:
        return f"location:{LOCATION_ENCODER_MP16.name}"
    return f"text:geoclip-head/{clip_model}/{weights_tag(clip_pretrained, weights_id)}"


def geoclip_text_encoder(*, pretrained: bool = True, clip_model: str = "ViT-L-14",
                         clip_pretrained: str | os.PathLike | None = "openai", device: Any = None,
                         **backbone_kwargs: Any) -> GeoCLIPTextEncoder:
    """Texts into GeoCLIP's location space (CLIP ViT-L/14 text tower + GeoCLIP's head); needs the CLIP weights."""
    return GeoCLIPTextEncoder(pretrained=pretrained, clip_model=clip_model, clip_pretrained=clip_pretrained,
                              device=device, **backbone_kwargs)
