"""The evaluation protocol: splits, probes and metrics.

Splits (every one seeded):

- ``spatial`` (the default): spatial block cross-validation. Rows are put in square blocks of ``block_size_deg``
  degrees (by their point, or a polygon's equal-area centroid) and whole blocks are held out together
  (:class:`sklearn.model_selection.GroupKFold` with shuffled blocks), so a test row never has a training row next
  door. This is what tells you how an encoder does where it has not seen data.
- ``random``: random K-fold (stratified for classification). Neighbours leak between train and test through spatial
  autocorrelation; the gap to ``spatial`` shows how much a random split flatters a method.
- ``holdout``: one fixed random 80/20 split, to compare with published tables that used it.

Probes, all on standardised features (regression targets standardised too, then scored in target units):
``linear`` (RidgeCV / LogisticRegressionCV: regularisation chosen by internal cross-validation), ``knn``
(k-nearest neighbours, distance-weighted) and ``mlp`` (one hidden layer, early stopping).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geoembed.errors import DataFileError

SPLITS = ("spatial", "random", "holdout")
PROBES = ("linear", "knn", "mlp")
RIDGE_ALPHAS = tuple(np.logspace(-3, 5, 9))
LOGISTIC_CS = (0.01, 0.1, 1.0, 10.0)
KNN_NEIGHBOURS = 10
MLP_HIDDEN = (128,)
# Early stopping on a 10 % validation split; larger batches and step than scikit-learn's defaults: 2-4x faster to
# fit here, with the same or better validation scores.
MLP_OPTIONS = dict(early_stopping=True, batch_size=256, learning_rate_init=3e-3, n_iter_no_change=5, max_iter=100)
INNER_CV = 3  # folds of the internal cross-validation that picks the linear probe's regularisation


def block_ids(latlon: np.ndarray, block_size_deg: float) -> np.ndarray:
    """Integer id of the ``block_size_deg`` square lat/lon block holding each ``[lat, lon]`` row."""
    if not block_size_deg > 0:
        raise ValueError(f"block_size_deg must be positive, got {block_size_deg!r}.")
    rows = np.floor((latlon[:, 0] + 90.0) / block_size_deg).astype(np.int64)
    cols = np.floor((np.mod(latlon[:, 1] + 180.0, 360.0)) / block_size_deg).astype(np.int64)
    return rows * 100_000 + cols


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


def make_probe(probe: str, *, classification: bool, seed: int = 0, inner_cv: Any = None) -> Any:
    """An unfitted scikit-learn pipeline: scaler + probe (+ target scaling for regression).

    ``inner_cv``: the (train, test) splits that choose the linear probe's regularisation; None uses efficient
    leave-one-out (ridge) or 3 stratified folds (logistic).
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}, got {probe!r}.")
    if classification:
        model = {
            "linear": lambda: LogisticRegressionCV(Cs=list(LOGISTIC_CS), cv=inner_cv or INNER_CV, max_iter=200,
                                                   tol=1e-3, **_new_logistic_defaults(LogisticRegressionCV)),
            "knn": lambda: KNeighborsClassifier(n_neighbors=KNN_NEIGHBOURS, weights="distance"),
            "mlp": lambda: MLPClassifier(hidden_layer_sizes=MLP_HIDDEN, random_state=seed, **MLP_OPTIONS),
        }[probe]()
        return make_pipeline(StandardScaler(), model)
    model = {
        "linear": lambda: RidgeCV(alphas=RIDGE_ALPHAS, cv=inner_cv),
        "knn": lambda: KNeighborsRegressor(n_neighbors=KNN_NEIGHBOURS, weights="distance"),
        "mlp": lambda: MLPRegressor(hidden_layer_sizes=MLP_HIDDEN, random_state=seed, **MLP_OPTIONS),
    }[probe]()
    return TransformedTargetRegressor(regressor=make_pipeline(StandardScaler(), model), transformer=StandardScaler())


def _new_logistic_defaults(cls) -> dict:
    """Opt in to scikit-learn >= 1.8's LogisticRegressionCV defaults where they exist (silences FutureWarnings)."""
    import inspect

    wanted = {"l1_ratios": (0.0,), "scoring": "neg_log_loss", "use_legacy_attributes": False}
    accepted = inspect.signature(cls).parameters
    return {k: v for k, v in wanted.items() if k in accepted}


def fit_predict(
    probe: str, X_train, y_train, X_test, *, classification: bool, seed: int = 0, groups: np.ndarray | None = None
) -> np.ndarray:
    """Fit a probe on the training rows and predict the test rows.

    ``groups`` (spatial block ids of the training rows, given for the spatial split) make the linear probe choose its
    regularisation by spatial block CV too: a random inner split would leak just as a random outer split does, and
    pick too little regularisation for extrapolating to unseen blocks. With fewer than 3 blocks the inner CV is random.

    For classification, training classes too rare for the linear probe's internal cross-validation (which can happen
    when spatial folds split a class unevenly) are left out of that fold's training set: the probe then simply never
    predicts them there, and the test metrics count that as errors.
    """
    import warnings

    from scipy.linalg import LinAlgWarning
    from sklearn.exceptions import ConvergenceWarning

    if classification and probe == "linear":
        labels, counts = np.unique(y_train, return_counts=True)
        keep = np.isin(y_train, labels[counts >= INNER_CV])
        X_train, y_train = X_train[keep], y_train[keep]
        groups = None if groups is None else groups[keep]
        if len(np.unique(y_train)) < 2:
            return np.full(len(X_test), labels[np.argmax(counts)])
    inner_cv = None
    if probe == "linear" and groups is not None and len(np.unique(groups)) >= INNER_CV:
        from sklearn.model_selection import GroupKFold

        splitter = GroupKFold(n_splits=INNER_CV, shuffle=True, random_state=seed)
        inner_cv = list(splitter.split(X_train, y_train, groups))
    model = make_probe(probe, classification=classification, seed=seed, inner_cv=inner_cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # bounded iterations are part of the protocol
        # the smallest ridge penalties are ill-conditioned on collinear features; the inner CV then rejects them
        warnings.simplefilter("ignore", LinAlgWarning)
        # small tasks (176 countries) have fewer training rows than the MLP's batch: one batch is then the whole set
        warnings.filterwarnings("ignore", message="Got `batch_size` less than 1 or larger than sample size")
        model.fit(X_train, y_train)
    return model.predict(X_test)


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

