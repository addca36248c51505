"""Concept-aware GeoCLIP: losses, alignment module, training (checkpoints, resume), retrieval evaluation, CLI.

Synthetic data where the truth is known: image features are a noisy linear function of a location embedding
(retrieval must beat chance by far), or sums of planted concept vectors (the per-concept contributions must name them).
A small fixed random-Fourier-feature location encoder keeps training fast on a CPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geoembed.errors import GeoembedError
from geoembed.geo import haversine_km, sample_sphere
from geoembed.registry import create_location_encoder
from geoembed_geoclip.concept_aware import ConceptAlignment, ConceptAwareGeoCLIP, geoclip_head
from geoembed_geoclip.evaluation import evaluate_retrieval, gallery_coordinates
from geoembed_geoclip.losses import (
    GPSQueue,
    cauchy_schwarz_divergence,
    concept_divergence,
    info_nce,
    jitter_coordinates,
    mean_log_kernel_divergence,
    median_bandwidth,
    mmd_squared,
)
from geoembed_geoclip.training import TrainConfig, build_model, evaluate_run, load_model, train_geoclip

RFF = {"sigmas": [1.0], "frequencies": 16, "seed": 0}
RICH_RFF = {"sigmas": [1.0, 2.0], "frequencies": 64, "seed": 0}  # enough detail to tell four regions apart
FAST = dict(location_encoder="rff", location_encoder_kwargs=RFF, train_location="none", gps_noise_m=0.0,
            queue_noise_m=0.0, batch_size=64, lr=1e-2, queue_size=128, progress=False)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: tiny models train several times faster than with two on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rff_embeddings(latlon: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return create_location_encoder("rff", **RFF)(torch.as_tensor(latlon).float()).numpy()


@pytest.fixture(scope="module")
def linear_data():
    """Image features = a fixed random linear map of the location's RFF embedding + noise; 400 train, 100 test."""
    latlon = sample_sphere(500, seed=3)
    rng = np.random.default_rng(0)
    embedding = rff_embeddings(latlon)
    dim = embedding.shape[1]
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    features = (embedding @ mixing + 0.05 * rng.normal(size=(500, dim))).astype(np.float32)
    return features[:400], latlon[:400], features[400:], latlon[400:]


@pytest.fixture(scope="module")
def trained_plain(linear_data, tmp_path_factory):
    features, latlon, *_ = linear_data
    run = tmp_path_factory.mktemp("runs") / "plain"
    return train_geoclip(features, latlon, run, concepts=None, epochs=8, **FAST)


# -- divergence ------------------------------------------------------------------------------------------------------
def test_divergences_detect_a_difference_in_spread_at_equal_means():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 4, generator=g)

    def wider(factor: float) -> torch.Tensor:
        y = factor * torch.randn(300, 4, generator=g)
        return y - y.mean(0) + x.mean(0)  # exactly equal means

    for divergence in (cauchy_schwarz_divergence, mmd_squared):
        noise_level = max(float(divergence(x, torch.randn(300, 4, generator=g))) for _ in range(5))
        values = [float(divergence(x, wider(factor))) for factor in (1.5, 2.0, 3.0)]
        assert values[2] > 4 * noise_level, divergence.__name__  # far beyond same-distribution sampling noise
        assert values[0] < values[1] < values[2], divergence.__name__  # and it grows with the spread difference
    # the literal "mean of log-kernels" reading cannot see it: it is the squared distance of the means
    assert float(mean_log_kernel_divergence(x, wider(3.0), bandwidth=2.0)) == pytest.approx(0.0, abs=1e-3)


def test_literal_mean_log_kernel_reading_reduces_to_a_difference_of_means():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 4, generator=g, dtype=torch.float64)
    y = 2.0 * torch.randn(70, 4, generator=g, dtype=torch.float64) + 0.7
    s = 1.3
    expected = float((x.mean(0) - y.mean(0)).pow(2).sum()) / s**2
    assert float(mean_log_kernel_divergence(x, y, bandwidth=s)) == pytest.approx(expected, rel=1e-6)


