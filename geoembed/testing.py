"""Conformance checks that plugin authors run on their own plugins (like scikit-learn's ``check_estimator``).

>>> from geoembed.testing import check_location_encoder
>>> check_location_encoder("my_encoder", pretrained=False)      # doctest: +SKIP

Each check raises :class:`AssertionError` with a message saying which rule failed and why it matters, and returns
the names of the checks it ran when all pass. Call them from your plugin's test suite.

It also holds the one tolerance that geoembed guarantees between embeddings computed in different batches, thread
counts or CPU kernels (:func:`assert_embeddings_close`; see docs/reproducibility.md).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

# The guarantee across batch sizes, thread counts and CPU kernels (docs/reproducibility.md). float32 matrix products
# block and sum in an order that depends on the batch size and on the CPU's vector kernel, so the same point's
# embedding may differ in its last bits between runs; GeoCLIP's sigma = 256 Fourier branch amplifies that. Measured
# worst case over batch sizes 1/7/300/4096, 1 and 2 threads and ATEN_CPU_CAPABILITY default/avx2/avx512: 1.4e-5 of the
# row's L2 norm for pretrained GeoCLIP, 3.4e-5 for randomly initialised GeoCLIP. Each element may differ by
# ACROSS_BATCH_RTOL times its row's L2 norm plus ACROSS_BATCH_ATOL (a floor for all-zero rows).
ACROSS_BATCH_RTOL = 1e-4
ACROSS_BATCH_ATOL = 1e-6


def _pytest_fixture(function: Callable) -> Callable:
    """``pytest.fixture(autouse=True)`` when pytest is installed; geoembed itself never needs pytest."""
    try:
        import pytest
    except ImportError:  # pragma: no cover - only without the test extra
        return function
    return pytest.fixture(autouse=True)(function)


@_pytest_fixture
def offline_and_isolated_cache(tmp_path_factory, monkeypatch):
    """Every test runs offline with an empty private cache, so results never depend on the developer's machine.

    Import it into a plugin's ``conftest.py`` (``from geoembed.testing import offline_and_isolated_cache``) to give
    the plugin's tests the same isolation as geoembed's own.
    """
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path_factory.mktemp("geoembed-cache")))


def assert_embeddings_close(actual: Any, expected: Any, *, rtol: float = ACROSS_BATCH_RTOL,
                            atol: float = ACROSS_BATCH_ATOL, what: str = "embeddings") -> None:
    """Assert two ``(N, D)`` embedding arrays agree within geoembed's across-batch guarantee.

    ``|actual[i, j] - expected[i, j]| <= rtol * ||expected[i]|| + atol`` for every element: the tolerance scales with
    each row's L2 norm, so it suits encoders of any output scale (a unit vector of 512 floats has elements near 0.04,
    where an element-wise relative tolerance would be meaningless for the near-zero ones). Exact equality is only
    promised for the same batch composition on the same CPU kernel; compare those with ``np.testing.assert_array_equal``.
    """
    a = _as_numpy(actual)
    b = _as_numpy(expected)
    assert a.shape == b.shape, f"{what}: shapes differ, {a.shape} vs {b.shape}."
    a2 = a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(1, -1)
    b2 = b.reshape(len(b), -1) if b.ndim > 1 else b.reshape(1, -1)
    scale = np.linalg.norm(b2.astype(np.float64), axis=1, keepdims=True)
    allowed = rtol * scale + atol
    excess = np.abs(a2.astype(np.float64) - b2.astype(np.float64)) - allowed
    if not (excess <= 0).all():  # NaN fails too
        row, col = np.unravel_index(int(np.argmax(excess)), excess.shape)
        bad = int((excess > 0).sum())
        raise AssertionError(
            f"{what} differ by more than {rtol:g} x row norm + {atol:g}: {bad} of {excess.size} elements; worst at "
            f"[{row}, {col}]: {a2[row, col]!r} vs {b2[row, col]!r} (row norm {float(scale[row, 0]):.4g}, allowed "
            f"{float(allowed[row, 0]):.3g})."
        )


def _as_numpy(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x)


# Points that exercise the edges of the coordinate domain: poles, antimeridian, equator, null island.
PROBE_LATLON = np.array(
    [
        [0.0, 0.0],
        [90.0, 0.0],
        [-90.0, 0.0],
        [0.0, 180.0],
        [0.0, -180.0],
        [48.8566, 2.3522],
        [-33.8688, 151.2093],
        [64.1466, -21.9426],
        [-77.8419, 166.6863],
        [1.3521, 103.8198],
    ],
    dtype=np.float32,
)


def check_location_encoder(encoder: Any, **factory_kwargs: Any) -> list[str]:
    """Check a location encoder plugin against geoembed's contract.

    Args:
        encoder: a registered name, a factory callable, or a built :class:`~geoembed.LocationEncoder`.
        **factory_kwargs: passed to the factory (e.g. ``pretrained=False`` to test without weights).
    """
    import torch

    from geoembed.location_encoders.encode import encode_location
    from geoembed.location_encoders.contract import LocationEncoder
    from geoembed.registry import create_location_encoder

    passed: list[str] = []

    def check(name: str, condition: bool, message: str) -> None:
        assert condition, f"[{name}] {message}"
        passed.append(name)

    if isinstance(encoder, str):
        model = create_location_encoder(encoder, **factory_kwargs)
    elif isinstance(encoder, LocationEncoder):
        model = encoder
    elif callable(encoder):
        model = encoder(**factory_kwargs)
    else:
        raise TypeError(f"encoder must be a name, a factory or a LocationEncoder, got {type(encoder).__name__}.")

    check("is_location_encoder", isinstance(model, LocationEncoder),
          f"the factory returned {type(model).__name__}; it must return a geoembed.LocationEncoder subclass.")
    dim = model.embedding_dim
    check("embedding_dim", isinstance(dim, int) and dim > 0,
          f"embedding_dim must be a positive int (the output width), got {dim!r}.")
    model = model.eval()
    x = torch.from_numpy(PROBE_LATLON)
    with torch.no_grad():
        out = model(x)
    check("output_type", isinstance(out, torch.Tensor), f"forward must return a torch.Tensor, got {type(out).__name__}.")
    check("output_shape", tuple(out.shape) == (len(PROBE_LATLON), dim),
          f"forward on (N, 2) input must return (N, embedding_dim) = {(len(PROBE_LATLON), dim)}, got {tuple(out.shape)}.")
    check("output_float", out.dtype.is_floating_point, f"outputs must be floating point, got {out.dtype}.")
    check("finite", bool(torch.isfinite(out).all()),
          "outputs must be finite everywhere, including the poles and the antimeridian.")
    with torch.no_grad():
        again = model(x)
        one_by_one = torch.cat([model(x[i : i + 1]) for i in range(len(x))])
    check("deterministic", torch.allclose(out, again, rtol=0, atol=0),
          "in eval mode, encoding the same points twice must give identical outputs.")
    # An encoder that computes in a lower precision declares its own bound (``batch_rtol``, e.g. bfloat16's 2**-8).
    batch_rtol = float(getattr(model, "batch_rtol", ACROSS_BATCH_RTOL))
    check("batch_invariant", _close(out, one_by_one, batch_rtol),
          "a point's embedding must not depend on the other points in its batch (beyond float rounding: "
          f"{batch_rtol:g} x its L2 norm).")
    # Continuity across the antimeridian is NOT required: GeoCLIP itself (Equal Earth x = +-1 there) is discontinuous.
    check("distinguishes_places", not torch.allclose(out[5], out[6]),
          "Paris and Sydney got the same embedding: the encoder ignores its input.")
    check("weights_record", model.weights is None or hasattr(model.weights, "sha256"),
          "weights must be None (random) or a geoembed.WeightsRecord describing the loaded weights.")
    check("identity", isinstance(model.identity, str) and model.identity != "",
          "identity must be a non-empty string (used as a cache key).")
    via_api = encode_location(PROBE_LATLON, order="latlon", encoder=model, batch_size=3)
    check("encode_location", via_api.shape == (len(PROBE_LATLON), dim)
          and _close(via_api, out, batch_rtol),
          "geoembed.encode_location(encoder=model) must give the same result as calling the model.")
    return passed


def _close(actual: Any, expected: Any, rtol: float = ACROSS_BATCH_RTOL) -> bool:
    try:
        assert_embeddings_close(actual, expected, rtol=rtol)
    except AssertionError:
        return False
    return True


def _checker(name_of_check_list: list[str]):
    def check(name: str, condition: bool, message: str) -> None:
        assert condition, f"[{name}] {message}"
        name_of_check_list.append(name)
    return check


def check_image_backbone(backbone: Any, **factory_kwargs: Any) -> list[str]:
    """Check an image backbone plugin: an :class:`~geoembed.ImageBackbone` mapping images to finite features."""
    import torch

    from geoembed.image_backbones.contract import ImageBackbone
    from geoembed.registry import create_image_backbone

    passed: list[str] = []
    check = _checker(passed)
    model = create_image_backbone(backbone, **factory_kwargs) if isinstance(backbone, str) else backbone
    check("is_image_backbone", isinstance(model, ImageBackbone),
          f"the factory returned {type(model).__name__}; it must return a geoembed.ImageBackbone subclass.")
    check("feature_dim", isinstance(model.feature_dim, int) and model.feature_dim > 0,
          f"feature_dim must be a positive int, got {model.feature_dim!r}.")
    height, width = model.image_size
    batch = torch.rand(2, model.in_chans, height, width, generator=torch.Generator().manual_seed(0))
    model = model.eval()
    with torch.no_grad():
        out = model.encode(batch)
        again = model.encode(batch)
    check("output_shape", tuple(out.shape) == (2, model.feature_dim),
          f"encode on (2, {model.in_chans}, {height}, {width}) must return (2, feature_dim), got {tuple(out.shape)}.")
    check("finite", bool(torch.isfinite(out).all()), "features must be finite.")
    check("deterministic", torch.equal(out, again), "in eval mode, the same images must give identical features.")
    return passed


def check_text_encoder(encoder: Any, **factory_kwargs: Any) -> list[str]:
    """Check a text encoder plugin: a :class:`~geoembed.concepts.TextEncoder` with a named space and unit vectors."""
    from geoembed.concepts.text_encoders import TextEncoder, create_text_encoder

    passed: list[str] = []
    check = _checker(passed)
    model = create_text_encoder(encoder, **factory_kwargs) if isinstance(encoder, str) else encoder
    check("is_text_encoder", isinstance(model, TextEncoder),
          f"the factory returned {type(model).__name__}; it must return a geoembed.concepts.TextEncoder subclass.")
    check("space", isinstance(model.space, str) and model.space != "",
          "space must name the embedding space (concept banks remember it and refuse vectors of another space).")
    vectors = np.asarray(model.encode(["a hot desert", "a busy harbour city"]))
    check("output_shape", vectors.shape == (2, model.embedding_dim),
          f"encode on 2 texts must return (2, embedding_dim) = (2, {model.embedding_dim}), got {vectors.shape}.")
    check("finite", bool(np.isfinite(vectors).all()), "text vectors must be finite.")
    check("unit_norm", bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)),
          "text vectors must be L2-normalised (banks score by cosine).")
    check("distinguishes_texts", not np.allclose(vectors[0], vectors[1]), "two different texts got the same vector.")
    return passed


def check_concept_bank(bank: Any, **factory_kwargs: Any) -> list[str]:
    """Check a concept bank plugin: unique names, one finite vector per concept, a named space."""
    from geoembed.concepts.bank import ConceptBank
    from geoembed.registry import create_concept_bank

    passed: list[str] = []
    check = _checker(passed)
    model = create_concept_bank(bank, **factory_kwargs) if isinstance(bank, str) else bank
    check("is_concept_bank", isinstance(model, ConceptBank),
          f"the factory returned {type(model).__name__}; it must return a geoembed.ConceptBank.")
    check("not_empty", len(model) > 0, "a bank needs at least one concept.")
    check("unique_names", len(set(model.names)) == len(model.names), "concept names must be unique.")
    embeddings = np.asarray(model.embeddings)
    check("embeddings_shape", embeddings.shape == (len(model), model.dim),
          f"embeddings must be (concepts, dim), got {embeddings.shape}.")
    check("finite", bool(np.isfinite(embeddings).all()), "concept vectors must be finite.")
    check("space", isinstance(model.space, str) and model.space != "",
          "space must name the embedding space the vectors live in.")
    return passed


def check_task(task: Any, **factory_kwargs: Any) -> list[str]:
    """Check a benchmark task plugin: valid places, a usable target, and its provenance."""
    from geoembed.downstream.tasks import Task, create_task

    passed: list[str] = []
    check = _checker(passed)
    model = create_task(task) if isinstance(task, str) else task
    check("is_task", isinstance(model, Task), f"the factory returned {type(model).__name__}; it must return a Task.")
    check("rows", len(model.data) >= 20, f"a task needs at least 20 rows to be cross-validated, got {len(model.data)}.")
    check("kind", model.kind in ("regression", "classification"), f"kind must be regression or classification.")
    target = model.data[model.target]
    if model.kind == "regression":
        values = np.asarray(target, dtype=np.float64)
        check("target_finite", bool(np.isfinite(values).all()), "a regression target must be finite everywhere.")
        check("target_varies", float(np.nanstd(values)) > 0, "a constant target measures nothing.")
    else:
        check("classes", target.nunique() >= 2, "a classification target needs at least two classes.")
    check("crs", model.data.crs is not None, "task data must carry a CRS (geoembed reprojects to EPSG:4326).")
    check("provenance", bool(model.provenance.get("source")) and bool(model.provenance.get("license")),
          "a task must say where its data comes from and under which licence (provenance source and license).")
    return passed


def check_gallery(gallery: Any, **factory_kwargs: Any) -> list[str]:
    """Check a gallery plugin: candidate places as valid, distinct ``[lat, lon]`` degrees with a checksum."""
    from geoembed.retrieval.gallery import Gallery, create_gallery

    passed: list[str] = []
    check = _checker(passed)
    model = create_gallery(gallery, **factory_kwargs) if isinstance(gallery, str) else gallery
    if not isinstance(model, Gallery) and (isinstance(model, np.ndarray) or type(model).__module__.startswith("torch")):
        model = Gallery.from_latlon(model)  # a factory may return an (M, 2) array; create_gallery wraps it likewise
    check("is_gallery", isinstance(model, Gallery),
          f"the factory returned {type(model).__name__}; it must return a geoembed.Gallery or an (M, 2) array.")
    latlon = np.asarray(model.latlon)
    check("shape", latlon.ndim == 2 and latlon.shape[1] == 2 and len(latlon) > 0,
          f"latlon must be a non-empty (M, 2) array, got {latlon.shape}.")
    check("valid_degrees", bool(np.isfinite(latlon).all()) and bool((np.abs(latlon[:, 0]) <= 90).all())
          and bool((np.abs(latlon[:, 1]) <= 180).all()), "coordinates must be finite [lat, lon] degrees.")
    check("distinct_places", len(np.unique(np.round(latlon, 6), axis=0)) > 1,
          "a gallery of one repeated place cannot rank candidates.")
    check("checksum", isinstance(model.checksum, str) and len(model.checksum) == 64,
          "the checksum (sha256 of the coordinates) keys the gallery embedding cache.")
    return passed


def check_concept_projection(projection: Any, **factory_kwargs: Any) -> list[str]:
    """Check a concept projection plugin: named spaces, and finite, deterministic ``(N, embedding_dim)`` outputs."""
    from geoembed.concepts.projection import apply_projection, check_projection
    from geoembed.registry import create_concept_projection

    passed: list[str] = []
    check = _checker(passed)
    model = create_concept_projection(projection, **factory_kwargs) if isinstance(projection, str) else projection
    check_projection(model)  # raises a TypeError naming what is missing
    passed.append("contract")
    check("input_dim", isinstance(getattr(model, "input_dim", None), int) and model.input_dim > 0,
          "input_dim must say how wide the location embeddings it takes are (a positive int).")
    x = np.random.default_rng(0).normal(size=(4, model.input_dim)).astype(np.float32)
    out = apply_projection(model, x)  # checks shape and finiteness, raising PluginOutputError
    passed.append("output")
    check("deterministic", np.array_equal(out, apply_projection(model, x)), "the same input must project the same.")
    return passed


_CHECKS = {
    "location encoder": check_location_encoder,
    "image backbone": check_image_backbone,
    "text encoder": check_text_encoder,
    "concept bank": check_concept_bank,
    "task": check_task,
    "gallery": check_gallery,
    "concept projection": check_concept_projection,
}


def check_plugin(kind: str, name: str, **factory_kwargs: Any) -> list[str]:
    """Check that ``name`` is registered for ``kind`` (e.g. ``"location encoder"``), loads, and conforms.

    Kinds without a dedicated check are only checked to load and build.
    """
    from geoembed.registry import REGISTRIES

    registries = {r.kind: r for r in REGISTRIES.values()}
    if kind not in registries:
        raise ValueError(f"Unknown plugin kind {kind!r}; kinds: {sorted(registries)}.")
    registry = registries[kind]
    factory: Callable[..., Any] = registry.get(name)
    if kind in _CHECKS:
        built = factory(**factory_kwargs)
        return ["registered", "loads", *_CHECKS[kind](built)]
    obj = factory(**factory_kwargs)
    assert obj is not None, f"[builds] the {kind} factory {name!r} returned None."
    return ["registered", "loads", "builds"]
