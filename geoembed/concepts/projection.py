"""Concept projections: maps from a location encoder's space into a text space, so that text concept banks score places.

A text concept bank (``ConceptBank.from_texts(...)``, the built-in ``geography`` and ``generic`` banks) lives in a
text encoder's space, e.g. MiniLM's ``text:all-MiniLM-L6-v2``; a location encoder's embeddings live in its own space,
e.g. ``location:<weights name>``. Cosine similarities between vectors of two unrelated spaces mean nothing, so a place
can be scored against a text bank only through a model trained to map one space into the other: a
**concept projection**.

The contract (any object with these members; subclassing :class:`ConceptProjection` is optional):

- ``source_space``: the location space it reads, as :func:`geoembed.concepts.location_space` names it;
- ``target_space``: the text space it writes, as the text encoder's ``space`` names it (a bank's ``space``);
- ``embedding_dim``: the width of its output;
- ``project(location_embeddings)``: ``(N, D_loc)`` array -> ``(N, embedding_dim)`` array, each place's vector in the
  text space, scored against any bank of that space by cosine similarity;
- optionally ``identity``: a string that changes whenever the outputs could change (otherwise one is made from the
  class, the spaces and ``weights_id`` or ``weights.sha256``).

Projections are plugins like every other kind: ``register_concept_projection(name, factory_or_object)``,
``create_concept_projection(name)``, ``list_concept_projections()``, and the entry point group
``geoembed.concept_projections``. :func:`find_concept_projection` returns the registered projection from one space
into another, which is how :func:`geoembed.explain_location` scores a text bank with a location encoder.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from geoembed.errors import ConceptBankError, GeoembedError, PluginOutputError, PluginWarning

_BUILT: dict[tuple[str, int], Any] = {}
_BUILT_LOCK = threading.Lock()


class ConceptProjection:
    """Base class of concept projections (see the module docstring for the contract).

    Subclasses set ``source_space``, ``target_space``, ``input_dim`` (the width of the location embeddings they take),
    ``embedding_dim`` and ``weights_id`` (a checksum or tag of their weights) and implement :meth:`_project`;
    :meth:`project` checks inputs and outputs around it.
    """

    source_space: str = ""
    target_space: str = ""
    input_dim: int = 0
    embedding_dim: int = 0
    weights_id: str = ""

    @property
    def identity(self) -> str:
        """Changes whenever the outputs could change: both spaces, the class and the weights."""
        return f"{self.source_space}->{self.target_space}|{type(self).__qualname__}|{self.weights_id}"

    def _project(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def project(self, location_embeddings: Any) -> np.ndarray:
        """``(N, D_loc)`` location embeddings -> ``(N, embedding_dim)`` float32 vectors in ``target_space``."""
        x = np.asarray(location_embeddings, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"location_embeddings must be (N, D), got shape {x.shape}.")
        return np.asarray(self._project(x), dtype=np.float32)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.source_space!r} -> {self.target_space!r}, "
                f"embedding_dim={self.embedding_dim})")


class LinearConceptProjection(ConceptProjection):
    """``x @ weight + bias``: a linear map between two spaces (fitted by least squares, or any fixed matrix).

    Args:
        weight: ``(D_loc, D_text)`` matrix.
        bias: ``(D_text,)`` offset, or None.
        source_space, target_space: the spaces it maps between.
        normalize_input: L2-normalise each location embedding before the map (as cosine scoring of banks does).
        weights_id: a tag of the weights for :attr:`identity`; by default a sha256 of the matrix and offset.
    """

    def __init__(self, weight: Any, bias: Any = None, *, source_space: str, target_space: str,
                 normalize_input: bool = True, weights_id: str | None = None):
        import hashlib

        w = np.asarray(weight, dtype=np.float32)
        if w.ndim != 2 or 0 in w.shape or not np.isfinite(w).all():
            raise ValueError(f"weight must be a finite (D_loc, D_text) matrix, got shape {w.shape}.")
        b = np.zeros(w.shape[1], np.float32) if bias is None else np.asarray(bias, dtype=np.float32).reshape(-1)
        if b.shape != (w.shape[1],) or not np.isfinite(b).all():
            raise ValueError(f"bias must hold {w.shape[1]} finite values, got shape {b.shape}.")
        for field, value in (("source_space", source_space), ("target_space", target_space)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{field} must be a non-empty space name, got {value!r}.")
        self.weight, self.bias = w, b
        self.source_space, self.target_space = source_space, target_space
        self.embedding_dim = int(w.shape[1])
        self.input_dim = int(w.shape[0])
        self.normalize_input = bool(normalize_input)
        self.weights_id = weights_id or hashlib.sha256(
            w.tobytes() + b.tobytes() + bytes([self.normalize_input])).hexdigest()

    def _project(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != self.input_dim:
            raise ConceptBankError(
                f"Dimension mismatch: this projection reads {self.input_dim}-d vectors of {self.source_space!r}, "
                f"got {x.shape[1]} values per row."
            )
        if self.normalize_input:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x @ self.weight + self.bias


# -- checking and finding --------------------------------------------------------------------------------------------
def check_projection(obj: Any, name: str | None = None) -> Any:
    """Return ``obj`` if it has the projection contract's members, else raise a ``TypeError`` naming what is missing."""
    what = f"The concept projection {name!r}" if name else f"The concept projection {type(obj).__name__}"
    problems = []
    for field in ("source_space", "target_space"):
        value = getattr(obj, field, None)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"`{field}` must be a non-empty space name (got {value!r})")
    dim = getattr(obj, "embedding_dim", None)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        problems.append(f"`embedding_dim` must be a positive integer (got {dim!r})")
    if not callable(getattr(obj, "project", None)):
        problems.append("it needs a `project(location_embeddings)` method")
    if problems:
        raise TypeError(f"{what} does not follow the concept projection contract: {'; '.join(problems)}.")
    return obj