def test_cauchy_schwarz_is_zero_for_equal_samples_and_differentiable():
    x = torch.randn(40, 6, requires_grad=True)
    assert float(cauchy_schwarz_divergence(x.detach(), x.detach().clone())) == pytest.approx(0.0, abs=1e-5)
    y = torch.randn(40, 6) + 1.0
    value = concept_divergence(x, y, "cs")
    value.backward()
    assert value > 0 and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # far apart with a tiny bandwidth: log-sum-exp keeps it finite instead of log(0)
    assert torch.isfinite(cauchy_schwarz_divergence(x.detach(), y + 100.0, bandwidth=0.01))


def test_bandwidth_median_heuristic_and_validation():
    x, y = torch.zeros(3, 1), torch.ones(3, 1)
    assert float(median_bandwidth(x, y)) == pytest.approx(1.0)  # 6 of 15 pairs at 0 (..), 9 at 1: median 1
    with pytest.raises(ValueError, match="bandwidth"):
        cauchy_schwarz_divergence(x, y, bandwidth=-1.0)
    with pytest.raises(ValueError, match="divergence must be"):
        concept_divergence(x, y, "kl")
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd_squared(x[:1], y)


# -- contrastive loss, queue, noise ----------------------------------------------------------------------------------
def test_info_nce_prefers_aligned_pairs():
    g = torch.Generator().manual_seed(0)
    images = torch.nn.functional.normalize(torch.randn(16, 8, generator=g), dim=1)
    queue = torch.nn.functional.normalize(torch.randn(32, 8, generator=g), dim=1)
    scale = torch.tensor(np.log(1 / 0.07))
    aligned = info_nce(images, torch.cat((images, queue)), scale)
    shuffled = info_nce(images, torch.cat((images.roll(1, 0), queue)), scale)
    assert aligned < 1.0 < shuffled


def test_gps_queue_replaces_oldest_first():
    queue = GPSQueue(5, generator=torch.Generator().manual_seed(0))
    assert queue.coords[:, 0].abs().max() <= 90 and queue.coords[:, 1].abs().max() <= 180
    first = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], dtype=torch.float64)
    queue.push(first)
    queue.push(torch.tensor([[4.0, 4.0], [5.0, 5.0], [6.0, 6.0]], dtype=torch.float64))
    assert queue.coords[:, 0].tolist() == [6.0, 2.0, 3.0, 4.0, 5.0]


def test_gps_noise_has_the_requested_size_in_metres_and_wraps():
    latlon = torch.tensor([[60.0, 179.9999]], dtype=torch.float64).repeat(4000, 1)
    noisy = jitter_coordinates(latlon, 1000.0, torch.Generator().manual_seed(0))
    moved_km = haversine_km(latlon[:, 0], latlon[:, 1], noisy[:, 0], noisy[:, 1])
    # isotropic 2-D Gaussian of sigma 1 km: the mean displacement is sigma * sqrt(pi / 2) = 1.25 km
    assert np.mean(moved_km) == pytest.approx(1.2533, rel=0.05)
    assert noisy[:, 1].min() >= -180 and noisy[:, 1].max() < 180 and (noisy[:, 1] < 0).any()


# -- alignment module ------------------------------------------------------------------------------------------------
class FakeBank:
    def __init__(self, embeddings, names):
        self.embeddings, self.names = torch.as_tensor(embeddings), names


def test_alignment_basis_starts_at_the_bank_and_contributions_sum_to_the_score():
    bank = FakeBank(torch.randn(5, 16), [f"c{i}" for i in range(5)])
    model = ConceptAwareGeoCLIP(geoclip_head(8, 512), create_location_encoder("rff", **RFF),
                                ConceptAlignment(bank, 512, 32))
    centred = bank.embeddings - bank.embeddings.mean(0)  # centred: see ConceptAlignment's docstring
    assert torch.allclose(model.concepts.basis(), torch.nn.functional.normalize(centred, dim=1))
    raw = ConceptAlignment(bank, 512, 32, center=False)
    assert torch.allclose(raw.basis(), torch.nn.functional.normalize(bank.embeddings, dim=1))
    assert model.concepts.offset.requires_grad and not model.concepts.concept_embeddings.requires_grad
    features, latlon = torch.randn(6, 8), torch.as_tensor(sample_sphere(6, seed=1)).float()
    contributions = model.concept_contributions(features, latlon)
    scores = (model.embed_images(features) * model.embed_locations(latlon)).sum(1)
    assert contributions.shape == (6, 5)
    assert torch.allclose(contributions.sum(1), scores, atol=1e-6)
    table = model.explain(features, latlon, top=2)
    assert list(table.columns[:4]) == ["pair", "rank", "concept", "contribution"] and len(table) == 12
    assert set(table["concept"]) <= set(bank.names)


