"""The 17 published TorchSpatial checkpoints for fMoW and YFCC: weights records, safe loading, family checks.

Each record names the file's public raw address in github.com/seai-lab/TorchSpatial (``pre_trained_models/``) and its
sha256, computed from the files themselves (identical, byte for byte, to the blobs of that repository's ``main``
branch). The two ``rbf`` checkpoints of those datasets are left out: they store their anchor points as indices into
the training set (``params['rbf_anchor_pt_ids']`` as NumPy objects), not as coordinates, so the encoder cannot be
rebuilt from the file, and the safe loader cannot read them anyway.

Files are read with ``torch.load(weights_only=True, map_location="cpu")`` only: no pickled code ever runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

import torch

from geoembed.errors import WeightsError
from geoembed.weights import WeightsRecord

from geoembed_torchspatial.encoders import SPA_ENC_TYPES, TYPES, TorchSpatialConfig

REPOSITORY = "https://github.com/seai-lab/TorchSpatial"
RAW = "https://github.com/seai-lab/TorchSpatial/raw/main/"
LICENSE = "MIT"
TORCHSPATIAL_CITATION = (
    "Wu, N., Cao, Q., Wang, Z., Liu, Z., Qi, Y., Zhang, J., Ni, J., Yao, X. A., Ma, H., Mu, L., Ermon, S., Ganu, T., "
    "Nambi, A., Lao, N., Mai, G. TorchSpatial: A Location Encoding Framework and Benchmark for Spatial Representation "
    "Learning. NeurIPS 2024 Datasets and Benchmarks Track. https://openreview.net/forum?id=DERtzUdhkk"
)
#: The original method of each encoder type.
METHOD_CITATIONS = {
    "Sphere2Vec-sphereC": "Mai, G., Xuan, Y., Zuo, W., He, Y., Song, J., Ermon, S., Janowicz, K., Lao, N. Sphere2Vec: "
                          "A General-Purpose Location Representation Learning over a Spherical Surface for Large-Scale "
                          "Geospatial Predictions. ISPRS J. Photogramm. Remote Sens. 202, 439-462 (2023)",
    "Space2Vec-grid": "Mai, G., Janowicz, K., Yan, B., Zhu, R., Cai, L., Lao, N. Multi-Scale Representation Learning "
                      "for Spatial Feature Distributions using Grid Cells. ICLR 2020",
    "NeRF": "Mildenhall, B., Srinivasan, P. P., Tancik, M., Barron, J. T., Ramamoorthi, R., Ng, R. NeRF: Representing "
            "Scenes as Neural Radiance Fields for View Synthesis. ECCV 2020",
    "rff": "Rahimi, A., Recht, B. Random Features for Large-Scale Kernel Machines. NeurIPS 2007",
    "tile_ffn": "Tang, K., Paluri, M., Fei-Fei, L., Fergus, R., Bourdev, L. Improving Image Classification with "
                "Location Context. ICCV 2015",
    "wrap_ffn": "Mac Aodha, O., Cole, E., Perona, P. Presence-Only Geographical Priors for Fine-Grained Image "
                "Classification. ICCV 2019",
}
for _name in ("Sphere2Vec-sphereC+", "Sphere2Vec-sphereM", "xyz"):  # xyz: a baseline of the Sphere2Vec paper
    METHOD_CITATIONS[_name] = METHOD_CITATIONS["Sphere2Vec-sphereC"]
METHOD_CITATIONS["Space2Vec-theory"] = METHOD_CITATIONS["Space2Vec-grid"]

DATASETS = {
    "fmow": "fMoW (Functional Map of the World; Christie et al., CVPR 2018): satellite images worldwide, 62 classes; "
            "the location encoder and a linear class head are trained on image locations with TorchSpatial's "
            "presence-only loss (full_loss)",
    "yfcc": "YFCC100M-GEO100 (geotagged Flickr photos, 100 classes; Tang et al., ICCV 2015, from YFCC100M): the "
            "location encoder and a linear class head are trained on photo locations with TorchSpatial's "
            "presence-only loss (full_loss)",
}


@dataclass(frozen=True)
class _Published:
    dataset: str  # "fmow" or "yfcc"
    folder: str  # folder under pre_trained_models/
    filename: str
    sha256: str
    config: TorchSpatialConfig
    training: Mapping[str, Any]

    @property
    def encoder_name(self) -> str:
        return f"torchspatial-{self.config.type_slug}.{self.dataset}"

    @property
    def record(self) -> WeightsRecord:
        path = f"pre_trained_models/{self.folder}/{self.filename}"
        return WeightsRecord(
            name=self.encoder_name,
            filename=self.filename,
            sha256=self.sha256,
            source=f"{REPOSITORY} ({path})",
            license=LICENSE,
            citation=f"{TORCHSPATIAL_CITATION}; {METHOD_CITATIONS[self.config.spa_enc_type]}",
            url=RAW + quote(path),
            description=f"TorchSpatial {self.config.spa_enc_type} location encoder trained on {self.dataset}.",
        )


PUBLISHED: tuple[_Published, ...] = (
    _Published("fmow", "nerf", "model_fmow_NeRF_inception_v3_0.0100_64_0.0500000_1_256.pth.tar",
               "eba782d3a4bce1c39f66996e9d265ee61e1070a9b15bd4a27a539363bba4293c",
               TorchSpatialConfig("NeRF", 64, 0.05, 1.0, (-180, 180, -90, 90), 1, 256, 256, "relu", True, True, 1.0),
               {"lr": 0.01, "batch_size": 1024, "epoch": 31, "num_classes": 62}),
    _Published("fmow", "space2vec_theory", "model_fmow_Space2Vec-theory_inception_v3_0.0200_64_0.0001000_360.000_1_512_BATCH8192_leakyrelu.pth.tar",
               "26e3428edddfb7392ff2487bcc40ca6e7eafcc9d77992d5d0a7d194fcb359156",
               TorchSpatialConfig("Space2Vec-theory", 64, 0.0001, 360.0, (-162, -59, 20, 56), 1, 512, 256, "leakyrelu", True, True, 1.0),
               {"lr": 0.02, "batch_size": 8192, "epoch": 122, "num_classes": 62}),
    _Published("fmow", "sphere2vec_sphereCplus", "model_fmow_Sphere2Vec-sphereC+_inception_v3_0.0050_64_0.0001000_1_512.pth.tar",
               "2aa874bf24ba1865a039ee4165cb805f453d9dae24d3e4284648dd0bfe06e616",
               TorchSpatialConfig("Sphere2Vec-sphereC+", 64, 0.0001, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.005, "batch_size": 1024, "epoch": 102, "num_classes": 62}),
    _Published("fmow", "sphere2vec_sphereC", "model_fmow_Sphere2Vec-sphereC_inception_v3_0.0050_64_0.0005000_1_512.pth.tar",
               "2096ab72c04dd359d4097f7204b592f06fb5d7f568f175c86eae6150de890fef",
               TorchSpatialConfig("Sphere2Vec-sphereC", 64, 0.0005, 1.0, (-180, 180, -90, 90), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.005, "batch_size": 1024, "epoch": 101, "num_classes": 62}),
    _Published("fmow", "sphere2vec_sphereM", "model_fmow_Sphere2Vec-sphereM_inception_v3_0.0050_64_0.0001000_1_512.pth.tar",
               "4ed216c86f8d06ae43e429bc83355783529327e133843e6d1ddda91c170610b8",
               TorchSpatialConfig("Sphere2Vec-sphereM", 64, 0.0001, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.005, "batch_size": 1024, "epoch": 102, "num_classes": 62}),
    _Published("fmow", "rff", "model_fmow_rff_inception_v3_0.0050_64_0.0000010_1_512_2.0.pth.tar",
               "5c796e73fff9067757b07e51a57f0d74d74f9dba5e625b82c73475e7217dd956",
               TorchSpatialConfig("rff", 64, 1e-06, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 2.0),
               {"lr": 0.005, "batch_size": 1024, "epoch": 102, "num_classes": 62}),
    _Published("fmow", "tile", "model_fmow_tile_ffn_inception_v3_0.00182000_32_0.0000026_1_512_leakyrelu.pth.tar",
               "84ec3bba229cb137581a57bf2447ed60e6f8187fe673cf0903279d63a5401c4e",
               TorchSpatialConfig("tile_ffn", 32, 2.57e-06, 1.0, (-162, -59, 20, 56), 1, 512, 256, "leakyrelu", True, True, 1.0),
               {"lr": 0.00182, "batch_size": 1024, "epoch": 1, "num_classes": 62}),
    _Published("fmow", "wrap_ffn", "model_fmow_wrap_ffn_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
               "60aff41bb53448a1757999607edeeeec861596dfe75ca673dbff4ceacc047d47",
               TorchSpatialConfig("wrap_ffn", 64, 0.0005, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.002, "batch_size": 1024, "epoch": 32, "num_classes": 62}),
    _Published("fmow", "xyz", "model_fmow_xyz_inception_v3_0.0050_64_0.0005000_1_512.pth.tar",
               "cfaa24a45ad7f6564fc6079554ed10d358b21a1273197e87425a7ea278c6ad4f",
               TorchSpatialConfig("xyz", 64, 0.0005, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.005, "batch_size": 1024, "epoch": 102, "num_classes": 62}),
    _Published("yfcc", "nerf", "model_yfcc_NeRF_inception_v3_0.0100_64_0.0001000_1_256.pth.tar",
               "26c560c22bb18d792506fe76ffb913e497d6c5a2f14c1a71247ff8c4a93bb3d9",
               TorchSpatialConfig("NeRF", 64, 0.0001, 1.0, (-180, 180, -90, 90), 1, 256, 256, "relu", True, True, 1.0),
               {"lr": 0.01, "batch_size": 1024, "epoch": 31, "num_classes": 100}),
    _Published("yfcc", "space2vec_grid", "model_yfcc_Space2Vec-grid_inception_v3_0.0100_64_0.0050000_360.000_1_512_BATCH4096_leakyrelu.pth.tar",
               "89d5cdb312dd644b9d226aea94b5c5394b4a1ca56ffd3385fb89059e9e69293f",
               TorchSpatialConfig("Space2Vec-grid", 64, 0.005, 360.0, (-162, -59, 20, 56), 1, 512, 256, "leakyrelu", True, True, 1.0),
               {"lr": 0.01, "batch_size": 4096, "epoch": 32, "num_classes": 100}),
    _Published("yfcc", "space2vec_theory", "model_yfcc_Space2Vec-theory_inception_v3_0.0100_64_0.0500000_360.000_1_256_BATCH4096_leakyrelu.pth.tar",
               "16cdc90bd2e700e1e2c25cb78bdadab1e2b61885e775377c95e0699ecb1fe70d",
               TorchSpatialConfig("Space2Vec-theory", 64, 0.05, 360.0, (-162, -59, 20, 56), 1, 256, 256, "leakyrelu", True, True, 1.0),
               {"lr": 0.01, "batch_size": 4096, "epoch": 32, "num_classes": 100}),
    _Published("yfcc", "sphere2vec_sphereC", "model_yfcc_Sphere2Vec-sphereC_inception_v3_0.0005_64_0.0001000_1_512.pth.tar",
               "f91548c543771ce68a23b150c3e2fd85ab78d205d99d29995b83eaeb15e5b7bd",
               TorchSpatialConfig("Sphere2Vec-sphereC", 64, 0.0001, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.0005, "batch_size": 1024, "epoch": 102, "num_classes": 100}),
    _Published("yfcc", "sphere2vec_sphereM", "model_yfcc_Sphere2Vec-sphereM_inception_v3_0.0010_64_0.0005000_1_512.pth.tar",
               "99b3adb64174b04891b54f5e52f7cd4890f296b5fb6a5e51ade3b88432fe217c",
               TorchSpatialConfig("Sphere2Vec-sphereM", 64, 0.0005, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.001, "batch_size": 1024, "epoch": 102, "num_classes": 100}),
    _Published("yfcc", "rff", "model_yfcc_rff_inception_v3_0.0010_64_0.0000010_1_512_1.0.pth.tar",
               "ed5c13a14f2e902086a10d7681863718927ed5f1e45f6f657c59bde306adf1a3",
               TorchSpatialConfig("rff", 64, 1e-06, 1.0, (-180, 180, -90, 90), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.001, "batch_size": 1024, "epoch": 101, "num_classes": 100}),
    _Published("yfcc", "wrap_ffn", "model_yfcc_wrap_ffn_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
               "db6210c093701ca290a7394da8a30623135b545119a027105e8ada766915feaa",
               TorchSpatialConfig("wrap_ffn", 64, 0.0005, 1.0, (-162, -59, 20, 56), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.002, "batch_size": 1024, "epoch": 32, "num_classes": 100}),
    _Published("yfcc", "xyz", "model_yfcc_xyz_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
               "23de9ff887a4c78a869b094699612731c9f02f985061d0cf97bd0d6f8177de78",
               TorchSpatialConfig("xyz", 64, 0.0005, 1.0, (-180, 180, -90, 90), 1, 512, 256, "relu", True, True, 1.0),
               {"lr": 0.002, "batch_size": 1024, "epoch": 101, "num_classes": 100}),
)

#: Published checkpoints by registered encoder name, e.g. ``"torchspatial-nerf.yfcc"``.
CHECKPOINTS: dict[str, _Published] = {p.encoder_name: p for p in PUBLISHED}
#: Weights records by encoder name.
RECORDS: dict[str, WeightsRecord] = {name: p.record for name, p in CHECKPOINTS.items()}
_BY_SHA = {p.sha256: p for p in PUBLISHED}


@dataclass(frozen=True)
class Checkpoint:
    """What a TorchSpatial checkpoint holds, safely read: its architecture and the location encoder's tensors."""

    config: TorchSpatialConfig
    state_dict: dict[str, torch.Tensor]  # keys without the reference's "spa_enc." prefix
    dataset: str | None
    path: Path


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a TorchSpatial checkpoint with the safe loader and check that it is one; refuse anything else.

    Raises :class:`~geoembed.errors.WeightsError` naming what the file is when it is not a TorchSpatial location
    encoder checkpoint (a GeoCLIP state dict, an ``rbf`` checkpoint, a corrupt file...).
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"Cannot read {path} with the safe loader (torch.load(weights_only=True)): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc).strip() else 'the file is empty or truncated.'} Only checkpoints "
            f"made of tensors and plain values load; "
            f"TorchSpatial's rbf checkpoints (anchor points stored as NumPy objects) and corrupt files are refused."
        ) from None
    what = describe(obj)
    if not (isinstance(obj, Mapping) and isinstance(obj.get("params"), Mapping)
            and isinstance(obj.get("state_dict"), Mapping)):
        raise WeightsError(f"{path} is not a TorchSpatial checkpoint: it holds {what}.")
    params = obj["params"]
    if params.get("spa_enc_type") not in SPA_ENC_TYPES:
        raise WeightsError(
            f"{path} is {what}; geoembed's TorchSpatial plugin supports {sorted(SPA_ENC_TYPES)} "
            f"(rbf is left out: its anchor points are indices into a training set that the file does not hold)."
        )
    try:
        config = TorchSpatialConfig.from_params(params)
    except (ValueError, TypeError) as exc:
        raise WeightsError(f"{path} ({what}) has parameters this plugin cannot rebuild: {exc}") from None
    prefix = "spa_enc."
    state = {}
    for key, value in obj["state_dict"].items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{path}: state_dict entry {key!r} is a {type(value).__name__}, not a tensor.")
        if isinstance(key, str) and key.startswith(prefix):
            state[key[len(prefix):]] = value
    dataset = params.get("dataset") if isinstance(params.get("dataset"), str) else None
    return Checkpoint(config, state, dataset, path)


