"""SatCLIP location encoders for geoembed (Klemmer et al., AAAI 2025; Microsoft, MIT licence).

Registered through the ``geoembed.location_encoders`` entry point group of this distribution, exactly as any
third-party plugin: ``satclip-resnet18-l10``, ``satclip-resnet18-l40``, ``satclip-resnet50-l10``,
``satclip-resnet50-l40``, ``satclip-vit16-l10``, ``satclip-vit16-l40`` (the location encoder trained with that image
tower and that number of Legendre polynomials; 256-d).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from geoembed_satclip.model import (
    SatCLIPLocationEncoder,
    describe_keys,
    load_satclip,
    location_state_dict,
    read_checkpoint,
)
from geoembed_satclip.spherical_harmonics import AnalyticSphericalHarmonics, exact_real_spherical_harmonics
from geoembed_satclip.weights import CITATION, HOMEPAGE, LICENSE, TRAINING_DATA, WEIGHTS

INPUT_CONVENTION = "(lon, lat) degrees, float64; phi = rad(lon + 180), theta = rad(lat + 90)"

#: Model card fields per registered name, in the shape of ``geoembed.model_card.ModelCard``.
CARDS: dict[str, dict[str, Any]] = {
    name: {
        "family": "SatCLIP",
        "embedding_dim": 256,
        "input_convention": INPUT_CONVENTION,
        "training_data": TRAINING_DATA + f" (image tower: {name.split('-')[1]})",
        "license": LICENSE,
        "citation": CITATION,
        "weights": record,
        "hyperparameters": {"legendre_polys": int(name.rsplit("-l", 1)[1]), "harmonics": "analytic",
                            "capacity": 512, "num_hidden_layers": 2, "w0_initial": 30.0, "w0": 1.0},
        "description": "SatCLIP's location encoder output (spherical harmonics + SIREN), the 256-d space shared "
                       "with its Sentinel-2 image tower.",
        "homepage": HOMEPAGE,
        "training_sources": ("s2-100k",),
        "notes": "Architecture and checkpoint layout verified against the original code with random weights; the "
                 "released weights were not downloaded here (no access to the Hub), so their numbers are unverified.",
    }
    for name, record in WEIGHTS.items()
}


def _attach_card(factory: Callable, name: str) -> Callable:
    try:  # geoembed >= the model-card release; older cores still get the plain dict
        from geoembed.model_card import ModelCard
    except ImportError:
        factory.card_fields = CARDS[name]  # type: ignore[attr-defined]
        return factory
    factory.card = ModelCard(**CARDS[name])  # type: ignore[attr-defined]
    return factory


def _factory(name: str) -> Callable[..., SatCLIPLocationEncoder]:
    legendre = int(name.rsplit("-l", 1)[1])
    record = WEIGHTS[name]

    def factory(pretrained: bool = True, *, weights_path: str | Path | None = None,
                seed: int | None = None) -> SatCLIPLocationEncoder:
        if pretrained or weights_path is not None:
            return load_satclip(name, record, legendre, weights_path)
        return SatCLIPLocationEncoder(legendre_polys=legendre, seed=0 if seed is None else seed).eval()

    factory.__name__ = factory.__qualname__ = name.replace("-", "_")
    factory.__doc__ = (
        f"Factory registered as {name!r}: SatCLIP's L={legendre} location encoder trained with the "
        f"{name.split('-')[1]} image tower (256-d). ``pretrained=False`` builds the same architecture with random "
        f"weights (``seed``); ``weights_path`` loads your own file (``.ckpt`` Lightning checkpoint, ``.pth`` or "
        f".safetensors state dict). Weights: {record.source}."
    )
    return _attach_card(factory, name)


satclip_resnet18_l10 = _factory("satclip-resnet18-l10")
satclip_resnet18_l40 = _factory("satclip-resnet18-l40")
satclip_resnet50_l10 = _factory("satclip-resnet50-l10")
satclip_resnet50_l40 = _factory("satclip-resnet50-l40")
satclip_vit16_l10 = _factory("satclip-vit16-l10")
satclip_vit16_l40 = _factory("satclip-vit16-l40")

__all__ = [
    "SatCLIPLocationEncoder",
    "AnalyticSphericalHarmonics",
    "exact_real_spherical_harmonics",
    "location_state_dict",
    "read_checkpoint",
    "describe_keys",
    "load_satclip",
    "WEIGHTS",
    "CARDS",
    "satclip_resnet18_l10",
    "satclip_resnet18_l40",
    "satclip_resnet50_l10",
    "satclip_resnet50_l40",
    "satclip_vit16_l10",
    "satclip_vit16_l40",
]
