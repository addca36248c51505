"""Generate SatCLIP reference data with the ORIGINAL implementation (random weights, real checkpoint layout).

Not imported by geoembed or its tests. Run it in a throwaway environment that has the references:

    python -m venv --system-site-packages /tmp/refvenv-satclip
    /tmp/refvenv-satclip/bin/pip install --no-deps rangegeo==0.1.0 einops
    pip download --no-deps --python-version 3.12 --only-binary=:all: torchgeo==0.10.1 -d /tmp/dl_tg
    (cd /tmp/tgsrc && unzip -oq /tmp/dl_tg/torchgeo-0.10.1-py3-none-any.whl)   # torchgeo 0.10 needs Python >= 3.12
    /tmp/refvenv-satclip/bin/python plugins/satclip/tests/data/make_reference.py --torchgeo /tmp/tgsrc

``rangegeo`` 0.1.0 ships SatCLIP's original location encoder (``satclip/location_encoder.py`` and the sympy-generated
``spherical_harmonics_ylm.py`` of github.com/microsoft/satclip) and its checkpoint loader. torchgeo 0.10's
``torchgeo/models/satclip.py`` (a re-implementation with recursive Legendre functions) is loaded from its file, without
importing the rest of torchgeo, to document how it differs.

Writes, next to this script:

- ``satclip_l10_reference.ckpt``: a Lightning-layout checkpoint (``state_dict`` with ``model.location.nnet.*`` and
  ``model.nnet.*`` sharing tensors, ``model.logit_scale``; ``hyper_parameters`` as the released files) holding the
  original's random float64 weights in the REAL shapes of the released L=10 encoders (100 -> 512 -> 512 -> 256);
- ``satclip_l40_small_reference.ckpt``: the same layout for L=40 with a reduced hidden width (1600 -> 32 -> 32 -> 256)
  to keep the file small; the real width would be 4.3 MB of float64 for the first layer alone;
- ``satclip_reference.npz``: the 64 test points (``lonlat``, float64 values that float32 represents exactly) and the
  original's outputs on them (``out_l10``, ``out_l40``, ``pe_l40`` the L=40 positional encoding), torchgeo 0.10's
  outputs with the same weights (``torchgeo_out_l10``, ``torchgeo_out_l40``), and the scipy-exact harmonics error of
  the original (``pe_l40_exact``).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SEED = 20231129


def test_points() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    special = [(0, 0), (0, 90), (0, -90), (180, 0), (-180, 0), (180, 45), (-180, -45), (179.99, 89.99),
               (-179.99, -89.99), (0, 89.95), (0, -89.95), (2.3522, 48.8566), (151.2093, -33.8688),
               (-21.9426, 64.1466), (166.6863, -77.8419), (103.8198, 1.3521)]
    rest = np.column_stack([rng.uniform(-180, 180, 64 - len(special)), rng.uniform(-90, 90, 64 - len(special))])
    points = np.vstack([np.array(special, dtype=np.float64), rest])
    return points.astype(np.float32).astype(np.float64)  # geoembed feeds float32 coordinates


def original_encoder(legendre: int, capacity: int):
    from rangegeo.satclip.location_encoder import LocationEncoder, get_neural_network, get_positional_encoding

    posenc = get_positional_encoding("sphericalharmonics", legendre_polys=legendre, harmonics_calculation="analytic")
    nnet = get_neural_network("siren", input_dim=posenc.embedding_dim, num_classes=256, dim_hidden=capacity,
                              num_layers=2)
    return LocationEncoder(posenc.double(), nnet.double()).double().eval()


def lightning_checkpoint(model, legendre: int, capacity: int) -> dict:
    location = {f"model.location.{k}": v for k, v in model.state_dict().items()}
    shared = {f"model.{k}": v for k, v in model.state_dict().items()}  # SatCLIP keeps nnet twice (same tensors)
    state = {**shared, **location, "model.logit_scale": torch.tensor(np.log(1 / 0.07), dtype=torch.float32)}
    hyper = {"embed_dim": 256, "image_resolution": 256, "vision_layers": "moco_resnet18", "vision_width": 768,
             "vision_patch_size": 32, "in_channels": 13, "le_type": "sphericalharmonics", "pe_type": "siren",
             "frequency_num": 16, "max_radius": 260, "min_radius": 1, "legendre_polys": legendre,
             "harmonics_calculation": "analytic", "sh_embedding_dims": 32, "learning_rate": 1e-4,
             "weight_decay": 0.01, "num_hidden_layers": 2, "capacity": capacity}
    return {"epoch": 0, "global_step": 0, "pytorch-lightning_version": "2.0.0", "state_dict": state,
            "hyper_parameters": hyper}


def torchgeo_module(root: Path):
    spec = importlib.util.spec_from_file_location("torchgeo_satclip", root / "torchgeo" / "models" / "satclip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torchgeo", type=Path, required=True, help="folder holding an unpacked torchgeo 0.10 wheel")
    args = parser.parse_args()
    from rangegeo.satclip.load import load_satclip_location_encoder

    tg = torchgeo_module(args.torchgeo)
    lonlat = torch.from_numpy(test_points())
    arrays = {"lonlat": lonlat.numpy()}
    for legendre, capacity, tag, filename in ((10, 512, "l10", "satclip_l10_reference.ckpt"),
                                              (40, 32, "l40", "satclip_l40_small_reference.ckpt")):
        torch.manual_seed(SEED + legendre)
        model = original_encoder(legendre, capacity)
        checkpoint = lightning_checkpoint(model, legendre, capacity)
        torch.save(checkpoint, HERE / filename)
        # the original loader reads the file: proof that the layout is the one it expects
        reloaded = load_satclip_location_encoder(str(HERE / filename))
        with torch.no_grad():
            out = model(lonlat)
            assert torch.equal(out, reloaded(lonlat)), "the original loader reads different weights"
            arrays[f"out_{tag}"] = out.numpy()
            if legendre == 40:
                arrays["pe_l40"] = model.posenc(lonlat).numpy()
            ref_tg = tg.SatCLIP(legendre_polys=legendre, capacity=capacity, embed_dim=256, num_hidden_layers=2).double()
            state = {k[len("model.location."):]: v for k, v in checkpoint["state_dict"].items()
                     if k.startswith("model.location.nnet.")}
            ref_tg.load_state_dict(state, strict=True)
            arrays[f"torchgeo_out_{tag}"] = ref_tg.eval()(lonlat).numpy()
        diff = np.abs(arrays[f"out_{tag}"] - arrays[f"torchgeo_out_{tag}"])
        polar = np.abs(lonlat[:, 1].numpy()) > 89.95
        print(f"L={legendre}: original vs torchgeo 0.10, max |diff| {diff[~polar].max():.3g} off the poles, "
              f"{diff[polar].max() if polar.any() else 0:.3g} at |lat| > 89.95 (torchgeo clamps latitude)")
    np.savez_compressed(HERE / "satclip_reference.npz", **arrays)
    for name in ("satclip_l10_reference.ckpt", "satclip_l40_small_reference.ckpt", "satclip_reference.npz"):
        print(f"wrote {name}: {(HERE / name).stat().st_size:,} bytes")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
