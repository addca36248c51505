"""The evaluation protocol: splits, probes and metrics.

Splits (every one seeded):

- ``spatial`` (the default): spatial block cross-validation. Rows are put in blocks of ``block_size_deg`` degrees
  (by their point, or a polygon's equal-area centroid; see :func:`block_ids`) and whole blocks are held out together
  (:class:`sklearn.model_selection.GroupKFold` with shuffled blocks), so a test row never has a training row next
  door. This is what tells you how an encoder does where it has not seen data.
- ``random``: random K-fold (stratified for classification). Neighbours leak between train and test through spatial
  autocorrelation; the gap to ``spatial`` shows how much a random split flatters a method.
- ``holdout``: one fixed random 80/20 split, to compare with published tables that used it.

Probes: every hyper-parameter is chosen by an inner cross-validation inside the training rows, which is spatial
(:class:`~sklearn.model_selection.GroupKFold` over the same blocks) in the spatial split and random otherwise, so
that a probe is tuned for the question its split asks. Regression targets are standardised for fitting, then scored
in target units.

- ``linear``: RidgeCV / LogisticRegressionCV on standardised features; regularisation from ``RIDGE_ALPHAS`` /
  ``LOGISTIC_CS``.
- ``knn``: k-nearest neighbours, distance-weighted; the inner CV picks ``k`` from ``KNN_NEIGHBOURS`` and the
  distance from ``KNN_METRICS``: cosine distance on L2-normalised embeddings (how embeddings are usually compared)
  or Euclidean distance on standardised features (what raw coordinates such as ``latlon`` need).
- ``mlp``: one hidden layer (early stopping from 1,000 training rows); the inner CV picks its width
  (``MLP_WIDTHS``) and L2 penalty (``MLP_ALPHAS``), scoring all six candidates on the first inner fold and the best
  two on every fold (:class:`FoldHalvingSearch`). Without that choice an MLP with fixed settings overfits the small
  tasks (159-176 rows, 512 features) and then measures the probe rather than the embedding.

Inner CV scores: R2 for regression, macro-F1 for classification (the suite's primary metrics); the linear
classifier keeps LogisticRegressionCV's log loss.

Around the folds:

- **Block-size sweep** (:data:`DEFAULT_BLOCK_SWEEP`): the spatial split at several block sizes, because one size
  saturates on regional data (a 15-degree block holds all of Georgia). :func:`check_blocks` is the saturation check:
  a size that leaves fewer blocks with data than folds is *refused* (no folds can be made), one that leaves fewer
  than :data:`SATURATION_BLOCKS_PER_FOLD` blocks per fold, or one block holding more than a fold's share of the rows,
  is *flagged* (its folds are few, uneven blocks, and its scores noisy).
- **Buffered exclusion** (:func:`buffer_training_rows`): per fold, training rows within ``buffer_km`` great-circle
  kilometres of any test row are dropped, so that no training row sits next door to a test row even across a block
  edge (or in a random split); the kept fraction is recorded on every result row.

Presets (:data:`PROTOCOLS`): ``"default"`` is the protocol above; ``"coordbench"`` follows CoordBench
(torchgeo-bench): closed-form ridge over alphas 1e-4..1e6 (efficient leave-one-out, :class:`~sklearn.linear_model.
RidgeCV` / :class:`~sklearn.linear_model.RidgeClassifierCV`), kNN with k = 5 (uniform weights, Euclidean distance on
standardised features), 10-degree blocks for every task, R2 floored at -1 in summaries, no MLP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from geoembed.errors import DataFileError

SPLITS = ("spatial", "random", "holdout")
PROBES = ("linear", "knn", "mlp")
RIDGE_ALPHAS = tuple(np.logspace(-3, 5, 9))
LOGISTIC_CS = (0.01, 0.1, 1.0, 10.0)
KNN_NEIGHBOURS = (5, 10, 20, 40)
KNN_METRICS = ("cosine", "euclidean")
MLP_WIDTHS = (16, 64)
MLP_ALPHAS = (1.0, 30.0, 1000.0)
# A larger step than scikit-learn's default and at most 40 epochs keep the 10 fits of the search affordable (about
# four times one fit of the former fixed MLP), with the same or better scores on the built-in tasks. Batches of 256
# rows, or an eighth of the training rows (at least 32), so that a 150-row task still takes several steps per epoch.
# Early stopping (on a 10 % validation split) needs a split worth the name: below MLP_EARLY_STOPPING_ROWS training
# rows it would stop on noise, and the MLP trains for max_iter epochs, held back by its L2 penalty alone.
MLP_OPTIONS = dict(learning_rate_init=1e-2, n_iter_no_change=4, max_iter=40)
MLP_BATCH = (32, 256)
MLP_EARLY_STOPPING_ROWS = 1000
MLP_FINALISTS = 2  # candidates scored on every inner fold after the first fold has ranked them all
INNER_SCORING = {"regression": "r2", "classification": "f1_macro"}
INNER_CV = 3  # folds of the inner cross-validation that picks every probe's hyper-parameters
DEFAULT_BLOCK_SWEEP = (1.0, 2.0, 5.0, 10.0, 20.0, 40.0)  # degrees; the random split is the sweep's other end
SATURATION_BLOCKS_PER_FOLD = 2  # fewer blocks with data per fold than this flags a block size as saturated
COORDBENCH_ALPHAS = tuple(np.logspace(-4, 6, 11))


@dataclass(frozen=True)
class ProtocolSettings:
    """The settings of a protocol preset (see :data:`PROTOCOLS`)."""

    name: str
    probes: tuple[str, ...]
    block_size_deg: float | None  # None: each task's own block size
    ridge_alphas: tuple[float, ...] = RIDGE_ALPHAS
    closed_form_linear: bool = False  # True: ridge (and ridge classifier) by efficient leave-one-out only
    knn_neighbours: tuple[int, ...] = KNN_NEIGHBOURS
    knn_metrics: tuple[str, ...] = KNN_METRICS
    knn_weights: str = "distance"
    r2_floor: float = -1.0


PROTOCOLS: dict[str, ProtocolSettings] = {
    "default": ProtocolSettings("default", probes=PROBES, block_size_deg=None),
    "coordbench": ProtocolSettings("coordbench", probes=("linear", "knn"), block_size_deg=10.0,
                                   ridge_alphas=COORDBENCH_ALPHAS, closed_form_linear=True, knn_neighbours=(5,),
                                   knn_metrics=("euclidean",), knn_weights="uniform"),
}


def protocol_settings(name: str) -> ProtocolSettings:
    """The preset called ``name`` (``"default"`` or ``"coordbench"``)."""
    if name not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {name!r}.")
    return PROTOCOLS[name]


def block_ids(latlon: np.ndarray, block_size_deg: float) -> np.ndarray:
    """Integer id of the lat/lon block holding each ``[lat, lon]`` row.

    Rows of ``block_size_deg`` degrees of latitude from the south pole; columns of ``360 / n`` degrees of longitude
    from the antimeridian, with ``n`` the whole number of columns of at least ``block_size_deg`` that go round the
    globe (exactly ``block_size_deg`` when it divides 360, as 0.5, 1, 5 and 15 do). Longitudes wrap: 180 and -180 are
    the same meridian, and no sliver column is left at the antimeridian for other sizes. Points at 179.9 and -179.9
    degrees fall in the two columns that meet there, neighbours like the columns at any other block edge; a polygon
    is placed by one anchor (:func:`~geoembed.downstream.geometry.anchor_points`), which is antimeridian-safe, so a
    polygon across it is never split.
    """
    if not block_size_deg > 0:
        raise ValueError(f"block_size_deg must be positive, got {block_size_deg!r}.")
    latlon = np.asarray(latlon, dtype=np.float64)
    rows = np.floor((latlon[:, 0] + 90.0) / block_size_deg).astype(np.int64)
    n_cols = max(1, int(np.floor(360.0 / block_size_deg + 1e-9)))
    cols = np.floor(np.mod(latlon[:, 1] + 180.0, 360.0) / (360.0 / n_cols)).astype(np.int64) % n_cols
    return rows * 100_000 + cols


def check_blocks(latlon: np.ndarray, block_size_deg: float, n_splits: int) -> dict:
    """The saturation check of one block size: ``{"block_size_deg", "n_blocks", "largest_block_share", "status",
    "reason"}`` with status ``"ok"``, ``"flagged"`` (fewer than :data:`SATURATION_BLOCKS_PER_FOLD` blocks per fold, or
    one block holding more than a fold's share of the rows) or ``"refused"`` (fewer blocks than folds)."""
    groups = block_ids(latlon, block_size_deg)
    _, counts = np.unique(groups, return_counts=True)
    n_blocks, share = len(counts), float(counts.max() / counts.sum())
    status, reason = "ok", ""
    if n_blocks < n_splits:
        status, reason = "refused", f"{n_blocks} blocks hold data, fewer than the {n_splits} folds"
    elif n_blocks < SATURATION_BLOCKS_PER_FOLD * n_splits:
        status, reason = "flagged", (f"{n_blocks} blocks for {n_splits} folds (fewer than "
                                     f"{SATURATION_BLOCKS_PER_FOLD} per fold)")
    elif share > 1.0 / n_splits:
        status, reason = "flagged", f"one block holds {share:.0%} of the rows, more than a fold's share"
    return {"block_size_deg": float(block_size_deg), "n_blocks": n_blocks, "largest_block_share": round(share, 4),
            "status": status, "reason": reason}


def buffer_training_rows(latlon: np.ndarray, train: np.ndarray, test: np.ndarray, buffer_km: float) -> np.ndarray:
    """``train`` without the rows within ``buffer_km`` great-circle km of any ``test`` row (haversine
    :class:`~sklearn.neighbors.BallTree` over the test rows; ``[lat, lon]`` degrees). ``buffer_km = 0`` keeps all."""
    if not buffer_km or len(test) == 0:
        return train
    if buffer_km < 0:
        raise ValueError(f"buffer_km must be >= 0, got {buffer_km!r}.")
    from geoembed.downstream.interpolation import distance_to_nearest_km

    latlon = np.asarray(latlon, dtype=np.float64)
    near = distance_to_nearest_km(latlon[train], latlon[test]) < buffer_km
    return train[~near]


def make_folds(
    split: str,
    latlon: np.ndarray,
    y: np.ndarray,
    *,
    classification: bool,
    n_splits: int = 5,
    block_size_deg: float = 15.0,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train_rows, test_rows)`` pairs of one split design (see the module docstring)."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, train_test_split

    n = len(y)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}.")
    if classification:
        check_class_sizes(y, n_splits if split != "holdout" else 2)
    rows = np.arange(n)
    if split == "holdout":
        train, test = train_test_split(rows, test_size=0.2, random_state=seed, stratify=y if classification else None)
        return [(np.sort(train), np.sort(test))]
    if split == "random":
        splitter = (StratifiedKFold if classification else KFold)(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(rows, y))
    groups = block_ids(latlon, block_size_deg)
    n_blocks = len(np.unique(groups))
    if n_blocks < n_splits:
        raise DataFileError(
            f"Only {n_blocks} spatial blocks of {block_size_deg} deg hold data, fewer than the {n_splits} folds; use a "
            f"smaller block_size_deg or fewer folds."
        )
    return list(GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(rows, y, groups))


