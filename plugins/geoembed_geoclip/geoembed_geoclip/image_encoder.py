"""GeoCLIP's image encoder: a frozen CLIP ViT-L/14 followed by GeoCLIP's trained head h1, h2 (768 -> 768 -> 512).

The reference package builds CLIP with Hugging Face transformers (``openai/clip-vit-large-patch14``) and feeds the
*projected* 768-d image embedding (``get_image_features``) to the head. open_clip's ``encode_image`` of ``ViT-L-14``
with the ``openai`` tag is that same embedding (same OpenAI weights, QuickGELU activation), so this module uses
open_clip, resolved offline-first by geoembed's ``open_clip`` backbone. The head and the learned logit scale are real:
they ship in the ``geoclip`` wheel and are read through their weights records (never by importing ``geoclip``).

Because CLIP's text tower shares the image space, a text goes through CLIP's text encoder and the same head
(paper section 4.4) and can be compared with location embeddings: :meth:`GeoCLIPImageEncoder.encode_text`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from geoembed.image_backbones.hub import weights_option
from geoembed.image_backbones.open_clip_backbone import OpenCLIPBackbone, open_clip_backbone
from geoembed.errors import WeightsError
from geoembed.image_backbones.contract import ImageBackbone, state_dict_sha256
from geoembed.weights import WeightsRecord, load_state_dict, resolve_weights

from geoembed_geoclip.weights import IMAGE_HEAD_MP16, LOGIT_SCALE_MP16

CLIP_EMBED_DIM = 768  # ViT-L/14's projected embedding, the head's input
EMBEDDING_DIM = 512  # the head's output, the width of GeoCLIP's location embeddings
DEFAULT_LOGIT_SCALE = 2.659260036932778  # log(1 / 0.07), CLIP's initial temperature, used by random heads


def image_head() -> nn.Sequential:
    """GeoCLIP's h1, h2 with the published state dict's layout (keys ``0.weight, 0.bias, 2.weight, 2.bias``)."""
    return nn.Sequential(nn.Linear(CLIP_EMBED_DIM, CLIP_EMBED_DIM), nn.ReLU(), nn.Linear(CLIP_EMBED_DIM, EMBEDDING_DIM))


class GeoCLIPImageEncoder(ImageBackbone):
    """CLIP image tower + GeoCLIP head: images (and texts) to 512-d features comparable with GeoCLIP locations.

    Attributes:
        clip: the :class:`~geoembed.image_backbones.open_clip_backbone.OpenCLIPBackbone` (any open_clip model whose
            embedding is 768-d; ViT-L-14 with OpenAI weights for the published results).
        head: h1, h2.
        logit_scale: GeoCLIP's learned log temperature (``exp`` of it multiplies cosine similarities).
        head_weights: the head's :class:`WeightsRecord`, or None for a random head.
    """

    feature_dim = EMBEDDING_DIM

    def __init__(self, clip: OpenCLIPBackbone, head: nn.Sequential, logit_scale: float,
                 head_weights: WeightsRecord | None = None):
        super().__init__()
        if clip.feature_dim != CLIP_EMBED_DIM:
            raise ValueError(
                f"GeoCLIP's head takes 768-d CLIP embeddings; open_clip {clip.model_name!r} gives {clip.feature_dim}. "
                f"Use ViT-L-14 (or another open_clip model with embed_dim=768)."
            )
        self.clip = clip
        self.head = head
        self.register_buffer("logit_scale", torch.tensor(float(logit_scale)))
        self.head_weights = head_weights
        self.transform = clip.transform
        self.image_size, self.mean, self.std = clip.image_size, clip.mean, clip.std
        self.weights = clip.weights

    def encode(self, batch: torch.Tensor) -> torch.Tensor:
        return self.head(self.clip.encode(batch).float())

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts through CLIP's text tower and the same head: ``(N, 512)`` features in the location space."""
        return self.head(self.clip.encode_text(texts).float())

    @property
    def identity(self) -> str:
        head_id = self.head_weights.sha256 if self.head_weights is not None else "random-" + state_dict_sha256(self.head)
        scale = hashlib.sha256(self.logit_scale.detach().cpu().numpy().tobytes()).hexdigest()[:16]
        return f"{type(self).__module__}.{type(self).__qualname__}:{EMBEDDING_DIM}:head-{head_id}:scale-{scale}:" \
               f"clip-{self.clip.identity}"


def geoclip_image_encoder(
    pretrained: bool = True,
    *,
    clip_model: str = "ViT-L-14",
    clip_pretrained: str | Path | bool | None = "openai",
    head_weights_path: str | Path | None = None,
    logit_scale_path: str | Path | None = None,
    **clip_kwargs: Any,
) -> GeoCLIPImageEncoder:
    """Factory registered as the image backbone ``"geoclip"``.

    Args:
        pretrained: load GeoCLIP's published head and logit scale (from the ``geoclip`` wheel, the cache or a
            download), or keep a random head.
        clip_model, clip_pretrained: the open_clip backbone (see the ``open_clip`` backbone): ``"ViT-L-14"`` with
            ``"openai"`` reproduces GeoCLIP; a weights file works offline; None gives a random CLIP (tests).
        head_weights_path, logit_scale_path: your own head / logit scale files (fine-tuned GeoCLIP).
        **clip_kwargs: passed to the open_clip backbone (``precision=``, architecture overrides).
    """
    with weights_option(python="clip_pretrained"):  # a missing CLIP file is named by this factory's keyword
        clip = open_clip_backbone(clip_model, clip_pretrained, **clip_kwargs)
    if not pretrained and head_weights_path is None:
        with torch.random.fork_rng(devices=[]):  # reproducible random head without touching the global RNG
            torch.manual_seed(0)
            head = image_head()
        return GeoCLIPImageEncoder(clip, head, DEFAULT_LOGIT_SCALE)
    head = image_head()
    resolved = resolve_weights(IMAGE_HEAD_MP16, head_weights_path)
    try:
        head.load_state_dict(load_state_dict(resolved.path), strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{resolved.path} is not a GeoCLIP image head (768 -> 768 -> 512): {exc}") from None
    logit_scale = load_logit_scale(logit_scale_path)
    return GeoCLIPImageEncoder(clip, head, logit_scale, resolved.record)


def load_logit_scale(path: str | Path | None = None) -> float:
    """GeoCLIP's learned log temperature: a scalar tensor file (the ``geoclip`` wheel ships the published one)."""
    resolved = resolve_weights(LOGIT_SCALE_MP16, path)
    try:
        value = torch.load(resolved.path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"Cannot read the logit scale file {resolved.path}: {type(exc).__name__}: {exc}") from exc
    if isinstance(value, dict) and len(value) == 1:  # also accept {"logit_scale": tensor}
        value = next(iter(value.values()))
    if not isinstance(value, torch.Tensor) or value.numel() != 1 or not torch.isfinite(value).all():
        raise WeightsError(f"{resolved.path} does not hold one finite number (GeoCLIP's logit scale).")
    return float(value)
