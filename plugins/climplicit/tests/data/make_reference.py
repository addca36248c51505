"""Generate Climplicit reference data with the reference implementation (random weights, the release's layout).

Not imported by geoembed or its tests. Run it in a throwaway environment that has the reference:

    python -m venv --system-site-packages /tmp/refvenv-satclip
    /tmp/refvenv-satclip/bin/pip install --no-deps rshf==0.2.2
    /tmp/refvenv-satclip/bin/python plugins/climplicit/tests/data/make_reference.py

``rshf`` 0.2.2 ships Climplicit's quickstart model (``rshf/climplicit``: the ``Climplicit`` hub class, its ReSIREN and
``Direct`` encoding, as in github.com/ecovision-uzh/climplicit ``quickstart/``). The release is 16 layers of 512 (16.3
MB of float32); to keep the test file small the reference is built with the release's layout and key names but a
hidden width of 64 (its ``location_encoder`` replaced by the same class with ``dim_hidden=64``), and saved with the
class's own ``save_pretrained`` (``config.json`` + ``model.safetensors``, as on the Hub).

Writes, next to this script: ``climplicit_w64_reference.safetensors`` and ``climplicit_reference.npz`` (``lonlat``:
64 test points whose float64 values float32 represents exactly; ``out_default``: the 1,024-d output without a
month; ``out_month_<m>`` for m in 1, 4, 7, 12: the 256-d outputs with that month).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SEED = 20250409
MONTHS = (1, 4, 7, 12)


def test_points() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    special = [(0, 0), (0, 90), (0, -90), (180, 0), (-180, 0), (180, 45), (-180, -45), (8.550155, 47.396702),
               (2.3522, 48.8566), (151.2093, -33.8688), (-21.9426, 64.1466), (166.6863, -77.8419)]
    rest = np.column_stack([rng.uniform(-180, 180, 64 - len(special)), rng.uniform(-90, 90, 64 - len(special))])
    return np.vstack([np.array(special, dtype=np.float64), rest]).astype(np.float32).astype(np.float64)


def main() -> None:
    from rshf.climplicit import Climplicit
    from rshf.climplicit.siren import SirenNet

    torch.manual_seed(SEED)
    model = Climplicit({"return_chelsa": False})
    model.location_encoder = SirenNet(dim_in=4, dim_hidden=64, dim_out=256, num_layers=16, dropout=False,
                                      h_siren=True, residual_connections=True)
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        shutil.copyfile(Path(tmp) / "model.safetensors", HERE / "climplicit_w64_reference.safetensors")
    lonlat = torch.from_numpy(test_points()).float()  # the reference takes float32 (lon, lat) degrees
    arrays = {"lonlat": test_points()}
    with torch.no_grad():
        arrays["out_default"] = model(lonlat).numpy()
        for month in MONTHS:
            arrays[f"out_month_{month}"] = model(lonlat, torch.ones(len(lonlat)) * month).numpy()
    np.savez_compressed(HERE / "climplicit_reference.npz", **arrays)
    for name in ("climplicit_w64_reference.safetensors", "climplicit_reference.npz"):
        print(f"wrote {name}: {(HERE / name).stat().st_size:,} bytes")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
