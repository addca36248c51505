"""Climplicit for geoembed: implicit climate embeddings trained on CHELSA (Dollinger et al., ICLR 2025 workshops).

Registered through the ``geoembed.location_encoders`` entry point group of this distribution, as any third-party
plugin: ``climplicit`` (1,024-d: March, June, September, December concatenated, the original's default; pass
``month=1..12`` for one month's 256-d embedding).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geoembed_climplicit.model import (
    DEFAULT_MONTHS,
    ClimplicitLocationEncoder,
    ReSiren,
    from_state_dict,
    load_climplicit,
    month_features,
)
from geoembed_climplicit.weights import CITATION, CLIMPLICIT_CHELSA, HOMEPAGE, LICENSE, TRAINING_DATA

#: Model card fields, in the shape of ``geoembed.model_card.ModelCard``.
CARD: dict[str, Any] = {
    "family": "Climplicit",
    "embedding_dim": 1024,
    "input_convention": "(lon, lat) degrees scaled to [-1, 1], plus month as (sin, cos) of 2 pi month / 12; float32",
    "training_data": TRAINING_DATA,
    "license": LICENSE,
    "citation": CITATION,
    "weights": CLIMPLICIT_CHELSA,
    "hyperparameters": {"layers": 16, "hidden": 512, "w0_initial": 30.0, "h_siren": True, "residual": True,
                        "months": list(DEFAULT_MONTHS), "per_month_dim": 256},
    "description": "ReSIREN features of (location, month) that regress 11 CHELSA climate variables; 256-d per month, "
                   "1,024-d for March, June, September and December together (month=1..12 gives 256-d).",
    "homepage": HOMEPAGE,
    "training_sources": ("chelsa-v2.1",),
    "notes": "Architecture and state-dict layout verified against the reference code with random weights (reduced "
             "width); the released weights were not downloaded here, so their numbers are unverified.",
}


def climplicit(pretrained: bool = True, *, month: int | None = None, weights_path: str | Path | None = None,
               seed: int | None = None) -> ClimplicitLocationEncoder:
    """Factory registered as ``"climplicit"``.

    Args:
        pretrained: load the released weights (Hugging Face Hub ``Jobedo/climplicit``), or keep random weights.
        month: 1..12 for that month's 256-d embedding; None for the 1,024-d default (months 3, 6, 9, 12).
        weights_path: your own ``model.safetensors`` (or a folder holding one, e.g. a downloaded Hub snapshot).
        seed: seed of the random initialisation (``pretrained=False``).
    """
    if pretrained or weights_path is not None:
        return load_climplicit(CLIMPLICIT_CHELSA, month, weights_path)
    return ClimplicitLocationEncoder(month, seed=0 if seed is None else seed).eval()


try:  # geoembed >= the model-card release; older cores keep the plain dict
    from geoembed.model_card import ModelCard

    climplicit.card = ModelCard(**CARD)  # type: ignore[attr-defined]
except ImportError:
    climplicit.card_fields = CARD  # type: ignore[attr-defined]

__all__ = ["ClimplicitLocationEncoder", "ReSiren", "climplicit", "from_state_dict", "load_climplicit", "month_features",
           "CLIMPLICIT_CHELSA", "CARD"]