def check_class_sizes(y: np.ndarray, n_splits: int) -> None:
    """Every class needs at least ``n_splits`` rows, or some folds could not score it: say which and what to do."""
    labels, counts = np.unique(y, return_counts=True)
    small = labels[counts < n_splits]
    if len(small):
        raise DataFileError(
            f"{len(small)} class(es) have fewer rows than the {n_splits} folds (e.g. {str(small[0])!r} with "
            f"{int(counts[counts < n_splits][0])}); merge or drop rare classes, or use fewer folds."
        )


def make_probe(probe: str, *, classification: bool, seed: int = 0, inner_cv: Any = None,
               max_neighbours: int | None = None, n_rows: int | None = None, protocol: str = "default") -> Any:
    """An unfitted scikit-learn estimator: scaling + probe (+ target scaling for regression), tuned by ``inner_cv``.

    ``inner_cv``: the (train, test) splits that choose the hyper-parameters. None: efficient leave-one-out for ridge,
    otherwise ``INNER_CV`` shuffled (stratified, for classification) folds. ``max_neighbours``: the kNN probe
    tries no ``k`` above this (the fewest training rows of an inner fold). ``n_rows``: training rows, which set the
    MLP's batch size (``MLP_BATCH``) and whether it stops early (``MLP_EARLY_STOPPING_ROWS``). ``protocol``: a
    preset of :data:`PROTOCOLS` (``"coordbench"``: closed-form ridge, kNN with k = 5).
    """
    from sklearn.linear_model import LogisticRegressionCV, RidgeClassifierCV, RidgeCV
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}, got {probe!r}.")
    settings = protocol_settings(protocol)
    if probe == "linear" and settings.closed_form_linear:  # efficient leave-one-out over the alphas, no inner folds
        if classification:
            return make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=settings.ridge_alphas))
        return _scaled_target(make_pipeline(StandardScaler(), RidgeCV(alphas=settings.ridge_alphas)))
    if probe == "linear":
        if classification:
            return make_pipeline(StandardScaler(), LogisticRegressionCV(
                Cs=list(LOGISTIC_CS), cv=inner_cv or INNER_CV, max_iter=200, tol=1e-3,
                **_new_logistic_defaults(LogisticRegressionCV)))
        return _scaled_target(make_pipeline(StandardScaler(), RidgeCV(alphas=settings.ridge_alphas, cv=inner_cv)))
    if inner_cv is None:
        inner_cv = (StratifiedKFold if classification else KFold)(INNER_CV, shuffle=True, random_state=seed)
    if probe == "knn":
        return KNNProbe(classification=classification, inner_cv=inner_cv, max_neighbours=max_neighbours,
                        neighbours=settings.knn_neighbours, metrics=settings.knn_metrics, weights=settings.knn_weights)
    batch = MLP_BATCH[1] if n_rows is None else int(np.clip(n_rows // 8, *MLP_BATCH))
    early_stopping = n_rows is None or n_rows >= MLP_EARLY_STOPPING_ROWS
    mlp = (MLPClassifier if classification else MLPRegressor)(random_state=seed, batch_size=batch,
                                                              early_stopping=early_stopping, **MLP_OPTIONS)
    model = Pipeline([("features", StandardScaler()), ("probe", mlp)])
    grid = [{"probe__hidden_layer_sizes": (w,), "probe__alpha": a} for w in MLP_WIDTHS for a in MLP_ALPHAS]
    search = FoldHalvingSearch(model, grid, cv=inner_cv, finalists=MLP_FINALISTS,
                               scoring=INNER_SCORING["classification" if classification else "regression"])
    return search if classification else _scaled_target(search)


def _scaled_target(model: Any) -> Any:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())


def _new_logistic_defaults(cls) -> dict:
    """Opt in to scikit-learn >= 1.8's LogisticRegressionCV defaults where they exist (silences FutureWarnings)."""
    import inspect

    wanted = {"l1_ratios": (0.0,), "scoring": "neg_log_loss", "use_legacy_attributes": False}
    accepted = inspect.signature(cls).parameters
    return {k: v for k, v in wanted.items() if k in accepted}


class FoldHalvingSearch(BaseEstimator):
    """Grid search over inner CV folds that drops weak candidates early (used for the MLP probe).

    Every candidate is fitted and scored on the first inner fold; only the ``finalists`` best go on to the other
    folds, and the one with the best mean over all folds wins and is refitted on every training row. With six MLP
    candidates and three folds that is 10 fits instead of 18, and the winner is still chosen on every fold. (A
    candidate that fails to fit scores minus infinity.)
    """

    def __init__(self, estimator: Any, grid: list[dict], *, cv: Any, scoring: str, finalists: int = 2):
        self.estimator, self.grid, self.cv, self.scoring, self.finalists = estimator, grid, cv, scoring, finalists

    def fit(self, X, y):
        from sklearn.base import clone
        from sklearn.metrics import get_scorer

        X, y = np.asarray(X), np.asarray(y)
        scorer = get_scorer(self.scoring)
        folds = list(self.cv.split(X, y) if hasattr(self.cv, "split") else self.cv)
        scores: dict[int, list[float]] = {i: [] for i in range(len(self.grid))}
        alive = list(range(len(self.grid)))
        for j, (train, test) in enumerate(folds):
            for i in alive:
                try:
                    fitted = clone(self.estimator).set_params(**self.grid[i]).fit(X[train], y[train])
                    scores[i].append(float(scorer(fitted, X[test], y[test])))
                except ValueError:
                    scores[i].append(-np.inf)
            if j == 0:
                alive = sorted(alive, key=lambda i: -scores[i][0])[: max(1, self.finalists)]
        self.cv_scores_ = {i: float(np.mean(v)) for i, v in scores.items()}
        best = max(alive, key=lambda i: self.cv_scores_[i])
        self.best_params_ = dict(self.grid[best])
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y)
        return self

    def predict(self, X):
        return self.best_estimator_.predict(X)


