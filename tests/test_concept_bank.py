"""ConceptBank: validation, scoring, space checks, persistence, concept files, the registry and the shipped sets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import geoembed
from geoembed.concepts.bank import ConceptBank, load_concept_bank, read_concept_file
from geoembed.errors import ConceptBankError, DataFileError, OutputExistsError, UnknownPluginError


def make_bank(k: int = 4, d: int = 8, *, seed: int = 0, space: str = "test:space") -> ConceptBank:
    rng = np.random.default_rng(seed)
    return ConceptBank(
        [f"concept {i}" for i in range(k)],
        rng.normal(size=(k, d)),
        space=space,
        categories=["natural/climate", "natural/water", "human/transport", "human/script"][:k],
        descriptions=[f"description {i}" for i in range(k)],
        provenance={"source": "unit test"},
    )


def test_bank_holds_names_categories_and_float32_matrix():
    bank = make_bank()
    assert len(bank) == 4 and bank.dim == 8
    assert bank.embeddings.dtype == torch.float32 and bank.embeddings.shape == (4, 8)
    assert bank.categories[2] == "human/transport" and bank.space == "test:space"
    assert "concept 1" in bank and bank.index("concept 3") == 3
    frame = bank.to_frame()
    assert list(frame.columns) == ["concept", "category", "description"] and len(frame) == 4


def test_unknown_concept_lists_close_matches():
    with pytest.raises(KeyError, match="Did you mean 'concept 1'"):
        make_bank().index("concept 1x")


def test_select_by_category_prefix_and_names():
    bank = make_bank()
    human = bank.select(category="human")
    assert human.names == ["concept 2", "concept 3"]
    assert torch.equal(human.embeddings, bank.embeddings[[2, 3]])
    assert bank.select(category="natural/water").names == ["concept 1"]
    assert bank.select(names=["concept 3", "concept 0"]).names == ["concept 0", "concept 3"]
    with pytest.raises(ConceptBankError, match="categories"):
        bank.select(category="nat")  # a prefix must end at a path segment


@pytest.mark.parametrize(
    "names, embeddings, kwargs, message",
    [
        (["a", "a"], np.ones((2, 3)), {}, "unique"),
        (["a", ""], np.ones((2, 3)), {}, "non-empty"),
        (["a", " b"], np.ones((2, 3)), {}, "spaces"),
        (["a", 3], np.ones((2, 3)), {}, "non-empty string"),
        ([], np.ones((0, 3)), {}, "at least one"),
        ("abc", np.ones((3, 3)), {}, "list of strings"),
        (["a", "b"], np.ones((3, 3)), {}, "one row per concept"),
        (["a", "b"], np.ones(3), {}, r"\(K, D\)"),
        (["a", "b"], np.ones((2, 0)), {}, r"\(K, D\)"),
        (["a", "b"], [[1.0, np.nan], [0.0, 1.0]], {}, "NaN"),
        (["a", "b"], [[1.0, np.inf], [0.0, 1.0]], {}, "rows \\[0\\]"),
        (["a", "b"], [["x", "y"], ["z", "w"]], {}, "numeric"),
        (["a", "b"], np.ones((2, 3)), {"categories": ["natural"]}, "one per concept"),
        (["a", "b"], np.ones((2, 3)), {"categories": ["natural/", "human"]}, "malformed category"),
        (["a", "b"], np.ones((2, 3)), {"categories": ["natural", ""]}, "non-empty string"),
        (["a", "b"], np.ones((2, 3)), {"space": ""}, "space"),
        (["a", "b"], np.ones((2, 3)), {"scoring": "dot"}, "scoring"),
        (["a", "b"], np.ones((2, 3)), {"scoring": "linear"}, "bias"),
        (["a", "b"], np.ones((2, 3)), {"scoring": "linear", "bias": [0.0]}, "2 finite"),
        (["a", "b"], np.ones((2, 3)), {"bias": [0.0, 1.0]}, "linear banks"),
        (["a", "b"], np.ones((2, 3)), {"provenance": {"when": object()}}, "JSON"),
    ],
)
def test_malformed_banks_are_refused_with_a_reason(names, embeddings, kwargs, message):
    kwargs = {"space": "test:space", **kwargs}
    with pytest.raises(ConceptBankError, match=message):
        ConceptBank(names, embeddings, **kwargs)


def test_cosine_scores_match_a_direct_computation():
    bank = make_bank()
    x = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    expected = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (
        bank.embeddings.numpy() / np.linalg.norm(bank.embeddings.numpy(), axis=1, keepdims=True)).T
    scores = bank.score(x)
    assert scores.shape == (5, 4) and scores.dtype == np.float32
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    np.testing.assert_allclose(bank.score(torch.from_numpy(x[0])), expected[:1], atol=1e-5)


def test_linear_scores_are_probabilities_of_the_probe():
    w = np.array([[1.0, 0.0], [0.0, -2.0]])
    bank = ConceptBank(["east", "south"], w, space="s", scoring="linear", bias=[0.5, -1.0])
    x = np.array([[3.0, 4.0]])  # normalised: [0.6, 0.8]
    expected = 1 / (1 + np.exp(-(np.array([0.6, -1.6]) + np.array([0.5, -1.0]))))
    np.testing.assert_allclose(bank.score(x)[0], expected, rtol=1e-5)


def test_dimension_mismatch_is_a_clear_error():
    with pytest.raises(ConceptBankError, match="Dimension mismatch: the embeddings have 5 values per row"):
        make_bank().score(np.ones((2, 5)))


def test_space_mismatch_is_refused_even_when_widths_match():
    bank = make_bank(d=8, space="text:all-MiniLM-L6-v2")
    with pytest.raises(ConceptBankError, match="mean nothing"):
        bank.score(np.ones((2, 8)), space="location:geoclip.mp16")


def test_non_finite_embeddings_cannot_be_scored():
    x = np.ones((2, 8))
    x[1, 3] = np.nan
    with pytest.raises(ConceptBankError, match="NaN"):
        make_bank().score(x)


def test_save_and_load_round_trip(tmp_path):
    bank = ConceptBank(["a", "b"], np.arange(6.0).reshape(2, 3) + 1, space="location:x", scoring="linear",
                       bias=[0.1, -0.2], categories=["natural/x", "human/y"], descriptions=["d1", ""],
                       provenance={"built_from": "test", "nested": {"n": 3}})
    folder = bank.save(tmp_path / "bank")
    assert sorted(p.name for p in folder.iterdir()) == ["concepts.json", "embeddings.safetensors"]
    for source in (folder, folder / "concepts.json", str(folder)):
        loaded = ConceptBank.load(source)
        assert loaded.names == bank.names and loaded.categories == bank.categories
        assert loaded.descriptions == bank.descriptions and loaded.provenance == bank.provenance
        assert loaded.space == bank.space and loaded.scoring == "linear"
        assert torch.equal(loaded.embeddings, bank.embeddings) and torch.equal(loaded.bias, bank.bias)
    with pytest.raises(OutputExistsError):
        bank.save(folder, overwrite=False)


def test_a_tampered_or_incomplete_saved_bank_is_refused(tmp_path):
    folder = make_bank().save(tmp_path / "bank")
    other = make_bank(seed=1).save(tmp_path / "other")
    (folder / "embeddings.safetensors").write_bytes((other / "embeddings.safetensors").read_bytes())
    with pytest.raises(ConceptBankError, match="sha256 differs"):
        ConceptBank.load(folder)
    (other / "concepts.json").unlink()
    with pytest.raises(ConceptBankError, match="not a saved concept bank"):
        ConceptBank.load(other)
    meta_path = tmp_path / "v" / "concepts.json"
    make_bank().save(meta_path.parent)
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ConceptBankError, match="format_version 99"):
        ConceptBank.load(meta_path.parent)
    meta_path.write_text("{not json")
    with pytest.raises(ConceptBankError, match="not valid JSON"):
        ConceptBank.load(meta_path.parent)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataFileError, match="not a folder"):
        make_bank().save(tmp_path / "file")


def test_from_array_records_provenance():
    bank = ConceptBank.from_array(["x", "y"], np.eye(2), space="mine", provenance={"who": "me"})
    assert bank.provenance == {"built_from": "array", "who": "me"} and bank.scoring == "cosine"


def test_read_concept_file_csv_json_yaml_layouts(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("Name,category,description\ndesert,natural/climate,hot and dry\ntram,human/transport,\n")
    table = read_concept_file(csv)
    assert table["names"] == ["desert", "tram"] and table["categories"] == ["natural/climate", "human/transport"]
    assert table["descriptions"] == ["hot and dry", ""]

    records = tmp_path / "c.json"
    records.write_text(json.dumps([{"name": "snow", "category": "natural/climate"}, "plain name"]))
    table = read_concept_file(records)
    assert table["names"] == ["snow", "plain name"] and table["categories"] == ["natural/climate", "uncategorized"]

    grouped = tmp_path / "c.yaml"
    grouped.write_text("name: mine\nconcepts:\n  natural/water:\n    - lagoon\n    - {name: fjord, description: x}\n"
                       "  human/religion:\n    - pagoda\n")
    table = read_concept_file(grouped)
    assert table["names"] == ["lagoon", "fjord", "pagoda"] and table["name"] == "mine"
    assert table["categories"] == ["natural/water", "natural/water", "human/religion"]
    assert table["descriptions"] == ["", "x", ""]

    names_only = tmp_path / "n.yml"
    names_only.write_text("- a\n- b\n")
    assert read_concept_file(names_only)["categories"] is None


@pytest.mark.parametrize(
    "filename, text, message",
    [
        ("c.csv", "label,category\nx,y\n", "'name'"),
        ("c.txt", "x", "Unsupported"),
        ("c.json", "{bad", "not valid JSON"),
        ("c.yaml", "a: [b", "not valid YAML"),
        ("c.yaml", "concepts: []\n", "no concepts"),
        ("c.yaml", "natural: lagoon\n", "must hold a list"),
        ("c.json", "[1, 2]", "must be a name"),
        ("c.json", "42", "list of concepts"),
    ],
)
def test_malformed_concept_files(tmp_path, filename, text, message):
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(DataFileError, match=message):
        read_concept_file(path)


def test_missing_concept_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_concept_file(tmp_path / "nope.csv")


def test_load_concept_bank_by_name_path_or_instance(tmp_path):
    bank = make_bank()
    assert load_concept_bank(bank) is bank
    folder = bank.save(tmp_path / "saved")
    assert load_concept_bank(folder).names == bank.names
    assert load_concept_bank(str(folder)).names == bank.names
    geoembed.register_concept_bank("unit-test-bank", bank)
    try:
        assert "unit-test-bank" in geoembed.list_concept_banks()
        assert geoembed.create_concept_bank("unit-test-bank") is bank
    finally:
        from geoembed.registry import concept_banks

        concept_banks.unregister("unit-test-bank")
    with pytest.raises(UnknownPluginError, match="No folder 'geograpy' exists either"):
        load_concept_bank("geograpy")
    with pytest.raises(UnknownPluginError, match="Did you mean 'geography'"):
        load_concept_bank("geograpy")
    with pytest.raises(TypeError, match="registered name"):
        load_concept_bank(3)


def test_builtin_banks_are_registered():
    assert {"geography", "generic"} <= set(geoembed.list_concept_banks())
    assert {"minilm", "open_clip", "sentence_transformers"} <= set(geoembed.list_text_encoders())


def _shipped(name):
    from importlib import resources

    with resources.as_file(resources.files("geoembed") / "data" / "concepts" / name) as path:
        return read_concept_file(path)


def test_shipped_geography_set_is_large_curated_and_categorised():
    table = _shipped("geography.yaml")
    names, categories = table["names"], table["categories"]
    assert len(names) >= 300 and len(set(names)) == len(names)
    tops = {c.split("/")[0] for c in categories}
    assert tops == {"natural", "human"}
    subcategories = set(categories)
    for required in ("natural/climate", "natural/landform", "natural/vegetation", "natural/water", "natural/soil",
                     "natural/fauna", "human/architecture", "human/religion", "human/transport", "human/script",
                     "human/agriculture", "human/economy", "human/settlement", "human/infrastructure"):
        assert required in subcategories
    for concept in ("left-hand traffic", "right-hand traffic", "terraced rice fields", "mosque with minarets",
                    "tropical rainforest", "cyrillic script"):
        assert concept in names
    assert sum(c.startswith("natural/") for c in categories) >= 100
    assert sum(c.startswith("human/") for c in categories) >= 150


def test_shipped_generic_set_is_similar_in_size_and_disjoint():
    geography = _shipped("geography.yaml")["names"]
    generic = _shipped("generic.yaml")
    assert len(set(generic["names"])) == len(generic["names"])
    assert 0.8 <= len(generic["names"]) / len(geography) <= 1.25
    assert not set(generic["names"]) & set(geography)
    assert all(c.startswith("generic/") for c in generic["categories"])
