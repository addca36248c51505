"""Weights record of the MIND plugin: the released ``mind.safetensors`` on the Hugging Face Hub."""

from __future__ import annotations

from geoembed.weights import WeightsRecord

CITATION = (
    "Corley, I., Rao, A., Rolf, E., Klemmer, K., Shelhamer, E., Lehmann, N., Russwurm, M., Mai, G., Jacobs, N., "
    "Kerner, H. Matryoshka Implicit Neural Distillation (MIND). arXiv:2609.25454"
)
HUB_REPO = "taylor-geospatial/MIND"
HUB_FILE = "mind.safetensors"
#: No commit hash or tag of the Hub repository could be looked up from here, so downloads follow the default branch.
#: The publisher gives no sha256 either: the file is not verifiable, and the loaded model's record carries the sha256
#: measured on the file (``model.weights.sha256``, with ``sha256_published=False``). Pin a commit here once known.
HUB_REVISION = "main"

#: MIND's released encoder: a 3072-wide, 12-block residual SIREN, float16 safetensors (about 226 MB).
MIND_RELEASE = WeightsRecord(
    name="mind.release",
    filename=HUB_FILE,
    sha256=None,
    source="https://huggingface.co/taylor-geospatial/MIND (code: https://github.com/taylor-geospatial/mind)",
    license="MIT",
    citation=CITATION,
    hf_hub=(HUB_REPO, HUB_FILE),
    hf_revision=HUB_REVISION,
    description=(
        "MIND location encoder (Equal Earth + residual SIREN, width 3072, 12 blocks; nested prefixes 64-3072), "
        "distilled from AlphaEarth, Climplicit, GeoCLIP and SINR; float16 weights."
    ),
)

#: Weights by tag, for create_location_encoder("mind", weights=TAG).
MIND_WEIGHTS = {"release": MIND_RELEASE}
