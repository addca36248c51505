"""Text encoders (MiniLM shipped offline, open_clip text towers), the concept embedding cache and text banks."""

from __future__ import annotations


import numpy as np
import pytest
import torch

import geoembed
import geoembed.errors
from geoembed.cli import main
from geoembed.concepts import text_encoders as te
from geoembed.concepts.bank import ConceptBank
from geoembed.errors import WeightsError, WeightsNotFoundError

# A tiny random CLIP (architecture overrides of ViT-B-32; 768-d like ViT-L/14 so GeoCLIP's head accepts it).
from fakes import TINY_CLIP  # noqa: E402 - shared tiny open_clip architecture


@pytest.fixture(scope="module")
def minilm():
    return te.get_text_encoder("minilm")


@pytest.fixture(scope="module")
def tiny_clip_file(tmp_path_factory):
    """Weights of the tiny CLIP saved to a file, as a user's own checkpoint would be."""
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", **TINY_CLIP)
    checkpoint = tmp_path_factory.mktemp("open_clip") / "tiny.pt"
    torch.save(model.state_dict(), checkpoint)
    return checkpoint


def test_minilm_is_real_and_offline(minilm):
    # conftest sets HF_HUB_OFFLINE=1: the shipped files are all that is used
    assert minilm.space == "text:all-MiniLM-L6-v2" and minilm.embedding_dim == 384
    assert minilm.weights_id.startswith("sha256-")
    vectors = minilm.encode(["coconut palms", "palm trees", "cyrillic script"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2  # real semantics, not random weights


def test_text_bank_from_texts(minilm):
    bank = geoembed.ConceptBank.from_texts(["desert", "snow", "palm tree"], text_encoder="minilm",
                                           categories=["natural/climate", "natural/climate", "natural/vegetation"])
    assert bank.names == ["desert", "snow", "palm tree"] and bank.dim == 384
    assert bank.space == minilm.space and bank.scoring == "cosine"
    assert bank.provenance["text_encoder"] == minilm.identity and bank.provenance["prompt"] == "{}"
    np.testing.assert_allclose(bank.embeddings.numpy(), minilm.encode(["desert", "snow", "palm tree"]), atol=1e-5)
    scores = bank.score(minilm.encode(["sand dunes"]), space=minilm.space)
    assert scores[0].argmax() == 0
    prompted = geoembed.ConceptBank.from_texts(["desert"], text_encoder=minilm, prompt="a photo of {}")
    np.testing.assert_allclose(prompted.embeddings.numpy(), minilm.encode(["a photo of desert"]), atol=1e-5)
    with pytest.raises(ValueError, match="exactly one"):
        geoembed.ConceptBank.from_texts(["desert"], text_encoder=minilm, prompt="no slot")


def test_concept_embeddings_are_cached_per_texts_and_encoder(minilm, monkeypatch):
    texts = ["fjord", "yurts", "tram"]
    first = te.encode_texts(minilm, texts)
    files = list(te.concept_cache_dir().glob("*.npy"))
    assert len(files) == 1
    with monkeypatch.context() as patched:
        patched.setattr(minilm, "encode", lambda *a, **k: pytest.fail("the cache was not used"))
        np.testing.assert_array_equal(te.encode_texts(minilm, texts), first)
    te.encode_texts(minilm, texts[:2])  # other texts: another entry
    assert len(list(te.concept_cache_dir().glob("*.npy"))) == 2
    files[0].write_bytes(b"truncated")  # a damaged entry is recomputed and rewritten
    with pytest.warns(geoembed.errors.CacheWarning):
        np.testing.assert_allclose(te.encode_texts(minilm, texts), first, atol=1e-6)
    np.testing.assert_allclose(te.encode_texts(minilm, texts), first, atol=1e-6)


def test_builtin_geography_bank(minilm):
    geography = geoembed.create_concept_bank("geography")
    assert len(geography) >= 300 and geography.dim == 384 and geography.space == minilm.space
    assert geography.provenance["concept_file"] == "geography.yaml" and geography.provenance["name"] == "geography"
    assert "human/transport" in geography.categories
    # the geography set ranks its own fitting concepts above generic ones for a geographic query
    query = minilm.encode(["a street in Bangkok with tuk-tuks and thai script"])
    best_geo = geography.names[int(geography.score(query)[0].argmax())]
    assert best_geo in {"tuk-tuks", "thai script", "auto rickshaws"}


def test_builtin_generic_bank(minilm):
    generic = geoembed.create_concept_bank("generic", text_encoder=minilm)
    assert len(generic) >= 300 and generic.space == minilm.space
    assert {c.split("/")[0] for c in generic.categories} == {"generic"}


def test_text_encoder_registry(minilm):
    assert {"minilm", "open_clip", "sentence_transformers", "geoclip"} <= set(geoembed.list_text_encoders())

    class Constant(te.TextEncoder):
        space, embedding_dim, weights_id = "text:constant", 2, "v1"

        def _embed(self, texts):
            return torch.ones(len(texts), 2)

    geoembed.register_text_encoder("unit-test-constant", lambda: Constant())
    geoembed.register_text_encoder("unit-test-broken", lambda: object())
    try:
        bank = ConceptBank.from_texts(["a", "b"], text_encoder="unit-test-constant")
        assert bank.space == "text:constant"
        np.testing.assert_allclose(bank.embeddings.numpy(), np.full((2, 2), 2 ** -0.5), atol=1e-6)
        with pytest.raises(TypeError, match="not a geoembed.concepts.TextEncoder"):
            geoembed.create_text_encoder("unit-test-broken")
    finally:
        from geoembed.registry import text_encoders

        text_encoders.unregister("unit-test-constant")
        text_encoders.unregister("unit-test-broken")
    with pytest.raises(KeyError, match="Did you mean 'minilm'"):
        geoembed.create_text_encoder("minilmm")
    with pytest.raises(TypeError, match="list of strings"):
        minilm.encode("desert")
    with pytest.raises(ValueError, match="non-empty"):
        minilm.encode(["desert", " "])


def test_open_clip_text_tower_random_and_from_a_weights_file(tiny_clip_file):
    random_tower = geoembed.create_text_encoder("open_clip", model_name="ViT-B-32", **TINY_CLIP)
    assert random_tower.embedding_dim == 768 and random_tower.space.startswith("text:open_clip/ViT-B-32/random-")
    assert random_tower.default_prompt == "a photo of {}."
    loaded = geoembed.create_text_encoder("open_clip", model_name="ViT-B-32", pretrained=tiny_clip_file, **TINY_CLIP)
    again = geoembed.create_text_encoder("open_clip", model_name="ViT-B-32", pretrained=str(tiny_clip_file),
                                         **TINY_CLIP)
    assert loaded.space == again.space and "/file-" in loaded.space and loaded.space != random_tower.space
    texts = ["a photo of desert.", "a photo of snow."]
    np.testing.assert_allclose(loaded.encode(texts), again.encode(texts), atol=1e-6)
    bank = ConceptBank.from_texts(["desert", "snow"], text_encoder=loaded)
    assert bank.space == loaded.space
    np.testing.assert_allclose(bank.embeddings.numpy(), loaded.encode(texts), atol=1e-6)


def test_open_clip_errors_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="neither a file nor a pretrained tag"):
        te.OpenCLIPTextEncoder("ViT-B-32", pretrained="laion2b_does_not_exist", **TINY_CLIP)
    with pytest.raises(WeightsNotFoundError):  # a real tag, offline and not in the cache
        te.OpenCLIPTextEncoder("ViT-B-32", pretrained="laion2b_s34b_b79k", **TINY_CLIP)
    wrong = tmp_path / "wrong.pt"
    torch.save({"weight": torch.zeros(2)}, wrong)
    with pytest.raises(WeightsError, match="could not load"):
        te.OpenCLIPTextEncoder("ViT-B-32", pretrained=str(wrong), **TINY_CLIP)


def test_cli_builds_a_bank_from_a_concept_file(tmp_path, minilm, capsys):
    concepts = tmp_path / "mine.csv"
    concepts.write_text("name,category\nterraced rice fields,human/agriculture\nfjord,natural/landform\n")
    assert main(["concepts", "--from-file", str(concepts), "-o", str(tmp_path / "bank")]) == 0
    bank = geoembed.ConceptBank.load(tmp_path / "bank")
    assert bank.names == ["terraced rice fields", "fjord"] and bank.space == minilm.space
    assert bank.provenance["concept_file"] == "mine.csv"
    assert main(["concepts", "--from-file", str(concepts), "-o", str(tmp_path / "bank")]) == 2  # no --overwrite
    capsys.readouterr()
    assert main(["concepts", str(tmp_path / "bank")]) == 0
    assert "terraced rice fields" in capsys.readouterr().out
