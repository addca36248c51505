"""Training configuration of GeoCLIP and its concept-aware variant, and the model a configuration describes.

:class:`TrainConfig` holds every option of a run (saved as the run folder's ``config.json``); :func:`build_model`
builds the fresh model it describes. The training loop is in :mod:`geoembed_geoclip.training`, the run folder's files
in :mod:`geoembed_geoclip.training_io`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from geoembed_geoclip.concept_aware import ConceptAlignment, ConceptAwareGeoCLIP, geoclip_head
from geoembed_geoclip.losses import DIVERGENCES

IMAGE_HEADS = ("mlp", "mp16", "none")
TRAIN_LOCATION = ("all", "heads", "none")


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``). Defaults follow the GeoCLIP paper.

    Attributes:
        concepts: concept bank for the concept-aware model: a registered name (``"geography"``, ``"generic"``) or a
            saved bank's folder; None trains plain GeoCLIP. The bank's vectors are stored with the model.
        image_head: ``"mlp"`` (GeoCLIP's head shape, random init), ``"mp16"`` (the published head; 768-d CLIP
            ViT-L/14 features) or ``"none"`` (features go straight to the concept projection).
        location_encoder, location_encoder_kwargs: a registered location encoder and its factory options.
        center_concepts: subtract the bank's mean vector before normalising the basis (see
            :class:`~geoembed_geoclip.concept_aware.ConceptAlignment`).
        project_out_mean: remove the bank's mean direction from both projections too, so that raw text vectors of
            concepts outside the bank score places as centred ones would (the description-trained model uses it).
        freeze_image_projection: keep the image-side projection into the bank's space fixed (the identity when the
            widths match): for features already in the bank's space, e.g. MiniLM embeddings of descriptions, so the
            location side learns to land in that very space.
        train_location: ``"all"`` (the paper), ``"heads"`` (only parameters named ``*head*``: GeoCLIP's per-scale
            output layers) or ``"none"`` (frozen; with both noises at 0 its outputs are computed once, much faster).
        divergence, divergence_weight, bandwidth: the Concept Space Divergence (``"cs"`` or ``"mmd"``), its weight
            (the paper gives none; 0 switches it off) and its Gaussian kernel bandwidth (None: median heuristic).
        views: augmented views used per image and step when features are ``(N, P, F)``; None uses all ``P``.
        amp: bfloat16 autocast when training on CUDA (ignored on CPU).
        init_from: a trained run folder (or its ``model.safetensors``) whose concept module initialises this one:
            the basis offset and the location projection, and the image projection when its widths match (e.g. the
            description-trained projection to start image-GPS training). Concept names must be the same.
    """

    concepts: str | None = "geography"
    image_head: str = "mlp"
    location_encoder: str = "geoclip"
    location_encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    train_location: str = "all"
    center_concepts: bool = True
    project_out_mean: bool = False
    freeze_image_projection: bool = False
    temperature: float = 0.07
    learn_temperature: bool = True
    divergence: str = "cs"
    divergence_weight: float = 0.1
    bandwidth: float | None = None
    alignment_weight: float = 0.0
    epochs: int = 10
    batch_size: int = 512
    lr: float = 3e-5
    weight_decay: float = 1e-6
    lr_gamma: float = 0.87
    queue_size: int = 4096
    gps_noise_m: float = 150.0
    queue_noise_m: float = 1000.0
    views: int | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    init_from: str | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.image_head in IMAGE_HEADS, f"image_head must be one of {IMAGE_HEADS}, got {self.image_head!r}"),
            (self.train_location in TRAIN_LOCATION,
             f"train_location must be one of {TRAIN_LOCATION}, got {self.train_location!r}"),
            (self.divergence in DIVERGENCES, f"divergence must be one of {DIVERGENCES}, got {self.divergence!r}"),
            (self.divergence_weight >= 0, f"divergence_weight must be >= 0, got {self.divergence_weight}"),
            (self.alignment_weight >= 0, f"alignment_weight must be >= 0, got {self.alignment_weight}"),
            (self.bandwidth is None or self.bandwidth > 0, f"bandwidth must be positive or None, got {self.bandwidth}"),
            (_positive_int(self.epochs), f"epochs must be a positive integer, got {self.epochs!r}"),
            (_positive_int(self.batch_size) and self.batch_size >= 2,
             f"batch_size must be an integer >= 2 (contrastive learning needs negatives), got {self.batch_size!r}"),
            (self.lr > 0 and self.weight_decay >= 0 and 0 < self.lr_gamma <= 1,
             "lr must be > 0, weight_decay >= 0 and lr_gamma in (0, 1]"),
            (isinstance(self.queue_size, int) and self.queue_size >= 0,
             f"queue_size must be >= 0, got {self.queue_size!r}"),
            (self.gps_noise_m >= 0 and self.queue_noise_m >= 0, "GPS noise sigmas must be >= 0 metres"),
            (self.views is None or _positive_int(self.views),
             f"views must be a positive integer or None, got {self.views!r}"),
            (0 < self.temperature < 1, f"temperature must be in (0, 1), got {self.temperature}"),
            (not self.project_out_mean or (self.center_concepts and self.concepts is not None),
             "project_out_mean needs a concept bank and center_concepts=True"),
            (not self.freeze_image_projection or self.concepts is not None,
             "freeze_image_projection needs a concept bank (plain GeoCLIP has no image projection)"),
            (self.init_from is None or self.concepts is not None,
             "init_from initialises the concept module: it needs a concept bank"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message + ".")
        if self.image_head == "none" and self.concepts is None:
            raise ValueError("image_head='none' needs a concept bank (the features go straight to the concept "
                             "projection); plain GeoCLIP needs an image head.")

    @property
    def caches_locations(self) -> bool:
        """True when location embeddings never change during training (frozen encoder, no GPS noise)."""
        return self.train_location == "none" and self.gps_noise_m == 0 and self.queue_noise_m == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training options {unknown}; known: {sorted(known)}.")
        return cls(**data)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1



