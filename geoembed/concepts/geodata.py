"""Concept activation vectors (CAVs) in a location encoder's space, learned from labelled places.

This module holds the numerical parts (labels, probes, held-out evaluation) and imports no concept bank:
:meth:`geoembed.ConceptBank.from_geodata` (:func:`geoembed.concepts.bank.fit_geodata_bank`) builds a bank with them.

Given points labelled with classes (climate zones, land cover...) or flags ("coastal", "high altitude"), each concept
gets a linear probe on the L2-normalised location embeddings: a weight vector ``w`` (the concept's direction, its CAV)
and an intercept ``b``. A place then scores ``sigmoid(normalize(x) @ w + b)``: the probe's probability that the
concept applies there. Every place on Earth can be embedded, so every place gets a concept profile.

Two fitting methods:

- ``"logistic"`` (default): one-vs-rest L2-regularised logistic regression on standardised features (scikit-learn),
  folded back into the raw embedding space. It uses every dimension jointly, so correlated features do not bias it.
- ``"mean"``: the class-mean difference ``mean(pos) - mean(neg)`` (the simplest CAV), with a 1-D logistic fit of the
  projection for the intercept and scale (Platt scaling), so its scores are probabilities too.

:func:`evaluate_geodata_concepts` measures how well held-out places, in spatial blocks never seen in training, get
their concepts back (ROC AUC per concept; accuracy of the top concept for each class column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from geoembed.errors import ConceptBankError

METHODS = ("logistic", "mean")


@dataclass
class ConceptLabels:
    """Per-concept binary targets built from label columns.

    Attributes:
        names, categories, columns: one entry per concept (``columns`` is the column it came from).
        targets: ``(N, K)`` bool, True where the concept applies.
        known: ``(N, K)`` bool, False where the row's label is missing for that concept's column.
    """

    names: list[str]
    categories: list[str]
    columns: list[str]
    targets: np.ndarray
    known: np.ndarray


def concept_labels(frame: Any, label_column: str | Sequence[str],
                   categories: str | Mapping[str, str] | None = None) -> ConceptLabels:
    """Turn label columns into binary concept targets.

    A boolean column is one concept named after the column (True = the concept applies). Any other column is a
    class column: one concept per distinct value (one-vs-rest), named ``str(value)``; missing values are unknown.
    ``categories`` is one category path for all concepts, or a mapping from a concept or column name to a path
    (default ``"geodata/<column>"``).
    """
    import pandas as pd

    columns = [label_column] if isinstance(label_column, str) else list(label_column)
    if not columns:
        raise ConceptBankError("label_column names no column.")
    names: list[str] = []
    cats: list[str] = []
    sources: list[str] = []
    targets: list[np.ndarray] = []
    known: list[np.ndarray] = []
    for column in columns:
        if column not in frame.columns:
            raise ConceptBankError(f"No column {column!r} in the data; columns: {list(frame.columns)}.")
        series = frame[column]
        present = series.notna().to_numpy()
        if pd.api.types.is_bool_dtype(series.dtype):
            values = {column: series.fillna(False).to_numpy(dtype=bool)}
        else:
            levels = sorted(series.dropna().unique(), key=lambda v: str(v))
            if len(levels) < 2:
                raise ConceptBankError(
                    f"Class column {column!r} has {len(levels)} distinct value(s); one-vs-rest concepts need at least "
                    f"two classes (or make it a boolean column for a single concept)."
                )
            values = {str(level): (series == level).to_numpy(dtype=bool) for level in levels}
        for name, target in values.items():
            names.append(name)
            cats.append(_category_for(name, column, categories))
            sources.append(column)
            targets.append(target & present)
            known.append(present.copy())
    return ConceptLabels(names, cats, sources, np.column_stack(targets), np.column_stack(known))


def fit_concept_vectors(embeddings: np.ndarray, targets: np.ndarray, known: np.ndarray | None = None, *,
                        method: str = "logistic", C: float = 1.0, min_positives: int = 10,
                        names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fit one linear probe per concept on ``(N, D)`` embeddings (L2-normalised here) and ``(N, K)`` bool targets.

    Returns ``(weights (K, D), bias (K,))`` float32 in the raw normalised embedding space. A concept with fewer than
    ``min_positives`` positives or negatives among its known rows raises: its vector would be noise.
    """
    from sklearn.linear_model import LogisticRegression

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    x = _normalize(np.asarray(embeddings, dtype=np.float64))
    targets = np.asarray(targets, dtype=bool)
    if targets.ndim != 2 or targets.shape[0] != x.shape[0]:
        raise ConceptBankError(f"targets must be (N, K) with N={x.shape[0]} rows, got {targets.shape}.")
    known = np.ones_like(targets) if known is None else np.asarray(known, dtype=bool)
    names = list(names) if names is not None else [f"concept {k}" for k in range(targets.shape[1])]
    weights = np.empty((targets.shape[1], x.shape[1]), dtype=np.float64)
    bias = np.empty(targets.shape[1], dtype=np.float64)
    for k in range(targets.shape[1]):
        rows = known[:, k]
        y = targets[rows, k]
        positives, negatives = int(y.sum()), int((~y).sum())
        if min(positives, negatives) < min_positives:
            raise ConceptBankError(
                f"Concept {names[k]!r} has {positives} positive and {negatives} negative places; at least "
                f"{min_positives} of each are needed for a meaningful concept vector. Add labelled places, or drop it."
            )
        xk = x[rows]
        if method == "logistic":
            mean, scale = xk.mean(axis=0), xk.std(axis=0) + 1e-8
            probe = LogisticRegression(C=C, max_iter=2000).fit((xk - mean) / scale, y)
            w = probe.coef_[0] / scale  # fold the standardisation into the weights
            weights[k], bias[k] = w, probe.intercept_[0] - float(mean @ w)
        else:
            direction = xk[y].mean(axis=0) - xk[~y].mean(axis=0)
            projection = (xk @ direction)[:, None]
            platt = LogisticRegression(C=1e6, max_iter=2000).fit(projection, y)
            weights[k], bias[k] = platt.coef_[0, 0] * direction, platt.intercept_[0]
    return weights.astype(np.float32), bias.astype(np.float32)


