"""Make ``torchspatial_reference.npz``: features of the 17 published TorchSpatial checkpoints, computed by the
REFERENCE implementation (github.com/seai-lab/TorchSpatial, folder ``main/``) on a fixed set of points.

Nothing of the reference is committed here; this script imports it from a snapshot you point it at:

    git clone https://github.com/seai-lab/TorchSpatial /tmp/TorchSpatial        # or any snapshot of it
    python plugins/torchspatial/tests/data/make_reference.py /tmp/TorchSpatial \
        --weights ../shared/weights/torchspatial --commit "$(git -C /tmp/TorchSpatial rev-parse HEAD)"

The reference model is built exactly as its trainer does (``utils.get_loc_model`` with the checkpoint's own
``params``), the checkpoint's ``state_dict`` is loaded, and the features are ``model(x, return_feats=True)`` where
``x`` holds ``(lon, lat)`` degrees as float32 (``utils.convert_loc_to_tensor_no_normalize``), in eval mode.

Points (stored as float32 ``[lat, lon]``, the values both implementations see): both poles, the antimeridian from
both sides, null island, points on the equator and the prime meridian, a few cities, points inside and outside the
continental-US ``map_range`` that some checkpoints use, and seeded uniform-on-the-sphere random points.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

N_RANDOM = 24


def reference_points() -> np.ndarray:
    """``(48, 2)`` float32 ``[lat, lon]`` degrees."""
    fixed = [
        [90.0, 0.0], [-90.0, 0.0], [90.0, 123.4], [-90.0, -77.7],          # poles (longitude is arbitrary there)
        [0.0, 180.0], [0.0, -180.0], [45.0, 180.0], [-45.0, -180.0],      # antimeridian from both sides
        [10.0, 179.9999], [10.0, -179.9999],
        [0.0, 0.0], [0.0, 90.0], [0.0, -90.0], [60.0, 0.0], [-60.0, 0.0],  # equator, prime meridian
        [48.8566, 2.3522], [-33.8688, 151.2093], [35.6762, 139.6503],     # Paris, Sydney, Tokyo
        [40.7128, -74.0060], [34.0522, -118.2437], [47.6062, -122.3321],  # New York, Los Angeles, Seattle
        [-1.2921, 36.8219], [64.1466, -21.9426], [-77.8419, 166.6863],    # Nairobi, Reykjavik, McMurdo
    ]
    rng = np.random.default_rng(20240613)
    lon = rng.uniform(-180.0, 180.0, N_RANDOM)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N_RANDOM)))  # uniform on the sphere
    points = np.concatenate([np.array(fixed), np.stack([lat, lon], axis=1)])
    return points.astype(np.float32)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path, help="a TorchSpatial checkout (holding main/) or its main/ folder")
    shared = Path(os.environ.get("GEOEMBED_SHARED_DIR", here.parents[3] / ".." / "shared"))
    parser.add_argument("--weights", type=Path, default=shared / "weights" / "torchspatial",
                        help="folder with the published checkpoints (default: $GEOEMBED_SHARED_DIR or <repo>/../shared, "
                             "then weights/torchspatial)")
    parser.add_argument("--commit", default="", help="the snapshot's commit, recorded in the output")
    parser.add_argument("--out", type=Path, default=here / "torchspatial_reference.npz")
    args = parser.parse_args(argv)

    main_dir = args.snapshot / "main" if (args.snapshot / "main" / "utils.py").is_file() else args.snapshot
    if not (main_dir / "utils.py").is_file() or not (main_dir / "SpatialRelationEncoder.py").is_file():
        parser.error(f"{args.snapshot} is not a TorchSpatial snapshot (no main/utils.py).")
    sys.path.insert(0, str(main_dir))
    cwd = os.getcwd()
    os.chdir(main_dir)  # the reference reads paths relative to main/ at import time
    try:
        import utils as reference  # noqa: E402  (the reference's own module)
    finally:
        os.chdir(cwd)

    sys.path.insert(0, str(here.parents[1]))  # the plugin, only for the list of published files
    from geoembed_torchspatial.checkpoints import PUBLISHED

    points = reference_points()
    lonlat = points[:, ::-1].copy()  # the reference takes (lon, lat)
    out: dict[str, np.ndarray] = {"latlon": points}
    names, shas = [], []
    torch.manual_seed(0)
    np.random.seed(0)
    for published in sorted(PUBLISHED, key=lambda p: p.encoder_name):
        path = args.weights / published.filename
        if sha256(path) != published.sha256:
            raise SystemExit(f"{path} does not have the published sha256 {published.sha256}.")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        params = dict(checkpoint["params"])
        model = reference.get_loc_model(
            train_locs=None,
            params=params,
            spa_enc_type=params["spa_enc_type"],
            num_inputs=params["num_loc_feats"],
            num_classes=params["num_classes"],
            num_filts=params["num_filts"],
            num_users=params["num_users"],
            device="cpu",
        )
        model.load_state_dict(checkpoint["state_dict"])
        model.eval()
        with torch.no_grad():
            x = reference.convert_loc_to_tensor_no_normalize(lonlat, device="cpu")
            features = model(x, return_feats=True).numpy().astype(np.float32)
        assert features.shape == (len(points), params["num_filts"]), features.shape
        out[published.encoder_name] = features
        names.append(published.encoder_name)
        shas.append(published.sha256)
        print(f"{published.encoder_name:40s} {features.shape}  max|f| {np.abs(features).max():.4g}")
    out["names"] = np.array(names)
    out["sha256"] = np.array(shas)
    out["reference_commit"] = np.array(args.commit)
    out["torch_version"] = np.array(torch.__version__)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".npz")
    os.close(fd)
    np.savez_compressed(tmp, **out)
    os.replace(tmp, args.out)  # atomic
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
