"""Concept-level explanations of a downstream task: a linear probe on concept features, drawn as a chart.

:func:`explain_task` describes every place of a task by concept activations, fits a standardised linear model of the
task's target on them, and reports (and draws) the concepts with the largest positive and negative coefficients:
"which concepts does this target go with". Concept features come from either

- a location encoder whose outputs *are* concept activations: it declares ``feature_names`` (one concept name per
  output dimension; for example the concept-aware GeoCLIP, ``geoclip-concept``); the features are the encoder's
  :class:`~geoembed.LocationFeaturizer` columns, named by ``feature_names``; or
- any location encoder with a concept bank (``bank=``): the features are the places' concept scores
  (:func:`geoembed.concept_profile`, through a concept projection for text banks).

Both features and target are standardised before fitting, so a coefficient reads "standard deviations of the target
per standard deviation of the concept", comparable across concepts. Regression targets get a ridge regression
(``RidgeCV``, penalty chosen by efficient leave-one-out CV); classification targets a logistic regression, one class
against the rest. How well the probe predicts places it has not seen is measured by spatial block cross-validation
(blocks of the task's ``block_size_deg``), reported next to the coefficients: a concept explanation of a probe that
does not predict is worth little.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RIDGE_ALPHAS = tuple(np.logspace(-3, 4, 15))


@dataclass
class TaskExplanation:
    """What :func:`explain_task` found.

    Attributes:
        task: the task's name.
        target: what the coefficients are about (the target column, or ``column = class`` for classification).
        coefficients: DataFrame ``concept``, ``coefficient`` (standardised), sorted from most positive to most negative.
        features: where the concept features came from (``encoder feature_names`` or the bank and its score).
        cv_metric, cv_score: the spatial block CV metric (``r2`` or ``roc_auc``) of the same probe on held-out places.
        alpha: the ridge penalty chosen (regression) or the logistic regression's ``C`` (classification).
        figure: the PNG path, when ``out`` was given.
    """

    task: str
    target: str
    coefficients: Any
    features: str
    cv_metric: str
    cv_score: float
    alpha: float
    figure: Path | None = None

    def top(self, n: int = 10):
        """The ``n`` most positive and ``n`` most negative concepts."""
        table = self.coefficients
        return _concat(table[table["coefficient"] > 0].head(n), table[table["coefficient"] < 0].tail(n))


def concept_features(latlon: np.ndarray, *, encoder: Any, bank: Any = None, projection: Any = None,
                     standardize: bool = False, reference: Any = None, device: Any = None,
                     progress: bool = False, **encoder_kwargs: Any) -> tuple[np.ndarray, list[str], str]:
    """``(features (N, K), concept names, description)`` of places: an encoder's named outputs, or a bank's scores."""
    from geoembed.errors import ConceptBankError

    if bank is None:
        from geoembed.downstream.featurizer import LocationFeaturizer

        featurizer = LocationFeaturizer(encoder, encoder_kwargs=encoder_kwargs or None, device=device,
                                        progress=progress).fit(latlon)
        names = getattr(featurizer.encoder_, "feature_names", None)
        label = encoder if isinstance(encoder, str) else type(encoder).__name__
        if names is None:
            raise ConceptBankError(
                f"The location encoder {label!r} has no feature_names, so its outputs are not concepts. Use an "
                f"encoder whose outputs are concept activations (e.g. 'geoclip-concept'), or pass bank= to describe "
                f"places by their scores on a concept bank."
            )
        names = [str(n) for n in names]
        x = featurizer.transform(latlon)
        if x.shape[1] != len(names):
            raise ConceptBankError(f"The location encoder {label!r} outputs {x.shape[1]} values per place but "
                                   f"names {len(names)} features.")
        return np.asarray(x, dtype=np.float64), names, f"{label} concept activations"
    from geoembed.concepts.scoring import ConceptScorer

    scorer = ConceptScorer(bank, encoder, projection=projection, device=device, **encoder_kwargs)
    raw, z = scorer.scores(latlon, standardize=standardize, reference=reference, progress=progress)
    label = encoder if isinstance(encoder, str) else type(encoder).__name__
    via = f" through {scorer.projection_name!r}" if scorer.projection_name else ""
    named = f"the bank {bank!r}" if isinstance(bank, str) else "a bank"
    return (np.asarray(raw if z is None else z, dtype=np.float64), list(scorer.bank.names),
            f"{label} scores on {named} ({len(scorer.bank)} concepts){via}")


def explain_task(task: Any, *, encoder: Any = "geoclip-concept", bank: Any = None, projection: Any = None,
                 standardize: bool = False, reference: Any = None, target_class: str | None = None,
                 top_n: int = 10, out: str | os.PathLike | None = None, n_folds: int = 5, seed: int = 0,
                 alpha: float | None = None, device: Any = None, progress: bool = False,
                 **encoder_kwargs: Any) -> TaskExplanation:
    """Fit a standardised linear probe of ``task``'s target on concept features and explain it by its coefficients.

    >>> result = geoembed.explain_task("precipitation", encoder="geoclip-concept", out="rain.png")  # doctest: +SKIP
    >>> result.coefficients.head()                                                                  # doctest: +SKIP

    Args:
        task: a :class:`~geoembed.downstream.tasks.Task` or a registered task name.
        encoder: a location encoder with ``feature_names`` (its outputs are the concepts), or any encoder with
            ``bank=``.
        bank: a concept bank whose scores describe the places (see :mod:`geoembed.concepts.probe`).
        projection: a concept projection for a text bank (default: the registered one).
        standardize, reference: how bank scores are expressed (as in :func:`geoembed.explain_locations`); the probe
            standardises its features anyway, so this changes the scores' meaning, not the fit.
        target_class: for classification, the class explained against the rest (default: the second of two sorted
            classes; required when there are more than two).
        top_n: concepts drawn on each side (positive, negative).
        out: write the chart to this PNG.
        n_folds, seed: the spatial block cross-validation of the probe.
        alpha: the ridge penalty (regression; default: chosen by leave-one-out CV, which serves prediction: with
            hundreds of correlated concepts a larger penalty gives steadier, more readable coefficients).
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.metrics import r2_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from geoembed.concepts.geodata import spatial_block_folds
    from geoembed.downstream.geometry import anchor_points
    from geoembed.downstream.tasks import Task, load_task

    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise ValueError(f"top_n must be a positive integer, got {top_n!r}.")
    task = load_task(task) if isinstance(task, str) else task
    if not isinstance(task, Task):
        raise TypeError(f"task must be a geoembed Task or a registered task name, got {type(task).__name__}.")
    latlon = anchor_points(task.data)
    x, names, source = concept_features(latlon, encoder=encoder, bank=bank, projection=projection,
                                        standardize=standardize, reference=reference, device=device,
                                        progress=progress, **encoder_kwargs)
    folds = spatial_block_folds(latlon, n_folds=n_folds, block_deg=float(task.block_size_deg), seed=seed)
    y = task.y()
    if task.kind == "regression":
        y = (y - y.mean()) / y.std()
        detail = ", ".join(v for v in (task.units, task.target_transform) if v)
        target = task.target + (f" ({detail})" if detail else "")
        if alpha is not None and not (isinstance(alpha, (int, float)) and np.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a positive number or None, got {alpha!r}.")
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=list(RIDGE_ALPHAS) if alpha is None else [float(alpha)]))
        held_out = np.full(len(y), np.nan)
        for fold in np.unique(folds):
            test = folds == fold
            held_out[test] = model.fit(x[~test], y[~test]).predict(x[test])
        cv_metric, cv_score = "r2", float(r2_score(y, held_out))
        model.fit(x, y)
        coef, penalty = model[-1].coef_, float(model[-1].alpha_)
    else:
        classes = sorted(set(y))
        if target_class is None:
            if len(classes) > 2:
                raise ValueError(f"Task {task.name!r} has {len(classes)} classes; choose one to explain with "
                                 f"target_class= (one of {classes[:10]}).")
            target_class = classes[1]
        if str(target_class) not in classes:
            raise ValueError(f"target_class {target_class!r} is not a class of task {task.name!r}: {classes[:10]}.")
        y = (y == str(target_class)).astype(int)
        target = f"{task.target} = {target_class}"
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        held_out = np.full(len(y), np.nan)
        for fold in np.unique(folds):
            test = folds == fold
            if len(set(y[~test])) < 2:
                continue
            held_out[test] = model.fit(x[~test], y[~test]).predict_proba(x[test])[:, 1]
        scored = np.isfinite(held_out)
        cv_metric = "roc_auc"
        cv_score = float(roc_auc_score(y[scored], held_out[scored])) if len(set(y[scored])) == 2 else float("nan")
        model.fit(x, y)
        coef, penalty = model[-1].coef_[0], 1.0
    table = pd.DataFrame({"concept": names, "coefficient": coef.astype(np.float64)})
    table = table.sort_values("coefficient", ascending=False, kind="stable").reset_index(drop=True)
    result = TaskExplanation(task=task.name, target=target, coefficients=table, features=source,
                             cv_metric=cv_metric, cv_score=cv_score, alpha=penalty)
    if out is not None:
        result.figure = plot_task_explanation(result, out, top_n=top_n, kind=task.kind)
    return result


