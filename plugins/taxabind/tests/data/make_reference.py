"""Generate TaxaBind reference vectors with the reference implementation (random weights, the released layout).

Usage (the reference is never imported by geoembed or its tests; only this script runs it)::

    python plugins/taxabind/tests/data/make_reference.py /path/to/rshf-snapshot

where the snapshot folder holds ``rshf/geoclip/model.py`` from github.com/mvrl/rshf (the committed vectors were made
from commit 87fb301dd2a3a855f4aa5008a0ac734289a8b1ff, the revision MIND's CoordBench code pins for TaxaBind). TaxaBind
loads its location encoder as ``rshf.geoclip.GeoCLIP.from_pretrained("MVRL/ecogeo")``: this script builds that class
with MVRL/ecogeo's config (sigma [1, 16, 256], input_size 2, encoded_size 256, dim 512) and loads a random state dict
in the published layout into it, strictly.

The released file is 37.8 MB, too large to commit, so the random state dict is not committed: :func:`random_state`
rebuilds it, bit for bit, from NumPy's legacy ``RandomState`` stream (stable across NumPy versions by NumPy's
compatibility policy), and the committed ``taxabind_reference.npz`` records its digest, which the test checks before
comparing. The npz holds 64 fixed points (poles, antimeridian, equator, random) as ``latlon`` (``[lat, lon]``
degrees, the reference's order) and the reference's outputs for them (``features``, 512-d).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIGMAS = (1.0, 16.0, 256.0)
SEED = 2025


def layout() -> list[tuple[str, tuple[int, ...]]]:
    """Keys and shapes of MVRL/ecogeo's model.safetensors (GeoCLIP's layout), in a fixed order."""
    keys = []
    for i in range(len(SIGMAS)):
        keys.append((f"LocEnc{i}.capsule.0.b", (256, 2)))
        for index, (fan_out, fan_in) in zip((1, 3, 5), ((1024, 512), (1024, 1024), (1024, 1024))):
            keys += [(f"LocEnc{i}.capsule.{index}.weight", (fan_out, fan_in)), (f"LocEnc{i}.capsule.{index}.bias", (fan_out,))]
        keys += [(f"LocEnc{i}.head.0.weight", (512, 1024)), (f"LocEnc{i}.head.0.bias", (512,))]
    return keys


def random_state(seed: int = SEED) -> dict[str, np.ndarray]:
    """A random float32 state dict in the published layout: B ~ N(0, sigma^2), Linear weights and biases ~ U(+-1/sqrt(in))."""
    rng = np.random.RandomState(seed)
    state = {}
    for key, shape in layout():
        if key.endswith(".b"):
            sigma = SIGMAS[int(key[len("LocEnc")])]
            state[key] = (rng.standard_normal(shape) * sigma).astype(np.float32)
        else:
            fan_in = shape[1] if len(shape) == 2 else state[key.replace(".bias", ".weight")].shape[1]
            bound = 1.0 / np.sqrt(fan_in)
            state[key] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return state


def state_digest(state: dict[str, np.ndarray]) -> str:
    """sha256 over the keys and little-endian float32 bytes, in :func:`layout` order (independent of file format)."""
    digest = hashlib.sha256()
    for key, _ in layout():
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(state[key], dtype="<f4").tobytes())
    return digest.hexdigest()


def fixed_points() -> np.ndarray:
    """64 ``[lat, lon]`` points: poles, antimeridian, prime meridian, equator, near-pole, then uniform random."""
    special = [
        (90.0, 0.0), (-90.0, 0.0), (90.0, 180.0), (-90.0, -180.0),
        (0.0, 180.0), (0.0, -180.0), (45.0, 180.0), (-45.0, -180.0), (60.0, 179.9999), (-60.0, -179.9999),
        (0.0, 0.0), (51.4779, 0.0), (-33.8688, 151.2093), (48.8566, 2.3522), (89.9999, 45.0), (-89.9999, -135.0),
    ]
    rng = np.random.default_rng(20241031)
    n = 64 - len(special)
    random = np.stack([np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)], axis=1)
    return np.concatenate([np.array(special), random]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path, help="folder holding rshf/geoclip/model.py")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args()
    source = args.snapshot / "rshf" / "geoclip" / "model.py"
    if not source.is_file():
        sys.exit(f"{source} not found: pass the folder of an mvrl/rshf snapshot.")
    spec = importlib.util.spec_from_file_location("rshf_geoclip_reference", source)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    import torch
    from safetensors.torch import load_file, save_file

    state = random_state()
    with tempfile.TemporaryDirectory() as tmp:  # written and read back as the published file would be
        path = Path(tmp) / "model.safetensors"
        save_file({k: torch.from_numpy(v) for k, v in state.items()}, str(path))
        model = ref.LocationEncoder(ref.GeoCLIPConfig(sigma=list(SIGMAS), input_size=2, encoded_size=256, dim=512))
        model.load_state_dict(load_file(str(path)), strict=True)
    model.eval()
    latlon = fixed_points()
    with torch.no_grad():
        features = model(torch.from_numpy(latlon)).numpy()
    np.savez_compressed(
        args.out / "taxabind_reference.npz",
        latlon=latlon,
        features=features.astype(np.float32),
        state_sha256=np.array(state_digest(state)),
        generated_with=np.array(f"rshf.geoclip.model reference; torch {torch.__version__}; numpy {np.__version__}; "
                                f"{platform.machine()}"),
    )
    print(f"wrote taxabind_reference.npz ({features.shape[0]} points x {features.shape[1]}); state {state_digest(state)}")


if __name__ == "__main__":
    main()