class KNNProbe(BaseEstimator):
    """Distance-weighted k-nearest neighbours with ``k`` and the distance chosen by inner cross-validation.

    Candidates: every ``k`` in ``KNN_NEIGHBOURS`` (up to ``max_neighbours``) with each metric in ``KNN_METRICS``
    (cosine on L2-normalised features, Euclidean on standardised ones). Scoring them needs one neighbour search per
    inner fold and metric (for the largest ``k``; smaller ``k`` reuse its nearest neighbours), not one per candidate
    as a grid search would: the same choice (a test checks it against :class:`~sklearn.model_selection.GridSearchCV`)
    at a fraction of the cost. The chosen model is then refitted on all training rows with scikit-learn's
    ``KNeighborsRegressor`` / ``KNeighborsClassifier``.
    """

    def __init__(self, *, classification: bool, inner_cv: Any = None, max_neighbours: int | None = None,
                 neighbours: tuple[int, ...] = KNN_NEIGHBOURS, metrics: tuple[str, ...] = KNN_METRICS,
                 weights: str = "distance"):
        self.classification = classification
        self.inner_cv = inner_cv
        self.max_neighbours = max_neighbours
        self.neighbours = neighbours
        self.metrics = metrics
        self.weights = weights

    def candidates(self) -> list[tuple[str, int]]:
        ks = [k for k in self.neighbours if self.max_neighbours is None or k <= self.max_neighbours]
        ks = ks or [max(1, int(self.max_neighbours))]
        return [(metric, k) for metric in self.metrics for k in ks]

    def fit(self, X, y):
        from sklearn.metrics import f1_score, r2_score

        X, y = np.asarray(X), np.asarray(y)
        candidates = self.candidates()
        folds = self.inner_cv if self.inner_cv is not None else _random_inner_cv(y, self.classification, 0)
        if len(candidates) == 1:  # nothing to choose (a fixed k, as in the coordbench preset)
            folds = []
        scores = np.zeros(len(candidates))
        for train, test in folds:
            for metric in self.metrics:
                ks = [k for m, k in candidates if m == metric]
                self._n_fit = len(train)
                model = self._model(metric, max(ks)).fit(X[train], y[train])
                features = model[:-1].transform(X[test])
                dist, idx = model[-1].kneighbors(features, n_neighbors=min(max(ks), len(train)))
                for k in ks:
                    pred = self._vote(dist[:, :k], y[train][idx[:, :k]], model[-1])
                    score = (f1_score(y[test], pred, average="macro", zero_division=0) if self.classification
                             else r2_score(y[test], pred))
                    scores[candidates.index((metric, k))] += score / len(folds)
        self.cv_scores_ = dict(zip(candidates, scores))
        metric, k = candidates[int(np.argmax(scores))]
        self.best_params_ = {"probe__metric": metric, "probe__n_neighbors": k}
        self._n_fit = len(y)
        self.model_ = self._model(metric, k).fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def _model(self, metric: str, k: int):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import Normalizer, StandardScaler

        knn = (KNeighborsClassifier if self.classification else KNeighborsRegressor)(
            n_neighbors=min(k, self._n_fit), metric=metric, weights=self.weights)
        return make_pipeline(Normalizer() if metric == "cosine" else StandardScaler(), knn)

    def _vote(self, dist: np.ndarray, labels: np.ndarray, knn) -> np.ndarray:
        """scikit-learn's distance-weighted prediction from given neighbours (a row with an exact match uses only
        its exact matches)."""
        exact = dist == 0
        with np.errstate(divide="ignore"):
            weights = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), 1.0 / dist)
        if not self.classification:
            return (weights * labels).sum(axis=1) / weights.sum(axis=1)
        classes = knn.classes_
        codes = np.searchsorted(classes, labels)
        votes = np.zeros((len(labels), len(classes)))
        np.add.at(votes, (np.repeat(np.arange(len(labels)), labels.shape[1]), codes.ravel()), weights.ravel())
        return classes[np.argmax(votes, axis=1)]


