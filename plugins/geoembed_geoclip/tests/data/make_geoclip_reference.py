"""Regenerate ``geoclip_reference.npz``: outputs of the reference GeoCLIP location encoder (the ``geoclip`` package).

This is the only place that imports ``geoclip`` (it pulls transformers and takes ~30 s); the test suite only reads
the saved vectors. Run it from the repository root after ``pip install geoclip==1.3.0``:

    python tests/data/make_geoclip_reference.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

SEED = 20261122
N_RANDOM = 1024


def reference_points() -> np.ndarray:
    """1,024 points uniform on the sphere plus edge cases: poles, antimeridian, equator, null island."""
    rng = np.random.default_rng(SEED)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N_RANDOM)))
    lon = rng.uniform(-180.0, 180.0, N_RANDOM)
    edges = np.array(
        [[90.0, 0.0], [-90.0, 0.0], [0.0, 180.0], [0.0, -180.0], [0.0, 0.0], [89.999, 179.999], [-89.999, -179.999],
         [48.8566, 2.3522], [-33.8688, 151.2093], [27.98, 86.92]]
    )
    return np.vstack([np.column_stack([lat, lon]), edges]).astype(np.float32)


def main() -> None:
    import geoclip  # noqa: PLC0415 - deliberately only here
    from importlib.metadata import version

    encoder = geoclip.LocationEncoder().eval()
    points = reference_points()
    with torch.no_grad():
        out = encoder(torch.from_numpy(points)).numpy().astype(np.float32)
    target = Path(__file__).with_name("geoclip_reference.npz")
    np.savez_compressed(target, latlon=points, embeddings=out, geoclip_version=version("geoclip"),
                        torch_version=torch.__version__, seed=SEED)
    print(f"wrote {target} ({len(points)} points), sha256 {hashlib.sha256(target.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
