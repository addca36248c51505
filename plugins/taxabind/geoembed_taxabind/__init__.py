"""TaxaBind location encoder plugin for geoembed (Sastry et al., WACV 2025).

Registered through this distribution's entry points as ``taxabind``. The architecture is GeoCLIP's: the module is
the GeoCLIP plugin's (``geoembed_geoclip``, shipped with geoembed), loaded with TaxaBind's weights (``MVRL/ecogeo``).
The factory carries a model card (``factory.card``) when geoembed provides :mod:`geoembed.model_card`.
"""

from geoembed_taxabind.model import TaxaBindLocationEncoder, taxabind_location_encoder, taxabind_state_dict
from geoembed_taxabind.weights import TAXABIND_RELEASE

#: Model-card fields (the keyword arguments of geoembed.model_card.ModelCard).
TAXABIND_CARD_FIELDS = dict(
    family="TaxaBind",
    embedding_dim=512,
    input_convention="(lat, lon) degrees, Equal Earth projected and scaled inside the model (GeoCLIP's encoder)",
    training_data=(
        "iNaturalist 2021 species observations (image-location pairs), contrastive against TaxaBind's image "
        "embedding; initialised from GeoCLIP's MP-16 weights"
    ),
    license=TAXABIND_RELEASE.license,
    citation=TAXABIND_RELEASE.citation,
    weights=TAXABIND_RELEASE,
    hyperparameters={"sigmas": (1, 16, 256), "rff_features": 256, "hidden": 1024, "precision": "float32"},
    description="TaxaBind's location tower: GeoCLIP's architecture with TaxaBind's weights (outputs not normalised).",
    homepage="https://github.com/mvrl/TaxaBind",
    training_sources=("inaturalist-2021", "mp16"),  # initialised from GeoCLIP's MP-16 weights
    notes=(
        "Architecture and state-dict layout verified against the reference (rshf's GeoCLIP LocationEncoder) with "
        "random weights; the released weights were not reachable here. The Hub publishes no sha256."
    ),
)

try:  # geoembed versions without model cards still load the plugin
    from geoembed.model_card import ModelCard, with_card
except ImportError:  # pragma: no cover - depends on the installed geoembed
    ModelCard = None
else:
    with_card(ModelCard(**TAXABIND_CARD_FIELDS))(taxabind_location_encoder)

__all__ = [
    "TaxaBindLocationEncoder",
    "taxabind_location_encoder",
    "taxabind_state_dict",
    "TAXABIND_RELEASE",
    "TAXABIND_CARD_FIELDS",
]