def inner_splits(probe: str, y_train: np.ndarray, groups: np.ndarray | None, *, seed: int = 0) -> list | None:
    """The inner CV of one fit: ``INNER_CV`` spatial folds over ``groups`` (the training rows' blocks), or None
    (random inner CV, see :func:`make_probe`) without groups or with fewer than ``INNER_CV`` blocks."""
    if groups is None or len(np.unique(groups)) < INNER_CV:
        return None
    from sklearn.model_selection import GroupKFold

    splitter = GroupKFold(n_splits=INNER_CV, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((len(y_train), 1)), y_train, groups))


def fit_probe(probe: str, X_train, y_train, *, classification: bool, seed: int = 0,
              groups: np.ndarray | None = None, protocol: str = "default") -> Any:
    """Fit a probe on the training rows; returns the fitted estimator (see :func:`fit_predict`)."""
    import warnings

    from scipy.linalg import LinAlgWarning
    from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning

    closed_form = probe == "linear" and protocol_settings(protocol).closed_form_linear
    if classification and probe == "linear" and not closed_form:
        labels, counts = np.unique(y_train, return_counts=True)
        keep = np.isin(y_train, labels[counts >= INNER_CV])
        X_train, y_train = X_train[keep], y_train[keep]
        groups = None if groups is None else groups[keep]
        if len(np.unique(y_train)) < 2:
            return _Constant(labels[np.argmax(counts)])
    inner_cv = None if closed_form else inner_splits(probe, y_train, groups, seed=seed)
    if probe != "linear" and inner_cv is None:
        inner_cv = _random_inner_cv(y_train, classification, seed)
    smallest = min(len(train) for train, _ in inner_cv) if inner_cv else None  # k cannot exceed an inner fit's rows
    model = make_probe(probe, classification=classification, seed=seed, inner_cv=inner_cv, max_neighbours=smallest,
                       n_rows=len(y_train), protocol=protocol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # bounded iterations are part of the protocol
        # the smallest ridge penalties are ill-conditioned on collinear features; the inner CV then rejects them
        warnings.simplefilter("ignore", LinAlgWarning)
        # an inner fold may lack a class: macro-F1 there counts it as 0, which is what a probe should be told
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="The least populated class in y has only")
        warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
        model.fit(X_train, y_train)
    return model