# -- building models -------------------------------------------------------------------------------------------------
def build_model(config: TrainConfig, feature_dim: int, concepts: Any = None) -> ConceptAwareGeoCLIP:
    """A fresh model for ``config`` on the CPU; ``concepts`` (a bank or ``(K, D)`` matrix) overrides
    ``config.concepts``.

    Initialisation is seeded with ``config.seed`` without touching the global random state.
    """
    from geoembed.registry import create_location_encoder

    location_encoder = create_location_encoder(config.location_encoder, **config.location_encoder_kwargs)
    location_dim = int(location_encoder.embedding_dim)
    if concepts is None and config.concepts is not None:
        concepts = load_bank(config.concepts)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.image_head == "none":
            head: torch.nn.Module = torch.nn.Identity()
            image_dim = feature_dim
        else:
            out_dim = 512 if concepts is not None else location_dim
            head = geoclip_head(feature_dim, out_dim)
            image_dim = out_dim
            if config.image_head == "mp16":
                _load_published_head(head, feature_dim, out_dim)
        alignment = (ConceptAlignment(concepts, image_dim, location_dim, center=config.center_concepts,
                                      project_out_mean=config.project_out_mean)
                     if concepts is not None else None)
    if alignment is None and image_dim != location_dim:
        raise ValueError(f"Plain GeoCLIP needs image and location embeddings of one width: {image_dim} vs "
                         f"{location_dim}.")
    return ConceptAwareGeoCLIP(head, location_encoder, alignment, temperature=config.temperature,
                               learn_temperature=config.learn_temperature)


def _load_published_head(head: torch.nn.Module, feature_dim: int, out_dim: int) -> None:
    from geoembed.weights import load_state_dict, resolve_weights
    from geoembed_geoclip.weights import IMAGE_HEAD_MP16

    if (feature_dim, out_dim) != (768, 512):
        raise ValueError(f"image_head='mp16' is GeoCLIP's head for 768-d CLIP ViT-L/14 features (to 512); these "
                         f"features are {feature_dim}-d. Use image_head='mlp' to train a head from scratch.")
    head.load_state_dict(load_state_dict(resolve_weights(IMAGE_HEAD_MP16).path), strict=True)


def load_bank(spec: Any):
    """A concept bank from a registered name or a saved folder (:func:`geoembed.concepts.bank.load_concept_bank`)."""
    if not isinstance(spec, (str, os.PathLike)):
        return spec
    from geoembed.concepts.bank import load_concept_bank

    return load_concept_bank(spec)



class _Placeholder:
    def __init__(self, names: list[str], dim: int):
        self.names, self.embeddings = names, torch.ones(len(names), dim)



def _device(device: Any) -> torch.device:
    from geoembed.location_encoders.encode import resolve_device

    return resolve_device(device)

