"""Concept activation vectors from labelled places, explanations of places, concept maps and the CLI.

These use pretrained GeoCLIP (its weights ship in the installed ``geoclip`` wheel) and the shipped
``geodata.geoclip`` bank, so the checks are about real behaviour, not about fakes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geoembed
from geoembed.cli import main
from geoembed.concepts.bank import ConceptBank, fit_geodata_bank
from geoembed.concepts.geodata import (
    concept_labels,
    evaluate_geodata_concepts,
    fit_concept_vectors,
    spatial_block_folds,
)
from geoembed.errors import ConceptBankError, InvalidGeometryError
from geoembed.geo import sample_land_points


def labelled(n: int, seed: int) -> gpd.GeoDataFrame:
    latlon = sample_land_points(n, seed=seed)
    return gpd.GeoDataFrame(
        {
            "hemisphere": np.where(latlon[:, 0] > 0, "northern hemisphere", "southern hemisphere"),
            "tropics": np.abs(latlon[:, 0]) < 23.44,
        },
        geometry=gpd.points_from_xy(latlon[:, 1], latlon[:, 0]),
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def places():
    return labelled(400, seed=11)


@pytest.fixture(scope="module")
def fitted(places):
    return fit_geodata_bank(places, ["hemisphere", "tropics"], categories={"tropics": "natural/climate"})


def test_geodata_bank_lives_in_the_location_space(fitted):
    assert fitted.names == ["northern hemisphere", "southern hemisphere", "tropics"]
    assert fitted.space == "location:geoclip.mp16" and fitted.dim == 512 and fitted.scoring == "linear"
    assert fitted.categories == ["geodata/hemisphere", "geodata/hemisphere", "natural/climate"]
    assert fitted.provenance["places"] == 400 and fitted.provenance["method"] == "logistic"
    assert fitted.provenance["positives"]["tropics"] == int(np.sum(np.abs(
        np.asarray([p.y for p in labelled(400, seed=11).geometry])) < 23.44))


@pytest.mark.parametrize("method", ["logistic", "mean"])
def test_concept_vectors_recover_labels_of_unseen_places(places, method):
    bank = fit_geodata_bank(places, ["hemisphere", "tropics"], method=method)
    test = labelled(200, seed=99)
    profile = geoembed.concept_profile(test, bank=bank)
    north = profile["northern hemisphere"].to_numpy() > 0.5
    assert np.mean(north == (test["hemisphere"] == "northern hemisphere").to_numpy()) > 0.9
    tropics = profile["tropics"].to_numpy() > 0.5
    assert np.mean(tropics == test["tropics"].to_numpy()) > 0.85


def test_fit_is_independent_of_the_input_crs(places):
    small = places.iloc[:150]
    a = fit_geodata_bank(small, "tropics")
    b = fit_geodata_bank(small.to_crs("EPSG:3857"), "tropics")
    np.testing.assert_allclose(a.embeddings.numpy(), b.embeddings.numpy(), atol=1e-3)


def test_concept_labels_from_class_and_boolean_columns():
    frame = pd.DataFrame({"zone": ["A", None, "B", "A"], "wet": pd.array([True, False, None, True], "boolean")})
    labels = concept_labels(frame, ["zone", "wet"])
    assert labels.names == ["A", "B", "wet"] and labels.columns == ["zone", "zone", "wet"]
    np.testing.assert_array_equal(labels.targets[:, 0], [True, False, False, True])
    np.testing.assert_array_equal(labels.known[:, 0], [True, False, True, True])  # a missing class is unknown
    np.testing.assert_array_equal(labels.known[:, 2], [True, True, False, True])
    with pytest.raises(ConceptBankError, match="No column 'zones'"):
        concept_labels(frame, "zones")
    with pytest.raises(ConceptBankError, match="at least two classes"):
        concept_labels(pd.DataFrame({"zone": ["A", "A"]}), "zone")


def test_too_few_positives_is_refused():
    x = np.random.default_rng(0).normal(size=(50, 4))
    y = np.zeros((50, 1), dtype=bool)
    y[:3] = True
    with pytest.raises(ConceptBankError, match="'rare' has 3 positive"):
        fit_concept_vectors(x, y, names=["rare"])
    with pytest.raises(ValueError, match="method"):
        fit_concept_vectors(x, y, method="svm")


def test_geodata_needs_points():
    polygons = gpd.GeoDataFrame({"c": ["a", "b"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)],
                                crs="EPSG:4326")
    with pytest.raises(InvalidGeometryError):
        ConceptBank.from_geodata(polygons, "c")


def test_spatial_block_folds_keep_blocks_together():
    latlon = sample_land_points(2000, seed=3)
    folds = spatial_block_folds(latlon, n_folds=4, block_deg=10.0, seed=0)
    assert set(folds) == {0, 1, 2, 3}
    blocks = np.floor((latlon[:, 0] + 90) / 10) * 1000 + np.floor((latlon[:, 1] + 180) / 10)
    for block in np.unique(blocks):
        assert len(set(folds[blocks == block])) == 1
    with pytest.raises(ValueError):
        spatial_block_folds(latlon, n_folds=1)


def test_spatially_held_out_evaluation(places):
    evaluation = evaluate_geodata_concepts(places, ["hemisphere", "tropics"], n_folds=3, block_deg=20.0)
    concepts = evaluation.concepts.set_index("concept")
    assert set(concepts.index) == {"northern hemisphere", "southern hemisphere", "tropics"}
    assert (concepts["roc_auc"] > 0.9).all()
    column = evaluation.columns.set_index("column").loc["hemisphere"]
    assert column["classes"] == 2 and column["top1_accuracy"] > column["majority_baseline"]
    # encoder options reach the factory: a random-weights GeoCLIP baseline, folds dealt by split_seed
    baseline = evaluate_geodata_concepts(places.iloc[:200], "tropics", n_folds=2, block_deg=30.0, split_seed=1,
                                         pretrained=False, seed=0)
    assert list(baseline.concepts["concept"]) == ["tropics"] and baseline.columns.empty
    assert 0.0 <= baseline.concepts.loc[0, "roc_auc"] <= 1.0


# -- explanations with the shipped bank ---------------------------------------------------------------------------
def test_explain_location_on_real_places():
    everest = geoembed.explain_location(lat=27.98, lon=86.92, top_k=5)
    assert list(everest.columns) == ["concept", "category", "score", "rank"]
    assert list(everest["rank"]) == [1, 2, 3, 4, 5]
    assert np.all(np.diff(everest["score"].to_numpy()) <= 0)
    assert "high altitude" in set(everest["concept"].head(2))
    sahara = geoembed.explain_location(lat=23.0, lon=12.0, top_k=1, category="natural/climate")
    assert sahara.loc[0, "concept"] == "arid climate" and sahara.loc[0, "category"] == "natural/climate"
    amazon = geoembed.explain_location(lat=-3.0, lon=-60.0, top_k=1, category="natural/climate")
    assert amazon.loc[0, "concept"] == "tropical climate"


def test_explain_locations_is_tidy():
    table = geoembed.explain_locations(lat=[48.86, -33.87, 64.1], lon=[2.35, 151.21, -21.9], top_k=3)
    assert list(table.columns) == ["point", "lat", "lon", "rank", "concept", "category", "score"]
    assert len(table) == 9 and list(table["point"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert table["score"].between(0, 1).all()
    everything = geoembed.explain_locations(lat=[0.0], lon=[20.0], top_k=1000)
    assert len(everything) == len(geoembed.create_concept_bank("geodata.geoclip"))
    with pytest.raises(ValueError, match="top_k"):
        geoembed.explain_locations(lat=[0.0], lon=[0.0], top_k=0)
    with pytest.raises(ValueError, match="one place"):
        geoembed.explain_location(point=np.array([[0.0, 0.0], [1.0, 1.0]]))


def test_a_text_bank_without_a_projection_cannot_explain_location_embeddings():
    unprojected = ConceptBank.from_array(["desert", "snow"], np.ones((2, 384)), space="text:unprojected-model")
    with pytest.raises(ConceptBankError, match="text bank cannot score location embeddings") as info:
        geoembed.explain_location(lat=0.0, lon=0.0, bank=unprojected)
    message = str(info.value)
    if geoembed.list_concept_projections():  # the GeoCLIP plugin's geoclip-minilm: the message lists where it leads
        assert "Registered concept projections from 'location:geoclip.mp16': 'geoclip-minilm'" in message
    else:
        assert "No registered concept projection maps 'location:geoclip.mp16' into 'text:unprojected-model'" in message
    same_width = ConceptBank.from_array(["desert", "snow"], np.ones((2, 512)), space="text:open_clip/x/y")
    with pytest.raises(ConceptBankError, match="mean nothing"):
        geoembed.explain_location(lat=0.0, lon=0.0, bank=same_width)
    linear_elsewhere = ConceptBank(["a", "b"], np.ones((2, 512)), space="location:other", scoring="linear",
                                   bias=np.zeros(2))
    with pytest.raises(ConceptBankError, match="mean nothing"):
        geoembed.explain_location(lat=0.0, lon=0.0, bank=linear_elsewhere)


def test_concept_map_writes_a_png(tmp_path):
    out = geoembed.concept_map("coastal", out=tmp_path / "europe.png", step_deg=5.0, extent=(-10.0, 30.0, 35.0, 70.0))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="extent"):
        geoembed.concept_map("coastal", out=tmp_path / "bad.png", extent=(10.0, 0.0, 0.0, 10.0))
    with pytest.raises(KeyError, match="Did you mean 'arid climate'"):
        geoembed.concept_map("arid climat", out=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# -- command line ---------------------------------------------------------------------------------------------------
def test_cli_explain_one_place(capsys):
    assert main(["explain", "--lat", "27.98", "--lon", "86.92", "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "high altitude" in out and "rank" in out


def test_cli_explain_a_file_and_a_map(tmp_path, capsys):
    points = tmp_path / "points.csv"
    points.write_text("name,breite,laenge\nParis,48.86,2.35\nCairo,30.04,31.24\n")
    out = tmp_path / "explained.csv"
    assert main(["explain", "--input", str(points), "-o", str(out), "--top-k", "2", "--lat-col", "breite",
                 "--lon-col", "laenge"]) == 0
    table = pd.read_csv(out)
    assert len(table) == 4 and set(table["point"]) == {0, 1}
    assert main(["explain", "--input", str(points), "-o", str(out), "--lat-col", "breite", "--lon-col", "laenge"]) == 2
    assert "exists" in capsys.readouterr().err  # no --overwrite
    png = tmp_path / "map.png"
    assert main(["explain", "--map", "cropland", "-o", str(png), "--step", "15"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["explain", "--map", "croplands", "-o", str(tmp_path / "m.png")]) == 2
    assert "Did you mean 'cropland'" in capsys.readouterr().err
    assert main(["explain"]) == 2
    assert main(["explain", "--lat", "95", "--lon", "0"]) == 2


def test_cli_concepts_lists_and_shows(capsys):
    assert main(["concepts"]) == 0
    out = capsys.readouterr().out
    assert "geography" in out and "minilm" in out
    assert main(["concepts", "geodata.geoclip", "--category", "natural/climate"]) == 0
    out = capsys.readouterr().out
    assert "5 concepts" in out and "arid climate" in out and "Beck" in out