def _random_inner_cv(y_train: np.ndarray, classification: bool, seed: int) -> list:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if classification else KFold)(INNER_CV, shuffle=True, random_state=seed)
    if classification and np.unique(y_train, return_counts=True)[1].min() < INNER_CV:
        splitter = KFold(INNER_CV, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((len(y_train), 1)), y_train))


class _Constant:
    """A 'probe' that predicts one label: what is left when a training fold holds a single usable class."""

    def __init__(self, label):
        self.label = label

    def predict(self, X):
        return np.full(len(X), self.label)


def chosen_hyperparameters(model: Any) -> dict:
    """The hyper-parameters a fitted probe's inner CV chose, e.g. ``{"k": 20, "metric": "cosine"}``."""
    if hasattr(model, "regressor_"):
        model = model.regressor_
    if hasattr(model, "best_params_"):
        names = {"probe__n_neighbors": "k", "probe__metric": "metric", "probe__alpha": "alpha",
                 "probe__hidden_layer_sizes": "width", "probe__power": "power"}
        chosen = {names[k]: v for k, v in model.best_params_.items() if k in names}
        if "width" in chosen:
            chosen["width"] = int(chosen["width"][0])
        return chosen
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if hasattr(last, "alpha_"):
        return {"alpha": float(last.alpha_)}
    if hasattr(last, "C_"):
        return {"C": float(np.ravel(last.C_)[0])}
    return {}


def fit_predict(
    probe: str, X_train, y_train, X_test, *, classification: bool, seed: int = 0, groups: np.ndarray | None = None
) -> np.ndarray:
    """Fit a probe on the training rows and predict the test rows.

    ``groups`` (spatial block ids of the training rows, given for the spatial split) make the probe choose its
    hyper-parameters by spatial block CV too: a random inner split would leak just as a random outer split does, and
    pick too little regularisation for extrapolating to unseen blocks. With fewer than 3 blocks the inner CV is random.

    For classification, training classes too rare for the linear probe's internal cross-validation (which can happen
    when spatial folds split a class unevenly) are left out of that fold's training set: the probe then simply never
    predicts them there, and the test metrics count that as errors.
    """
    return fit_probe(probe, X_train, y_train, classification=classification, seed=seed, groups=groups).predict(X_test)


def score(y_true: np.ndarray, y_pred: np.ndarray, *, classification: bool) -> dict[str, float]:
    """``{"r2", "mae", "rmse"}`` or ``{"accuracy", "macro_f1"}``; macro-F1 over the classes present in the fold."""
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score

    if classification:
        return {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=np.unique(y_true), zero_division=0)),
        }
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
    }

