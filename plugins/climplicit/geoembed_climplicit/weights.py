"""Weights record of Climplicit (Dollinger et al., ICLR 2025 workshop; Hugging Face Hub ``Jobedo/climplicit``).

The release is a ``PyTorchModelHubMixin`` upload: ``config.json`` + ``model.safetensors`` (float32, 16.3 MB). No
full commit hash of that repository and no sha256 of the file could be found from this machine, so the revision is
the branch ``main`` (last seen at commit 22e7eb7, short hash only) and the sha256 is ``None`` ("not published"):
the first download records the file's sha256 next to it and warns; later loads are checked against it.
"""

from __future__ import annotations

from geoembed.weights import WeightsRecord

CITATION = (
    "Dollinger, J., Robert, D., Plekhanova, E., Drees, L., Wegner, J. D. Climplicit: Climatic Implicit Embeddings "
    "for Global Ecological Tasks. ICLR 2025 Workshops (arXiv:2504.05089)"
)
#: The code repository's licence; the Hub repository states none for the weights (treat them as the code's terms).
LICENSE = "MIT (code repository github.com/ecovision-uzh/climplicit; the Hub release states no licence)"
HOMEPAGE = "https://github.com/ecovision-uzh/climplicit"
TRAINING_DATA = ("CHELSA V2.1 monthly climatologies 1981-2010 (11 variables: cmi, clt, hurs, pet, pr, rsds, sfcWind, "
                 "tas, tasmax, tasmin, vpd) at 30 arc-seconds over land, regressed from (lon, lat, month)")

CLIMPLICIT_CHELSA = WeightsRecord(
    name="climplicit.chelsa",
    filename="model.safetensors",
    sha256=None,
    source="https://huggingface.co/Jobedo/climplicit (branch main; last seen at commit 22e7eb7)",
    license=LICENSE,
    citation=CITATION,
    hf_hub=("Jobedo/climplicit", "model.safetensors"),
    hf_revision="main",
    description="Climplicit ReSIREN location encoder (16 residual sine layers of 512, H-SIREN first layer, 256-d "
                "per month) with its CHELSA regression head, trained on CHELSA climatologies.",
)
