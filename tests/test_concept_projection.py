"""Concept projections: the contract and registry, text banks scoring places through a projection, standardised
scores against reference places, and the sparse (SpLiCE-style) decomposition.

The projections here are fixed random linear maps registered at run time (the trained one ships in the GeoCLIP
plugin); the location encoder is the seeded ``rff`` baseline, so every check is fast and deterministic.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import geoembed
from geoembed.cli import main
from geoembed.concepts import ConceptBank, LinearConceptProjection, location_space, sparse_decompose
from geoembed.concepts.projection import check_projection, clear_built_projections, find_concept_projection
from geoembed.errors import ConceptBankError
from geoembed.registry import REGISTRIES, concept_projections

FAKE_TEXT = "text:fake-16"
ENCODER = "rff"


@pytest.fixture
def runtime_projections():
    """Remove the projections a test registers at run time (and the projections built from them)."""
    before = set(concept_projections._runtime)
    yield
    for name in set(concept_projections._runtime) - before:
        concept_projections.unregister(name)
    clear_built_projections()


def rff_space() -> tuple[str, int]:
    model = geoembed.create_location_encoder(ENCODER)
    return location_space(model), model.embedding_dim


def random_projection(seed: int = 0, target: str = FAKE_TEXT, dim: int = 16) -> LinearConceptProjection:
    space, width = rff_space()
    weight = np.random.default_rng(seed).normal(size=(width, dim))
    return LinearConceptProjection(weight, source_space=space, target_space=target)


def text_bank(k: int = 30, seed: int = 1, space: str = FAKE_TEXT, dim: int = 16) -> ConceptBank:
    vectors = np.random.default_rng(seed).normal(size=(k, dim))
    return ConceptBank.from_array([f"concept {i}" for i in range(k)], vectors, space=space,
                                  categories=["natural/a" if i % 2 else "human/b" for i in range(k)])


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# -- contract and registry -------------------------------------------------------------------------------------------
def test_registry_kind_and_public_functions(runtime_projections):
    assert REGISTRIES["geoembed.concept_projections"] is concept_projections
    projection = random_projection()
    geoembed.register_concept_projection("fixed_random", projection)  # a ready object is wrapped
    assert "fixed_random" in geoembed.list_concept_projections("fixed*")
    assert geoembed.create_concept_projection("fixed_random") is projection

    @geoembed.register_concept_projection("from_factory")
    def build(seed: int = 3):
        return random_projection(seed)

    assert geoembed.create_concept_projection("from_factory", seed=4).weights_id == random_projection(4).weights_id
    with pytest.raises(ValueError, match="already registered"):
        geoembed.register_concept_projection("fixed_random", projection)
    assert isinstance(geoembed.ConceptProjection, type) and geoembed.LinearConceptProjection is LinearConceptProjection


def test_contract_checks_name_what_is_missing():
    class NoSpaces:
        embedding_dim = 0

        def project(self, x):
            return x

    with pytest.raises(TypeError, match="source_space.*target_space.*embedding_dim"):
        check_projection(NoSpaces())
    with pytest.raises(ValueError, match="weight"):
        LinearConceptProjection(np.ones(3), source_space="a", target_space="b")
    with pytest.raises(ValueError, match="target_space"):
        LinearConceptProjection(np.ones((3, 2)), source_space="a", target_space=" ")
    p = LinearConceptProjection(np.ones((3, 2)), source_space="a", target_space="b")
    with pytest.raises(ConceptBankError, match="reads 3-d vectors"):
        p.project(np.ones((1, 4)))


def test_the_cycle_between_bank_and_geodata_is_cut():
    source = (Path(geoembed.__file__).parent / "concepts" / "geodata.py").read_text(encoding="utf-8")
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m and m.startswith("geoembed.concepts")}


# -- text banks through a projection -------------------------------------------------------------------------------
def test_text_bank_scores_places_through_the_registered_projection(runtime_projections):
    projection = random_projection()
    geoembed.register_concept_projection("fixed_random", projection)
    bank = text_bank()
    lat, lon = [48.86, -3.0, 64.1], [2.35, -60.0, -21.9]
    table = geoembed.explain_locations(lat=lat, lon=lon, bank=bank, encoder=ENCODER, top_k=4)  # raw by default
    emb = geoembed.encode_location(lat=lat, lon=lon, encoder=ENCODER)
    expected = unit(projection.project(emb)) @ unit(bank.embeddings.numpy()).T  # cosine in the text space
    for i in range(3):
        rows = table[table["point"] == i]
        best = np.argsort(-expected[i])[:4]
        assert list(rows["concept"]) == [bank.names[j] for j in best]
        np.testing.assert_allclose(rows["score"], expected[i, best], atol=1e-5)
    assert table.attrs["projection"] == "fixed_random" and table.attrs["score"] == "cosine similarity"
    profile = geoembed.concept_profile(lat=lat, lon=lon, bank=bank, encoder=ENCODER)
    np.testing.assert_allclose(profile.to_numpy(), expected, atol=1e-5)
    # an explicit projection object needs no registration
    direct = geoembed.explain_locations(lat=lat, lon=lon, bank=bank, encoder=ENCODER, top_k=4, standardize=False,
                                        projection=projection)
    np.testing.assert_allclose(direct["score"], table["score"], atol=1e-6)


def test_standardised_scores_are_z_scores_against_the_reference_places(runtime_projections):
    from geoembed.geo import sample_land_points

    projection = random_projection()
    geoembed.register_concept_projection("fixed_random", projection)
    bank = text_bank()
    reference = sample_land_points(300, seed=0)
    ref_scores = unit(projection.project(geoembed.encode_location(reference, order="latlon", encoder=ENCODER))) \
        @ unit(bank.embeddings.numpy()).T
    place = unit(projection.project(geoembed.encode_location(lat=[30.0], lon=[31.0], encoder=ENCODER))) \
        @ unit(bank.embeddings.numpy()).T
    z = (place[0] - ref_scores.mean(axis=0)) / ref_scores.std(axis=0)
    out = geoembed.explain_location(lat=30.0, lon=31.0, bank=bank, encoder=ENCODER, top_k=len(bank), reference=300,
                                    standardize=True)
    assert list(out.columns) == ["concept", "category", "score", "rank", "raw_score"]
    order = np.argsort(-z)
    assert list(out["concept"]) == [bank.names[j] for j in order]  # ranked by z, not by raw cosine
    np.testing.assert_allclose(out["score"], z[order], atol=1e-3)
    np.testing.assert_allclose(out["raw_score"], place[0, order], atol=1e-5)
    assert out.attrs["score"] == "z-score against 300 reference places"


def test_reference_statistics_are_cached_on_disk(runtime_projections, monkeypatch):
    from geoembed.concepts.scoring import ConceptScorer

    geoembed.register_concept_projection("fixed_random", random_projection())
    bank = text_bank()
    first = geoembed.concept_profile(lat=[10.0], lon=[10.0], bank=bank, encoder=ENCODER, reference=200,
                                     standardize=True)
    calls = []
    original = ConceptScorer.location_embeddings

    def counting(self, latlon, **kwargs):
        calls.append(len(latlon))
        return original(self, latlon, **kwargs)

    monkeypatch.setattr(ConceptScorer, "location_embeddings", counting)
    again = geoembed.concept_profile(lat=[10.0], lon=[10.0], bank=bank, encoder=ENCODER, reference=200,
                                     standardize=True)
    assert calls == [1]  # only the place itself was encoded: the 200 reference places came from the cache
    np.testing.assert_allclose(again.to_numpy(), first.to_numpy(), atol=1e-6)
    # another projection under the same name gets its own statistics
    geoembed.register_concept_projection("fixed_random", random_projection(seed=9), overwrite=True)
    other = geoembed.concept_profile(lat=[10.0], lon=[10.0], bank=bank, encoder=ENCODER, reference=200,
                                     standardize=True)
    assert calls[-1] == 1 and not np.allclose(other.to_numpy(), first.to_numpy())


def test_without_a_projection_the_error_names_what_would_work(runtime_projections):
    bank = text_bank()
    with pytest.raises(ConceptBankError, match="mean nothing") as info:
        geoembed.explain_location(lat=0.0, lon=0.0, bank=bank, encoder=ENCODER)
    assert "No registered concept projection maps" in str(info.value)
    assert "register_concept_projection" in str(info.value)
    geoembed.register_concept_projection("to_other_text", random_projection(target="text:other"))
    with pytest.raises(ConceptBankError, match="'to_other_text' -> 'text:other'"):
        geoembed.explain_location(lat=0.0, lon=0.0, bank=bank, encoder=ENCODER)
    with pytest.raises(ConceptBankError, match="writes vectors of 'text:other'"):
        geoembed.explain_location(lat=0.0, lon=0.0, bank=bank, encoder=ENCODER, projection="to_other_text")
    with pytest.raises(ConceptBankError, match="reads 'location:"):
        geoembed.explain_location(lat=0.0, lon=0.0, bank=bank, encoder="xyz", projection="to_other_text")


def test_two_projections_between_the_same_spaces_are_never_picked_silently(runtime_projections):
    geoembed.register_concept_projection("first", random_projection(0))
    geoembed.register_concept_projection("second", random_projection(1))
    space, _ = rff_space()
    with pytest.raises(ConceptBankError, match="'first', 'second'.*projection=NAME"):
        find_concept_projection(space, FAKE_TEXT)
    table = geoembed.explain_location(lat=0.0, lon=0.0, bank=text_bank(), encoder=ENCODER, projection="second",
                                      standardize=False)
    assert table.attrs["projection"] == "second"


# -- sparse decomposition ------------------------------------------------------------------------------------------
def test_sparse_decomposition_recovers_a_planted_combination():
    rng = np.random.default_rng(0)
    concepts = unit(rng.normal(size=(60, 64)))
    planted = {7: 0.7, 21: 0.5, 44: 0.3}
    x = sum(w * concepts[k] for k, w in planted.items())
    weights, cosine = sparse_decompose(x, concepts, alpha=0.01)
    full = cosine[0]
    found = np.flatnonzero(weights[0] > 0.02)
    assert set(found) == set(planted)
    assert list(np.argsort(-weights[0])[:3]) == [7, 21, 44]  # in the planted order of importance
    assert cosine[0] > 0.99 and (weights >= 0).all()
    # with SpLiCE's centring, a combination planted in the centred space is recovered the same way
    vector_mean, concept_mean = unit(rng.normal(size=64)) * 0.8, concepts.mean(axis=0)
    centred = unit(concepts - concept_mean)
    combination = sum(w * centred[k] for k, w in planted.items())
    # scale the combination so that mean + combination is a unit vector, as place vectors are when centred
    a, b, c = combination @ combination, 2 * vector_mean @ combination, vector_mean @ vector_mean - 1
    y = vector_mean + (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a) * combination
    weights, cosine = sparse_decompose(y, concepts, alpha=0.01, vector_mean=vector_mean, concept_mean=concept_mean)
    assert set(np.flatnonzero(weights[0] > 0.02)) == set(planted) and cosine[0] > 0.95
    # a larger penalty keeps fewer concepts and explains less
    fewer, worse = sparse_decompose(x, concepts, alpha=0.5)
    assert 0 < np.count_nonzero(fewer) < 3 and worse[0] < full
    with pytest.raises(ValueError, match="alpha"):
        sparse_decompose(x, concepts, alpha=0)


def test_sparse_explanation_of_places(runtime_projections):
    geoembed.register_concept_projection("fixed_random", random_projection())
    bank = text_bank()
    table = geoembed.explain_location(lat=-3.0, lon=-60.0, bank=bank, encoder=ENCODER, method="sparse",
                                      reference=200, top_k=50)
    assert list(table.columns) == ["concept", "category", "weight", "rank", "reconstruction_cosine"]
    assert 0 < len(table) < len(bank) and (table["weight"] > 0).all()
    assert np.all(np.diff(table["weight"].to_numpy()) <= 0) and list(table["rank"]) == list(range(1, len(table) + 1))
    assert 0.0 < table.loc[0, "reconstruction_cosine"] <= 1.0
    weights, cosine = geoembed.sparse_explanation(lat=[-3.0], lon=[-60.0], bank=bank, encoder=ENCODER, reference=200)
    nonzero = weights.iloc[0][weights.iloc[0] > 0].sort_values(ascending=False)
    assert list(nonzero.index) == list(table["concept"])
    np.testing.assert_allclose(cosine[0], table.loc[0, "reconstruction_cosine"], atol=1e-6)
    space, width = rff_space()
    probes = ConceptBank(["a", "b"], np.ones((2, width)), space=space, scoring="linear", bias=np.zeros(2))
    with pytest.raises(ConceptBankError, match="needs a cosine bank"):
        geoembed.explain_location(lat=0.0, lon=0.0, bank=probes, encoder=ENCODER, method="sparse")
    with pytest.raises(ValueError, match="method"):
        geoembed.explain_location(lat=0.0, lon=0.0, method="lasso")


def test_cli_explains_with_a_text_bank(runtime_projections, tmp_path, capsys):
    geoembed.register_concept_projection("fixed_random", random_projection())
    folder = text_bank().save(tmp_path / "bank")
    assert main(["explain", "--lat", "48.86", "--lon", "2.35", "--bank", str(folder), "--encoder", ENCODER,
                 "--reference", "100", "--top-k", "3", "--standardize"]) == 0
    out = capsys.readouterr().out
    assert "z-score against 100 reference places" in out and "'fixed_random'" in out and "raw_score" in out
    assert main(["explain", "--lat", "48.86", "--lon", "2.35", "--bank", str(folder), "--encoder", ENCODER,
                 "--method", "sparse", "--reference", "100"]) == 0
    assert "reconstruction_cosine" in capsys.readouterr().out
    assert main(["explain", "--lat", "48.86", "--lon", "2.35", "--bank", str(folder), "--encoder", ENCODER]) == 0
    assert "cosine similarity" in capsys.readouterr().out
    assert main(["explain", "--lat", "48.86", "--lon", "2.35", "--bank", str(folder), "--encoder", ENCODER,
                 "--standardize", "--method", "sparse"]) == 2
    assert main(["explain", "--lat", "0", "--lon", "0", "--bank", str(folder), "--encoder", "xyz"]) == 2
    assert "register_concept_projection" in capsys.readouterr().err


def test_a_concept_the_projection_never_moves_cannot_stand_out(runtime_projections):
    space, width = rff_space()
    weight = np.random.default_rng(0).normal(size=(width, 16))
    weight[:, 15] = 0.0  # no place has any component along the last axis
    geoembed.register_concept_projection(
        "flat_last_axis", LinearConceptProjection(weight, source_space=space, target_space=FAKE_TEXT))
    vectors = np.random.default_rng(1).normal(size=(8, 16))
    vectors[7] = np.eye(16)[15]  # a concept whose cosine is 0 at every place: standard deviation 0
    bank = ConceptBank.from_array([f"c{i}" for i in range(8)], vectors, space=FAKE_TEXT)
    profile = geoembed.concept_profile(lat=[10.0, -20.0], lon=[5.0, 60.0], bank=bank, encoder=ENCODER, reference=100,
                                       standardize=True)
    assert np.isfinite(profile.to_numpy()).all()
    np.testing.assert_allclose(profile["c7"], 0.0, atol=1e-3)