def plot_task_explanation(result: TaskExplanation, out: str | os.PathLike, *, top_n: int = 10,
                          kind: str = "regression") -> Path:
    """Draw the ``top_n`` most positive and most negative coefficients as a labelled horizontal bar chart (PNG)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from geoembed.maps import save_figure

    table = result.coefficients
    positive = table[table["coefficient"] > 0].head(top_n)
    negative = table[table["coefficient"] < 0].tail(top_n)
    shown = _concat(positive, negative)
    values = shown["coefficient"].to_numpy()
    colours = np.where(values > 0, "#2166ac", "#b2182b")
    fig, ax = plt.subplots(figsize=(8, 0.32 * max(len(shown), 4) + 1.6))
    ax.barh(np.arange(len(shown))[::-1], values, color=colours)
    ax.set_yticks(np.arange(len(shown))[::-1], labels=list(shown["concept"]), fontsize=8)
    ax.axvline(0.0, color="black", linewidth=0.8)
    unit = ("SD of the target per SD of the concept" if kind == "regression"
            else "log-odds per SD of the concept")
    ax.set_xlabel(f"standardised coefficient ({unit})")
    score = f"{result.cv_metric} = {result.cv_score:.3f}" if np.isfinite(result.cv_score) else "not measured"
    what = f"Concepts that go with {result.target}"
    if not result.target.startswith(result.task):
        what = f"{result.task}: {what[0].lower()}{what[1:]}"
    ax.set_title(f"{what}\n{result.features}; spatial block CV {score}", fontsize=9)
    ax.legend(handles=[Patch(color="#2166ac", label=f"higher {result.target}"),
                       Patch(color="#b2182b", label=f"lower {result.target}")], loc="lower right", fontsize=8)
    fig.tight_layout()
    path = save_figure(fig, out)
    plt.close(fig)
    return path


def _concat(*frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)