# -- spatially held-out evaluation ----------------------------------------------------------------------------------
@dataclass
class GeodataEvaluation:
    """Held-out results: ``concepts`` (one row per concept: positives, ROC AUC, average precision) and ``columns``
    (one row per class column: top-concept accuracy and the majority-class baseline)."""

    concepts: Any
    columns: Any
    n_folds: int
    block_deg: float


def spatial_block_folds(latlon: np.ndarray, *, n_folds: int = 5, block_deg: float = 10.0, seed: int = 0) -> np.ndarray:
    """A fold id per point: ``block_deg`` x ``block_deg`` lat/lon blocks are dealt at random into ``n_folds`` folds,
    so a test place never shares its block with a training place (spatial cross-validation).

    The blocks are the benchmark's (:func:`geoembed.downstream.protocol.block_ids`): longitudes wrap, so 180 and -180
    are one meridian and no sliver column is left at the antimeridian."""
    from geoembed.downstream.protocol import block_ids

    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}.")
    block = block_ids(np.asarray(latlon, dtype=np.float64), block_deg)
    unique_blocks, inverse = np.unique(block, return_inverse=True)
    rng = np.random.default_rng(seed)
    block_fold = rng.permutation(len(unique_blocks)) % n_folds
    return block_fold[inverse]


def evaluate_geodata_concepts(
    gdf: Any,
    label_column: str | Sequence[str],
    *,
    encoder: Any = "geoclip",
    method: str = "logistic",
    C: float = 1.0,
    n_folds: int = 5,
    block_deg: float = 10.0,
    split_seed: int = 0,
    min_positives: int = 10,
    device: Any = None,
    progress: bool = False,
    **encoder_kwargs: Any,
) -> GeodataEvaluation:
    """Spatial block cross-validation of :func:`fit_geodata_bank`: every place is scored by probes fitted without
    its block. Reports ROC AUC and average precision per concept, and for class columns how often the top-scoring
    concept of the column is the true class (versus always answering the most common class).

    ``split_seed`` deals the blocks into folds; ``encoder_kwargs`` go to the encoder's factory (e.g.
    ``pretrained=False, seed=0`` for a random-weights baseline).
    """
    import pandas as pd
    from sklearn.metrics import average_precision_score, roc_auc_score

    from geoembed.coords import as_latlon
    from geoembed.location_encoders.encode import encode_location, get_location_encoder

    latlon = as_latlon(gdf)
    labels = concept_labels(gdf, label_column)
    model = get_location_encoder(encoder, device=device, **encoder_kwargs)
    x = _normalize(encode_location(latlon, order="latlon", encoder=model, progress=progress).astype(np.float64))
    folds = spatial_block_folds(latlon, n_folds=n_folds, block_deg=block_deg, seed=split_seed)
    scores = np.full(labels.targets.shape, np.nan)
    for fold in range(n_folds):
        train, test = folds != fold, folds == fold
        if not test.any():
            continue
        w, b = fit_concept_vectors(x[train], labels.targets[train], labels.known[train], method=method, C=C,
                                   min_positives=min_positives, names=labels.names)
        scores[test] = 1.0 / (1.0 + np.exp(-(x[test] @ w.T.astype(np.float64) + b)))

    concept_rows = []
    for k, name in enumerate(labels.names):
        rows = labels.known[:, k]
        y, s = labels.targets[rows, k], scores[rows, k]
        concept_rows.append({
            "concept": name, "column": labels.columns[k], "positives": int(y.sum()), "places": int(rows.sum()),
            "roc_auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s)),
            "base_rate": float(y.mean()),
        })
    column_rows = []
    for column in dict.fromkeys(labels.columns):
        ks = [k for k, c in enumerate(labels.columns) if c == column]
        if len(ks) < 2:
            continue  # a boolean column: one concept, no "top concept"
        rows = labels.known[:, ks[0]]
        truth = labels.targets[rows][:, ks].argmax(axis=1)
        predicted = scores[rows][:, ks].argmax(axis=1)
        column_rows.append({
            "column": column, "classes": len(ks), "places": int(rows.sum()),
            "top1_accuracy": float((predicted == truth).mean()),
            "majority_baseline": float(np.bincount(truth, minlength=len(ks)).max() / len(truth)),
        })
    return GeodataEvaluation(pd.DataFrame(concept_rows), pd.DataFrame(column_rows), n_folds, block_deg)


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _category_for(name: str, column: str, categories: str | Mapping[str, str] | None) -> str:
    if categories is None:
        return f"geodata/{column}"
    if isinstance(categories, str):
        return categories
    return categories.get(name) or categories.get(column) or f"geodata/{column}"
