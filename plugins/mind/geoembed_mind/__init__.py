"""MIND location encoder plugin for geoembed (Matryoshka Implicit Neural Distillation, taylor-geospatial).

Registered through entry points in this distribution's ``pyproject.toml``, exactly as any third-party plugin:

- ``mind``: the released encoder, all 3072 channels (``dim=`` picks a nested prefix);
- ``mind-64``, ``mind-128``, ``mind-256``, ``mind-512``, ``mind-1024``, ``mind-2048``: the nested prefixes.

Every factory carries a model card (``factory.card``) when geoembed provides :mod:`geoembed.model_card`.
"""

from geoembed_mind.model import (
    NESTED_WIDTHS,
    MINDLocationEncoder,
    check_mind_state_dict,
    mind_64_location_encoder,
    mind_128_location_encoder,
    mind_256_location_encoder,
    mind_512_location_encoder,
    mind_1024_location_encoder,
    mind_2048_location_encoder,
    mind_location_encoder,
    nested_widths,
)
from geoembed_mind.weights import MIND_RELEASE

#: Model-card fields (the keyword arguments of geoembed.model_card.ModelCard) of the full-width encoder.
MIND_CARD_FIELDS = dict(
    family="MIND",
    embedding_dim=3072,
    input_convention="(lat, lon) degrees, Equal Earth projected and scaled inside the model (as GeoCLIP)",
    training_data=(
        "MINDSET: global points with embeddings of four teachers (AlphaEarth, Climplicit, GeoCLIP, SINR) to "
        "reconstruct at seven nested widths"
    ),
    license=MIND_RELEASE.license,
    citation=MIND_RELEASE.citation,
    weights=MIND_RELEASE,
    hyperparameters={"width": 3072, "depth": 12, "w0_first": 30.0, "nested_widths": NESTED_WIDTHS,
                     "weights_dtype": "float16", "compute_dtype": "float32"},
    description="Residual SIREN trunk over Equal Earth coordinates; its first 64-3072 channels are nested embeddings.",
    homepage="https://github.com/taylor-geospatial/mind",
    training_sources=("mindset",),  # the four teachers' data, see geoembed.provenance.CONTAINS
    notes=(
        "Architecture and state-dict layout verified against the reference code with random weights; the released "
        "weights were not reachable here, so no released numbers were checked. The Hub publishes no sha256."
    ),
)

_FACTORIES = {
    3072: mind_location_encoder,
    64: mind_64_location_encoder,
    128: mind_128_location_encoder,
    256: mind_256_location_encoder,
    512: mind_512_location_encoder,
    1024: mind_1024_location_encoder,
    2048: mind_2048_location_encoder,
}

try:  # geoembed versions without model cards still load the plugin
    from geoembed.model_card import ModelCard, with_card
except ImportError:  # pragma: no cover - depends on the installed geoembed
    ModelCard = None
else:
    for _dim, _factory in _FACTORIES.items():
        _fields = dict(MIND_CARD_FIELDS, embedding_dim=_dim)
        if _dim != 3072:
            _fields["description"] = f"MIND's first {_dim} channels: a nested (Matryoshka) embedding of the 3072-d trunk."
        with_card(ModelCard(**_fields))(_factory)

__all__ = [
    "MINDLocationEncoder",
    "NESTED_WIDTHS",
    "nested_widths",
    "check_mind_state_dict",
    "mind_location_encoder",
    "mind_64_location_encoder",
    "mind_128_location_encoder",
    "mind_256_location_encoder",
    "mind_512_location_encoder",
    "mind_1024_location_encoder",
    "mind_2048_location_encoder",
    "MIND_RELEASE",
    "MIND_CARD_FIELDS",
]
