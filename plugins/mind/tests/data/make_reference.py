"""Generate MIND reference vectors with the reference implementation (random weights, the released layout).

Usage (the reference is never imported by geoembed or its tests; only this script runs it)::

    python plugins/mind/tests/data/make_reference.py /path/to/mind-snapshot

where the snapshot folder holds ``mind_standalone.py`` from github.com/taylor-geospatial/mind (the file
``hubconf.py`` loads; stored snapshot at commit 03899ef455aecbf70af523b9137ae6e7c4114932 was used for the committed
files). It writes, next to this script:

- ``mind_reference_state.safetensors``: a random state dict in the released file's layout and dtype (float16; keys
  ``first.linear.*``, ``blocks.{i}.linear.*``, ``year_freqs``), with the released depth (12 residual blocks) but a
  reduced width (256 instead of 3072), so that the file stays small (1.6 MB instead of 226 MB);
- ``mind_reference.npz``: 64 fixed points (poles, antimeridian, equator, random) as ``latlon`` (``[lat, lon]``
  degrees, the reference's order) and the reference's ``embed(..., dim=256)`` output for them (``features``),
  computed by the reference's own ``load_mind`` from that file (float16 weights, float32 compute).

The reference's SIREN initialisation gives zero biases; the biases are then drawn at random as well so that the
test exercises them (the released biases are not zero).
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
WIDTH, DEPTH, SEED = 256, 12, 0


def fixed_points() -> np.ndarray:
    """64 ``[lat, lon]`` points: poles, antimeridian, prime meridian, equator, near-pole, then uniform random."""
    special = [
        (90.0, 0.0), (-90.0, 0.0), (90.0, 180.0), (-90.0, -180.0),
        (0.0, 180.0), (0.0, -180.0), (45.0, 180.0), (-45.0, -180.0), (60.0, 179.9999), (-60.0, -179.9999),
        (0.0, 0.0), (51.4779, 0.0), (-33.8688, 151.2093), (48.8566, 2.3522), (89.9999, 45.0), (-89.9999, -135.0),
    ]
    rng = np.random.default_rng(20240613)
    n = 64 - len(special)
    random = np.stack([np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)], axis=1)
    return np.concatenate([np.array(special), random]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path, help="folder holding the reference mind_standalone.py")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args()
    source = args.snapshot / "mind_standalone.py"
    if not source.is_file():
        sys.exit(f"{source} not found: pass the folder of a taylor-geospatial/mind snapshot.")
    spec = importlib.util.spec_from_file_location("mind_reference_standalone", source)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    model = ref.ReSIRENLocationEncoder(embed_dim=WIDTH, out_dim=None, depth=DEPTH)
    with torch.no_grad():  # random biases too (SIREN starts them at zero), within each layer's weight bound
        for layer in [model.first, *model.blocks]:
            bound = float(layer.linear.weight.abs().max())
            layer.linear.bias.uniform_(-bound, bound)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    weights_file = args.out / "mind_reference_state.safetensors"
    save_file(state, str(weights_file))

    loaded = ref.load_mind(str(weights_file), device="cpu")  # the reference's own loader: float16 -> float32
    latlon = fixed_points()
    features = ref.embed(loaded, latlon[:, 0], latlon[:, 1], dim=WIDTH, device="cpu")
    np.savez_compressed(
        args.out / "mind_reference.npz",
        latlon=latlon,
        features=features.astype(np.float32),
        width=np.int64(WIDTH),
        depth=np.int64(DEPTH),
        generated_with=np.array(f"mind_standalone.py reference; torch {torch.__version__}; numpy {np.__version__}; "
                                f"{platform.machine()}"),
    )
    print(f"wrote {weights_file.name} ({weights_file.stat().st_size} bytes) and mind_reference.npz "
          f"({features.shape[0]} points x {features.shape[1]})")


if __name__ == "__main__":
    main()
