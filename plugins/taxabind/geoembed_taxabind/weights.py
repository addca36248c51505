"""Weights record of the TaxaBind plugin: the location encoder ``MVRL/ecogeo`` on the Hugging Face Hub.

``MVRL/taxabind-config`` (the configuration TaxaBind's code loads) names ``MVRL/ecogeo`` as its location encoder:
GeoCLIP's architecture (config: sigma [1, 16, 256], encoded_size 256, dim 512) with TaxaBind's weights, one float32
``model.safetensors`` of 9.45M parameters (37.8 MB).
"""

from __future__ import annotations

from geoembed.weights import WeightsRecord

CITATION = (
    "Sastry, S., Khanal, S., Dhakal, A., Ahmad, A., Jacobs, N. TaxaBind: A Unified Embedding Space for Ecological "
    "Applications. WACV 2025. arXiv:2411.00683"
)
HUB_REPO = "MVRL/ecogeo"
HUB_FILE = "model.safetensors"
#: Only a short commit id (35b728a, "Upload config") of the Hub repository could be seen from here, and the Hub
#: resolves full commit hashes, so downloads follow the default branch. The publisher gives no sha256: the loaded
#: model's record carries the sha256 measured on the file (``sha256_published=False``). Pin a full hash once known.
HUB_REVISION = "main"

TAXABIND_RELEASE = WeightsRecord(
    name="taxabind.ecogeo",
    filename=HUB_FILE,
    sha256=None,
    source="https://huggingface.co/MVRL/ecogeo (named by MVRL/taxabind-config; code: https://github.com/mvrl/TaxaBind)",
    license="not stated by the publisher (the Hub model card and the TaxaBind repository name none)",
    citation=CITATION,
    hf_hub=(HUB_REPO, HUB_FILE),
    hf_revision=HUB_REVISION,
    description=(
        "TaxaBind location encoder: GeoCLIP's architecture (Equal Earth + RFF sigma 1, 16, 256 + MLPs, 512-d), "
        "trained on iNaturalist 2021 species observations from GeoCLIP's weights; float32."
    ),
)

#: Weights by tag, for create_location_encoder("taxabind", weights=TAG).
TAXABIND_WEIGHTS = {"ecogeo": TAXABIND_RELEASE}