def projection_identity(projection: Any) -> str:
    """The projection's ``identity``, or one made from its class and spaces when it has none."""
    identity = getattr(projection, "identity", None)
    if isinstance(identity, str) and identity:
        return identity
    cls = type(projection)
    weights = getattr(projection, "weights_id", "") or getattr(getattr(projection, "weights", None), "sha256", "")
    return f"{projection.source_space}->{projection.target_space}|{cls.__module__}.{cls.__qualname__}|{weights}"


def apply_projection(projection: Any, location_embeddings: np.ndarray) -> np.ndarray:
    """``projection.project(x)`` with its output checked: ``(N, embedding_dim)`` finite numbers."""
    out = projection.project(np.asarray(location_embeddings, dtype=np.float32))
    if hasattr(out, "detach"):  # a torch tensor from a plugin that skipped the conversion
        out = out.detach().cpu().numpy()
    out = np.asarray(out, dtype=np.float32)
    expected = (len(location_embeddings), int(projection.embedding_dim))
    if out.shape != expected:
        raise PluginOutputError(
            f"The concept projection {type(projection).__name__} returned shape {out.shape} for "
            f"{len(location_embeddings)} places; expected {expected} (N, embedding_dim)."
        )
    if not np.isfinite(out).all():
        raise PluginOutputError(f"The concept projection {type(projection).__name__} returned NaN or infinite values.")
    return out


def get_concept_projection(projection: Any, **kwargs: Any) -> Any:
    """A ready projection: a registered name (built once per name, then reused) or a projection object."""
    from geoembed.registry import concept_projections

    if not isinstance(projection, str):
        if kwargs:
            raise TypeError(f"Options {sorted(kwargs)} only apply when the projection is given by name.")
        return check_projection(projection)
    if kwargs:
        return check_projection(concept_projections.create(projection, **kwargs), projection)
    factory = concept_projections.get(projection)
    key = (projection, id(factory))
    with _BUILT_LOCK:
        built = _BUILT.get(key)
        if built is None:
            built = check_projection(concept_projections.create(projection), projection)
            _BUILT[key] = built
    return built


def registered_projections(source_space: str | None = None) -> list[tuple[str, Any]]:
    """``(name, projection)`` of every registered projection (from ``source_space`` when given), by name.

    A plugin that fails to build is left out with a :class:`~geoembed.errors.PluginWarning`.
    """
    from geoembed.registry import concept_projections

    found = []
    for name in concept_projections.names():
        try:
            projection = get_concept_projection(name)
        except (GeoembedError, TypeError, ValueError, OSError, ImportError) as exc:
            warnings.warn(f"Skipping the concept projection {name!r}: {exc}", PluginWarning, stacklevel=2)
            continue
        if source_space is None or projection.source_space == source_space:
            found.append((name, projection))
    return found


def find_concept_projection(source_space: str, target_space: str) -> tuple[str, Any] | None:
    """The registered projection from ``source_space`` into ``target_space``, as ``(name, projection)``, or None.

    Two registered projections between the same spaces are refused (name one with ``projection=``): a score must
    never depend on which of two models happened to be picked.
    """
    matches = [(n, p) for n, p in registered_projections(source_space) if p.target_space == target_space]
    if len(matches) > 1:
        names = ", ".join(repr(n) for n, _ in matches)
        raise ConceptBankError(
            f"Several concept projections map {source_space!r} into {target_space!r}: {names}. Choose one with "
            f"projection=NAME (--projection NAME on the command line)."
        )
    return matches[0] if matches else None


def clear_built_projections() -> None:
    """Forget projections built by name (after re-registering one under the same name with other weights)."""
    with _BUILT_LOCK:
        _BUILT.clear()
