"""How places are scored against a concept bank: the route into the bank's space, standardised scores, sparse codes.

- :class:`ConceptScorer` resolves a (bank, location encoder, projection) triple once: a bank in the encoder's own
  space scores the embeddings directly; a cosine (text) bank in another space scores them through the registered
  :mod:`concept projection <geoembed.concepts.projection>` from the encoder's space into the bank's; anything else is
  refused with a message naming what would work.
- **Standardised scores.** Raw cosine similarities are not comparable across concepts: some concept vectors sit
  closer to every place than others. Each concept's score is therefore also expressed as a z-score against a global
  reference sample of places: by default 10,000 points uniform by area over land (Natural Earth land, latitude above
  -60 degrees, seed 0; :func:`geoembed.geo.sample_land_points`). ``z = (score - mean) / sd`` over the reference: "how
  unusual is this concept's score here, compared with a typical place on land". Land only, because the questions
  asked are about places people live in or travel to; with oceans in the reference, every land concept would stand
  out everywhere on land. A concept whose scores barely vary over the reference (standard deviation below a tenth of
  the bank's median) is divided by that floor instead, so it cannot stand out through noise. The statistics are
  computed once per (encoder, projection, bank, reference) and kept in
  geoembed's disk cache (:class:`geoembed.cache.DiskCache`, folder ``concept_reference``).
- **Sparse additive explanations** (:func:`sparse_decompose`): a place's vector in the bank's space written as a
  non-negative sparse combination of the bank's concept vectors, as SpLiCE (Bhalla et al., NeurIPS 2024) does for
  CLIP image embeddings: both sides are mean-centred (places by the reference sample's mean, concepts by the bank's
  mean) and re-normalised, then ``min_w 0.5 ||x - w C||^2 + alpha ||w||_1, w >= 0`` is solved with scikit-learn's
  coordinate-descent lasso. The reconstruction quality is the cosine between ``x`` and ``w C``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geoembed.cache import DiskCache, cache_key
from geoembed.concepts.bank import ConceptBank, load_concept_bank, location_space
from geoembed.concepts.projection import (
    apply_projection,
    find_concept_projection,
    get_concept_projection,
    projection_identity,
    registered_projections,
)
from geoembed.errors import ConceptBankError

#: Size and seed of the default reference sample of places (uniform over land, latitude above -60 degrees).
REFERENCE_POINTS = 10_000
REFERENCE_SEED = 0
#: A concept's standard deviation over the reference is floored at this fraction of the bank's median one, so that a
#: concept the model hardly moves from place to place cannot stand out through tiny differences.
SD_FLOOR = 0.1
#: Default L1 penalty of the sparse decomposition (on unit vectors; see :func:`sparse_decompose`).
SPARSE_ALPHA = 0.15
_FORMAT = "1"
_STORE = DiskCache("concept_reference")


@dataclass
class ReferenceStatistics:
    """Per-concept ``mean`` and ``sd`` of the raw scores over the reference places, and ``center``: the mean of the
    places' unit vectors in the bank's space (used to centre them for sparse decomposition)."""

    mean: np.ndarray
    sd: np.ndarray
    center: np.ndarray
    places: int


def reference_points(reference: Any = None) -> np.ndarray:
    """The reference places as ``(N, 2)`` ``[lat, lon]``: ``None`` = the default 10,000 land points, an integer = that
    many land points (seed 0), or an array of ``[lat, lon]`` rows of the user's own."""
    from geoembed.geo import sample_land_points

    if reference is None:
        reference = REFERENCE_POINTS
    if isinstance(reference, (int, np.integer)) and not isinstance(reference, bool):
        if reference < 10:
            raise ValueError(f"reference must be at least 10 places to estimate a spread, got {reference}.")
        return sample_land_points(int(reference), seed=REFERENCE_SEED)
    from geoembed.coords import as_latlon

    latlon = as_latlon(reference, order="latlon")
    if len(latlon) < 10:
        raise ValueError(f"reference must hold at least 10 places to estimate a spread, got {len(latlon)}.")
    return latlon


