"""Weights records of SatCLIP's six released checkpoints (Hugging Face Hub, ``microsoft/SatCLIP-*``).

Each file is a PyTorch Lightning checkpoint of the whole model (image tower + location encoder). Revisions are
pinned to the commit that added the file; sha256 values are the Git LFS object ids shown for those commits. For
``satclip-vit16-l40.ckpt`` no LFS id could be found, so its sha256 is ``None`` ("not published"): the first download
records the file's sha256 and later loads are checked against it. Its revision is the one torchgeo 0.10 pins.
"""

from __future__ import annotations

from geoembed.weights import WeightsRecord

CITATION = (
    "Klemmer, K., Rolf, E., Robinson, C., Mackey, L., Russwurm, M. SatCLIP: Global, General-Purpose Location "
    "Embeddings with Satellite Imagery. AAAI 2025 (arXiv:2311.17179)"
)
LICENSE = "MIT"
HOMEPAGE = "https://github.com/microsoft/satclip"
TRAINING_DATA = "S2-100K: 100,000 Sentinel-2 multispectral tiles sampled uniformly over the Earth's landmass"

# tower, L -> (hub revision: the commit that added the file, sha256 of the file or None when not published)
_RELEASES = {
    ("resnet18", 10): ("5b1d6063885cbcc7b784fdd721b467e56b22348a",
                       "c4af9559afb43d9c8be2781d4f70ce3f8a1087ea5a3773906c7c50ed05479ebd"),
    ("resnet18", 40): ("3af1b3bc10d8df9e42d87e1de0f00be728f88585",
                       "6e2ed15146566170829bae8dd506d8274cd6fe4534c0ef407668dc3ccb04d2f1"),
    ("resnet50", 10): ("716226a64b906c1906614630045b98c72aaaf732",
                       "87ad5e8ca152e9564896f48de033e8d4278665bce049d36b3794847a430e69b1"),
    ("resnet50", 40): ("4591bb4142418299dad615d3fe7c6f88e7943078",
                       "50df6453c20ce82b51ceba89811dcf1a21e7fa9d625cbc630f4cdcc4fc0de53a"),
    ("vit16", 10): ("a13816ad6e57e964e29782a84cd3b06b1f032af7",
                    "c7596a5f7aacf72a7c49587a2a5a80f23cf61000a36b46e471c1422b273ca9c0"),
    ("vit16", 40): ("0ef2acc0b91d3c8cfdf4a0cc03207095989287ab", None),
}
_TOWER_NAMES = {"resnet18": "ResNet18", "resnet50": "ResNet50", "vit16": "ViT16"}


def _record(tower: str, legendre_polys: int) -> WeightsRecord:
    revision, sha256 = _RELEASES[(tower, legendre_polys)]
    stem = f"satclip-{tower}-l{legendre_polys}"
    repo = f"microsoft/SatCLIP-{_TOWER_NAMES[tower]}-L{legendre_polys}"
    return WeightsRecord(
        name=f"{stem}.s2-100k",
        filename=f"{stem}.ckpt",
        sha256=sha256,
        source=f"https://huggingface.co/{repo} (revision {revision})",
        license=LICENSE,
        citation=CITATION,
        hf_hub=(repo, f"{stem}.ckpt"),
        hf_revision=revision,
        description=f"SatCLIP location encoder (spherical harmonics L={legendre_polys} + SIREN, 256-d) trained "
                    f"contrastively with a {_TOWER_NAMES[tower]} Sentinel-2 image tower on S2-100K.",
    )


#: Weights records by registered name, e.g. ``WEIGHTS["satclip-resnet18-l10"]``.
WEIGHTS = {f"satclip-{tower}-l{legendre}": _record(tower, legendre) for tower, legendre in _RELEASES}