def test_projection_is_identity_when_features_live_in_the_bank_space():
    alignment = ConceptAlignment(torch.randn(4, 16), image_dim=16, location_dim=64)
    x = torch.randn(3, 16)
    expected = torch.nn.functional.normalize(x, dim=1) @ alignment.concept_embeddings.T
    assert torch.allclose(alignment.image_activations(x), expected, atol=1e-6)


def test_plain_model_refuses_to_explain_and_bad_banks_are_refused():
    model = build_model(TrainConfig(concepts=None, **{k: v for k, v in FAST.items() if k != "progress"}), 32)
    with pytest.raises(ValueError, match="plain GeoCLIP"):
        model.concept_contributions(torch.randn(2, 32), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="K >= 2"):
        ConceptAlignment(torch.randn(1, 8), 8, 8)
    with pytest.raises(ValueError, match="finite and non-zero"):
        ConceptAlignment(torch.zeros(3, 8), 8, 8)


# -- training and evaluation on synthetic data -----------------------------------------------------------------------
def test_retrieval_is_far_above_chance(linear_data, trained_plain):
    _, train_latlon, test_features, test_latlon = linear_data
    result = evaluate_retrieval(trained_plain.model, test_features, test_latlon, gallery=train_latlon)
    # chance: a random gallery point lies within 2500 km of the truth for ~3.8% of the sphere
    assert result.metrics["acc@2500km"] > 0.5
    assert result.metrics["median_km"] < 1500.0  # chance: ~10,000 km
    assert result.metrics["gallery_size"] == 400 and result.metrics["n"] == 100
    assert np.array_equal(result.predictions, train_latlon[result.gallery_index])
    assert result.metrics["acc@750km"] == pytest.approx(np.mean(result.errors_km <= 750))
    losses = [row["loss"] for row in trained_plain.history]
    assert losses[-1] < losses[0]