class ConceptScorer:
    """Scores places against ``bank`` with ``encoder``, through a concept projection when the spaces differ.

    Attributes:
        bank: the resolved :class:`ConceptBank` (one category of it, when asked).
        model: the location encoder.
        space: the encoder's location space.
        projection: the projection used, or None when the bank lives in the encoder's space.
        projection_name: its registered name (None when given as an object or not used).
    """

    def __init__(self, bank: Any, encoder: Any, *, category: str | None = None, projection: Any = None,
                 device: Any = None, **encoder_kwargs: Any):
        from geoembed.location_encoders.encode import get_location_encoder

        bank = load_concept_bank(bank)
        if category is not None:
            bank = bank.select(category=category)
        self.bank: ConceptBank = bank
        self.model = get_location_encoder(encoder, device=device, **encoder_kwargs)
        self.encoder_name = encoder if isinstance(encoder, str) else type(encoder).__name__
        self.space = location_space(self.model)
        self.projection = None
        self.projection_name: str | None = None
        what = f"the location embeddings of {self.encoder_name!r}"
        if projection is not None:
            self._use_projection(projection)
        elif bank.space != self.space and bank.scoring == "cosine":
            found = find_concept_projection(self.space, bank.space)
            if found is not None:
                self.projection_name, self.projection = found
        if self.projection is None:
            bank.check_compatible(self.model.embedding_dim, self.space, what=what, hint=self._hint())
        else:
            bank.check_compatible(self.projection.embedding_dim, self.projection.target_space,
                                  what=f"{what} projected by {self.projection_name or 'the projection'!r}")

    def _use_projection(self, projection: Any) -> None:
        name = projection if isinstance(projection, str) else None
        resolved = get_concept_projection(projection)
        label = repr(name) if name else type(resolved).__name__
        if resolved.source_space != self.space:
            raise ConceptBankError(
                f"The concept projection {label} reads {resolved.source_space!r}, but the location embeddings of "
                f"{self.encoder_name!r} come from {self.space!r}. Use the encoder it was trained on, or a projection "
                f"from {self.space!r}."
            )
        if self.bank.scoring != "cosine":
            raise ConceptBankError(
                f"A concept projection scores cosine (text) banks; this bank holds linear probes (scoring='linear') "
                f"in {self.bank.space!r}. Leave projection out, or use a text bank."
            )
        if resolved.target_space != self.bank.space:
            raise ConceptBankError(
                f"The concept projection {label} writes vectors of {resolved.target_space!r}, but this concept bank "
                f"lives in {self.bank.space!r}. Build the bank with the text encoder of {resolved.target_space!r}."
            )
        self.projection_name, self.projection = name, resolved

    def _hint(self) -> str:
        """What would work instead of a bank from another space: projections from here, or a bank in this space."""
        if self.bank.scoring != "cosine":
            return ""
        out = [(n, p.target_space) for n, p in registered_projections(self.space)]
        if out:
            where = "; ".join(f"{n!r} -> {t!r}" for n, t in out)
            return (f" Registered concept projections from {self.space!r}: {where}; use a text bank built in one of "
                    f"those spaces (e.g. ConceptBank.from_texts(..., text_encoder=...) with that text encoder).")
        return (f" No registered concept projection maps {self.space!r} into {self.bank.space!r} "
                f"(geoembed.list_concept_projections() lists them; register one with "
                f"geoembed.register_concept_projection(name, projection)).")

    # -- vectors and scores --------------------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        projection = "none" if self.projection is None else projection_identity(self.projection)
        return f"{self.model.identity}|{projection}"

    def location_embeddings(self, latlon: np.ndarray, *, batch_size: int = 8192, progress: bool = False) -> np.ndarray:
        from geoembed.location_encoders.encode import encode_location

        return encode_location(latlon, order="latlon", encoder=self.model, batch_size=batch_size, progress=progress)

    def to_bank_space(self, embeddings: np.ndarray) -> np.ndarray:
        """Location embeddings -> vectors in the bank's space (projected when the spaces differ)."""
        return embeddings if self.projection is None else apply_projection(self.projection, embeddings)

    def vectors(self, latlon: np.ndarray, *, batch_size: int = 8192, progress: bool = False) -> np.ndarray:
        """``(N, D_bank)`` vectors of the places in the bank's space."""
        return self.to_bank_space(self.location_embeddings(latlon, batch_size=batch_size, progress=progress))

    def raw_scores(self, vectors: np.ndarray) -> np.ndarray:
        """``(N, K)`` raw scores (cosine, or probability for linear banks) of bank-space vectors."""
        space = self.bank.space if self.projection is not None else self.space
        return self.bank.score(vectors, space=space)

    def reference(self, reference: Any = None, *, progress: bool = False) -> ReferenceStatistics:
        """Statistics of the raw scores over the reference places (cached on disk; see the module docstring)."""
        latlon = reference_points(reference)
        points_key = cache_key("concept-reference-places", _FORMAT, self.model.identity, latlon)
        embeddings = _STORE.load(points_key, shape=(len(latlon), self.model.embedding_dim), dtype=np.float32,
                                 label="places")
        if embeddings is None:
            embeddings = self.location_embeddings(latlon, progress=progress)
            _STORE.save(points_key, np.asarray(embeddings, np.float32), label="places",
                        info={"encoder": self.model.identity, "places": len(latlon)})
        # the projection's output on a few reference places enters the key: a projection whose weights changed
        # without a new identity still gets new statistics
        probe = (np.zeros(1, np.float32) if self.projection is None
                 else self.to_bank_space(embeddings[:16]).astype(np.float32))
        bank = self.bank
        stats_key = cache_key("concept-reference-stats", _FORMAT, points_key, self.identity, probe, bank.space,
                              bank.scoring, bank.embeddings.numpy(), None if bank.bias is None else bank.bias.numpy(),
                              "\x1f".join(bank.names))
        width = (self.projection.embedding_dim if self.projection is not None else self.model.embedding_dim)
        stored = _STORE.load(stats_key, shape=(2 * len(bank) + width,), dtype=np.float64, label="stats")
        if stored is None:
            vectors = self.to_bank_space(embeddings)
            scores = self.raw_scores(vectors).astype(np.float64)
            unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            stored = np.concatenate([scores.mean(axis=0), scores.std(axis=0), unit.mean(axis=0, dtype=np.float64)])
            _STORE.save(stats_key, stored, label="stats",
                        info={"encoder": self.model.identity, "projection": self.identity, "bank_space": bank.space,
                              "concepts": len(bank), "places": len(latlon)})
        k = len(bank)
        sd = stored[k:2 * k]
        floor = max(SD_FLOOR * float(np.median(sd)), 1e-6)
        return ReferenceStatistics(mean=stored[:k], sd=np.maximum(sd, floor), center=stored[2 * k:],
                                   places=len(latlon))

    def scores(self, latlon: np.ndarray, *, standardize: bool = False, reference: Any = None,
               batch_size: int = 8192, progress: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """``(raw, z-scores or None)`` scores ``(N, K)``: z-scores against the reference places when ``standardize``."""
        raw = self.raw_scores(self.vectors(latlon, batch_size=batch_size, progress=progress))
        if not standardize:
            return raw, None
        stats = self.reference(reference, progress=progress)
        return raw, ((raw - stats.mean) / stats.sd).astype(np.float32)


def sparse_decompose(vectors: Any, concepts: Any, *, alpha: float = SPARSE_ALPHA, vector_mean: Any = None,
                     concept_mean: Any = None, max_iter: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative sparse codes of ``(N, D)`` vectors over ``(K, D)`` concept vectors (SpLiCE-style).

    Both sides are L2-normalised; ``vector_mean`` / ``concept_mean`` (``(D,)``), when given, are subtracted first
    and the results normalised again (SpLiCE's centring, which removes the offset every vector of a space shares).
    Solves ``min_w 0.5 ||x - w C||^2 + alpha ||w||_1`` with ``w >= 0`` per row by coordinate descent
    (:func:`sklearn.decomposition.sparse_encode`, ``algorithm="lasso_cd"``, ``positive=True``).

    Returns ``(weights (N, K) float32 >= 0, reconstruction cosine (N,))``: the cosine between each (centred) vector
    and ``w C``; 0 where no concept was chosen.
    """
    from sklearn.decomposition import sparse_encode

    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha (the L1 penalty) must be a positive number, got {alpha!r}.")
    x = _unit(np.atleast_2d(np.asarray(vectors, dtype=np.float64)))
    c = _unit(np.asarray(concepts, dtype=np.float64))
    if x.shape[1] != c.shape[1]:
        raise ConceptBankError(f"Dimension mismatch: vectors have {x.shape[1]} values, concepts {c.shape[1]}.")
    if vector_mean is not None:
        x = _unit(x - np.asarray(vector_mean, dtype=np.float64))
    if concept_mean is not None:
        c = _unit(c - np.asarray(concept_mean, dtype=np.float64))
    weights = sparse_encode(x, c, algorithm="lasso_cd", alpha=float(alpha), positive=True, max_iter=max_iter)
    recon = weights @ c
    norms = np.linalg.norm(recon, axis=1)
    cosine = np.where(norms > 0, np.einsum("nd,nd->n", x, recon) / np.maximum(norms, 1e-12), 0.0)
    return weights.astype(np.float32), cosine.astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