def describe(obj: Any) -> str:
    """A short description of what a safely loaded file holds, for error messages."""
    if isinstance(obj, Mapping):
        params = obj.get("params")
        if isinstance(params, Mapping) and "spa_enc_type" in params:
            return (f"a TorchSpatial {params.get('spa_enc_type')} checkpoint trained on {params.get('dataset')!r}")
        keys = [str(k) for k in list(obj.keys())[:4]]
        if any(k.startswith("LocEnc0.") for k in map(str, obj.keys())):
            return "a GeoCLIP location encoder state dict (keys LocEnc0.*); use create_location_encoder('geoclip')"
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return f"a plain state dict of {len(obj)} tensors (keys {keys}...), not a TorchSpatial checkpoint"
        return f"a dict with keys {keys}"
    if isinstance(obj, torch.Tensor):
        return f"a single tensor of shape {tuple(obj.shape)}"
    return f"a {type(obj).__name__}"


def published_for_sha(sha256: str) -> _Published | None:
    """The published checkpoint with this sha256, if any."""
    return _BY_SHA.get(sha256)


def check_family(checkpoint: Checkpoint, expected_type: str, encoder_name: str) -> None:
    """Refuse a checkpoint of another encoder type than ``expected_type``, naming what it is and what to use."""
    found = checkpoint.config.spa_enc_type
    if found != expected_type:
        hint = ""
        if checkpoint.dataset in ("fmow", "yfcc"):
            candidate = f"torchspatial-{SPA_ENC_TYPES[found]}.{checkpoint.dataset}"
            if candidate in CHECKPOINTS:
                hint = f" Use create_location_encoder({candidate!r}, weights_path=...) for it."
        raise WeightsError(
            f"{checkpoint.path} is a TorchSpatial {found} checkpoint (trained on {checkpoint.dataset!r}), but "
            f"{encoder_name!r} is a {expected_type} encoder.{hint}"
        )


def type_of(name: str) -> str:
    """The reference ``spa_enc_type`` of a registered name such as ``torchspatial-sphere2vec-spherec.yfcc``."""
    slug = name.removeprefix("torchspatial-").rsplit(".", 1)[0]
    return TYPES[slug]