def test_concept_model_recovers_planted_concepts(tmp_path, capsys):
    """Four regions (nearest of four home points); each region's images show one planted concept of 12 (orthonormal
    concept vectors) plus noise. After training, the top contribution of (image, its location) is that concept."""
    rng = np.random.default_rng(0)
    dim = 32
    basis, _ = np.linalg.qr(rng.normal(size=(dim, 12)))
    bank = FakeBank(basis.T.astype(np.float32), [f"concept {i}" for i in range(12)])
    homes = np.array([[50.0, 10.0], [-20.0, 130.0], [15.0, -90.0], [-30.0, -20.0]])
    planted = np.array([1, 4, 7, 10])
    latlon = sample_sphere(500, seed=5)
    region = haversine_km(latlon[:, None, 0], latlon[:, None, 1], homes[None, :, 0], homes[None, :, 1]).argmin(1)
    features = (basis.T[planted[region]] + 0.2 * rng.normal(size=(500, dim))).astype(np.float32)
    train, test = slice(0, 400), slice(400, None)
    options = dict(FAST, location_encoder_kwargs=RICH_RFF, image_head="none", divergence_weight=0.5)

    def recovered(model) -> float:
        contributions = model.concept_contributions(torch.as_tensor(features[test]),
                                                    torch.as_tensor(latlon[test]).float())
        return float((contributions.argmax(1).numpy() == planted[region[test]]).mean())

    untrained = build_model(TrainConfig(concepts="custom", **{k: v for k, v in options.items() if k != "progress"}),
                            dim, concepts=bank)
    result = train_geoclip(features[train], latlon[train], tmp_path / "run", concepts=bank, epochs=10, **options)
    assert recovered(result.model) >= 0.8  # measured 0.90
    assert recovered(untrained) < 0.6  # measured 0.44: the match comes from training, not from the construction
    retrieval = evaluate_retrieval(result.model, features[test], latlon[test], gallery=latlon[train])
    same_region = np.mean(region[test] == region[train][retrieval.gallery_index])
    assert same_region > 0.8  # chance: ~0.3 (measured 0.93)
    assert result.model.concept_names == bank.names

    from geoembed.cli import main

    np.save(tmp_path / "f.npy", features[test][:3])
    np.save(tmp_path / "c.npy", latlon[test][:3])
    assert main(["evaluate", str(tmp_path / "run"), str(tmp_path / "f.npy"), str(tmp_path / "c.npy"), "--explain", "3",
                 "--top", "1", "--no-progress"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("image ")]
    index = evaluate_run(tmp_path / "run", features[test][:3], latlon[test][:3]).gallery_index
    expected = [f"concept {planted[region[train][i]]} (" for i in index]  # the predicted place's planted concept
    assert len(lines) == 3 and sum(e in line for e, line in zip(expected, lines)) >= 2


def test_run_folder_checkpoints_and_exact_resume(linear_data, tmp_path):
    features, latlon, *_ = linear_data
    options = dict(FAST, concepts=torch.randn(6, 16), divergence_weight=0.5, epochs=2)
    straight = train_geoclip(features, latlon, tmp_path / "straight", **options)
    train_geoclip(features, latlon, tmp_path / "resumed", **{**options, "epochs": 1})
    resumed = train_geoclip(features, latlon, tmp_path / "resumed", resume=True, epochs=2, progress=False)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert [r["loss"] for r in straight.history] == [r["loss"] for r in resumed.history]

    run = tmp_path / "straight"
    assert {"config.json", "model.safetensors", "checkpoint.safetensors", "checkpoint.json", "metrics.json",
            "metrics.csv", "train_coordinates.npy"} <= {p.name for p in run.iterdir()}
    assert len(json.loads((run / "metrics.json").read_text())) == 2
    assert (run / "metrics.csv").read_text().splitlines()[0].startswith("epoch,lr,loss,contrastive,divergence")
    from safetensors import safe_open

    with safe_open(run / "model.safetensors", "pt") as handle:
        assert json.loads(handle.metadata()["config"]) == json.loads((run / "config.json").read_text())
    loaded = load_model(run)
    x = torch.as_tensor(features[:4])
    assert torch.allclose(loaded.embed_images(x), straight.model.embed_images(x))
    assert loaded.concept_names == straight.model.concept_names

    with pytest.raises(GeoembedError, match="already holds a training run"):
        train_geoclip(features, latlon, run, **options)
    with pytest.raises(GeoembedError, match="different options"):
        train_geoclip(features, latlon, run, resume=True, lr=1.0, progress=False)


def test_training_is_seeded(linear_data, tmp_path):
    features, latlon, *_ = linear_data
    runs = [train_geoclip(features[:128], latlon[:128], tmp_path / f"r{i}", concepts=None, epochs=1, seed=seed,
                          **{k: v for k, v in FAST.items()}) for i, seed in enumerate((7, 7, 8))]
    weights = [r.model.image_head[0].weight for r in runs]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_alignment_term_pulls_each_pair_together(linear_data, tmp_path):
    """alignment_weight adds 1 - cos(image, own location) to the loss: with it, the pairs' own cosines end higher
    than with the paper's two losses alone (same seed and data); it is recorded per epoch, and 0 when off."""
    features, latlon, *_ = linear_data
    concepts = torch.randn(12, 16, generator=torch.Generator().manual_seed(0))
    runs = {w: train_geoclip(features, latlon, tmp_path / f"w{w}", concepts=concepts, image_head="mlp", epochs=3,
                             alignment_weight=w, **FAST) for w in (0.0, 5.0)}
    assert runs[0.0].history[-1]["alignment"] == 0.0
    assert runs[5.0].history[-1]["alignment"] > 0

    def own_cosine(model):
        with torch.no_grad():
            image = model.embed_images(torch.as_tensor(features))
            location = model.embed_locations(torch.as_tensor(latlon).float())
        return float((image * location).sum(dim=1).mean())

    assert own_cosine(runs[5.0].model) > own_cosine(runs[0.0].model) + 0.03  # measured 0.91 vs 0.84
    with pytest.raises(ValueError, match="alignment_weight must be >= 0"):
        TrainConfig(alignment_weight=-1.0)


def test_views_and_memory_mapped_features(tmp_path):
    latlon = sample_sphere(64, seed=2)
    views = np.random.default_rng(0).normal(size=(64, 3, 10)).astype(np.float32)
    np.save(tmp_path / "feats.npy", views)
    result = train_geoclip(tmp_path / "feats.npy", latlon, tmp_path / "run", concepts=None, epochs=1, views=2, **FAST)
    assert np.isfinite(result.history[0]["loss"])
    # the paper's path: location embeddings recomputed every step, with GPS noise on batch and queue
    noisy = train_geoclip(views, latlon, tmp_path / "noisy", concepts=torch.randn(5, 8), epochs=1, views=2,
                          **{**FAST, "gps_noise_m": 150.0, "queue_noise_m": 1000.0})
    assert np.isfinite(noisy.history[0]["loss"]) and noisy.history[0]["divergence"] > 0
    # views are averaged at evaluation (as GeoCLIP averages Ten Crop predictions)
    evaluated = evaluate_retrieval(noisy.model, views, latlon, gallery=latlon)
    with torch.no_grad():
        query = torch.nn.functional.normalize(noisy.model.embed_images(torch.as_tensor(views)).mean(1), dim=-1)
        gallery = noisy.model.embed_locations(torch.as_tensor(latlon).float())
    assert np.array_equal(evaluated.gallery_index, (query @ gallery.T).argmax(1).numpy())
    with pytest.raises(ValueError, match="views=4"):
        train_geoclip(views, latlon, tmp_path / "other", concepts=None, views=4, **FAST)
    bad = views.copy()
    bad[5, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_geoclip(bad, latlon, tmp_path / "nan", concepts=None, **FAST)


def test_bad_inputs_are_refused(tmp_path):
    latlon = sample_sphere(8, seed=0)
    with pytest.raises(ValueError, match="pair row by row"):
        train_geoclip(np.zeros((7, 4), np.float32), latlon, tmp_path / "a", **FAST)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            train_geoclip(np.zeros((8, 4), np.float32), latlon, tmp_path / "b", device="cuda", **FAST)
    with pytest.raises(ValueError, match="image_head must be"):
        TrainConfig(image_head="vit")
    with pytest.raises(ValueError, match="needs a concept bank"):
        TrainConfig(concepts=None, image_head="none")
    with pytest.raises(ValueError, match="768-d CLIP"):
        build_model(TrainConfig(concepts=None, image_head="mp16", location_encoder="rff",
                                location_encoder_kwargs=RFF), 24)


def test_plain_model_with_the_published_parts_is_geoclip():
    """image_head='mp16' + the pretrained location encoder: the towers are GeoCLIP's own (before any training)."""
    from geoembed.weights import load_state_dict, resolve_weights
    from geoembed_geoclip.image_encoder import image_head
    from geoembed_geoclip.weights import IMAGE_HEAD_MP16

    model = build_model(TrainConfig(concepts=None, image_head="mp16"), 768)
    head = image_head()
    head.load_state_dict(load_state_dict(resolve_weights(IMAGE_HEAD_MP16).path))
    features = torch.randn(4, 768, generator=torch.Generator().manual_seed(0))
    latlon = torch.as_tensor(sample_sphere(4, seed=0)).float()
    with torch.no_grad():
        assert torch.allclose(model.embed_images(features), torch.nn.functional.normalize(head(features), dim=1))
        reference = create_location_encoder("geoclip")(latlon)
        assert torch.allclose(model.embed_locations(latlon), torch.nn.functional.normalize(reference, dim=1))
    assert float(1 / model.scale().detach().exp()) == pytest.approx(0.07)


def test_pretrained_geoclip_partial_training(tmp_path):
    """The real towers: GeoCLIP's published image head and location encoder, only the location heads training."""
    rng = np.random.default_rng(0)
    latlon = sample_sphere(8, seed=0)
    features = rng.normal(size=(8, 768)).astype(np.float32)
    result = train_geoclip(features, latlon, tmp_path / "run", concepts=None, image_head="mp16", train_location="heads",
                           epochs=1, batch_size=4, queue_size=4, lr=1e-3, progress=False)
    reference = create_location_encoder("geoclip")
    trained = dict(result.model.location_encoder.named_parameters())
    frozen_same = all(torch.equal(trained[n], p) for n, p in reference.named_parameters() if "head" not in n)
    heads_moved = any(not torch.equal(trained[n], p) for n, p in reference.named_parameters() if "head" in n)
    assert frozen_same and heads_moved
    assert load_model(tmp_path / "run").location_encoder.weights is None  # fine-tuned: no longer the published file


# -- evaluation ------------------------------------------------------------------------------------------------------
def test_galleries(tmp_path):
    assert gallery_coordinates("mp16").shape == (100_000, 2)  # ships with the geoclip wheel
    np.save(tmp_path / "g.npy", np.array([[10.0, 20.0], [-5.0, 170.0]]))
    assert np.array_equal(gallery_coordinates(tmp_path / "g.npy"), [[10.0, 20.0], [-5.0, 170.0]])
    from geoembed.errors import InvalidCoordinatesError

    np.save(tmp_path / "swapped.npy", np.array([[120.0, 20.0]]))
    with pytest.raises(InvalidCoordinatesError):
        gallery_coordinates(tmp_path / "swapped.npy")


def test_cli_train_and_evaluate(linear_data, trained_plain, tmp_path, capsys):
    from geoembed.cli import main

    features, latlon, test_features, test_latlon = linear_data
    for name, array in {"f": features, "c": latlon, "tf": test_features, "tc": test_latlon}.items():
        np.save(tmp_path / f"{name}.npy", array)
    run = tmp_path / "run"
    code = main(["train", str(tmp_path / "f.npy"), str(tmp_path / "c.npy"), "-o", str(run), "--no-concepts",
                 "--location-encoder", "rff", "--train-location", "none", "--gps-noise-m", "0", "--queue-noise-m", "0",
                 "--epochs", "1", "--batch-size", "64", "--queue-size", "64", "--lr", "0.003", "--no-progress"])
    assert code == 0 and "trained 1 epoch(s)" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["config"]["concepts"] is None

    # evaluate the module's trained run (8 epochs) through the CLI; it must agree with the Python API
    code = main(["evaluate", str(trained_plain.run_dir), str(tmp_path / "tf.npy"), str(tmp_path / "tc.npy"),
                 "-o", str(tmp_path / "m.json"), "--predictions", str(tmp_path / "p.csv"), "--no-progress"])
    assert code == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    expected = evaluate_run(trained_plain.run_dir, test_features, test_latlon).metrics
    assert metrics == pytest.approx(expected)
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "lat,lon,pred_lat,pred_lon,error_km"

    code = main(["evaluate", str(trained_plain.run_dir), str(tmp_path / "tf.npy"), str(tmp_path / "tc.npy"),
                 "--explain", "2", "--no-progress"])
    assert code == 2 and "--explain needs a concept-aware run" in capsys.readouterr().err

    code = main(["train", str(tmp_path / "f.npy"), str(tmp_path / "c.npy"), "-o", str(run), "--no-concepts",
                 "--no-progress"])
    assert code == 2 and "already holds a training run" in capsys.readouterr().err
    code = main(["train", str(tmp_path / "f.npy"), str(tmp_path / "tc.npy"), "-o", str(tmp_path / "x"),
                 "--no-progress"])  # 400 features, 100 coordinates: one line, no traceback
    assert code == 2 and "pair row by row" in capsys.readouterr().err
