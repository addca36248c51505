"""Measure the explanation examples of docs/concepts.md with the shipped ``geoclip-minilm`` weights.

    PYTHONPATH=$PWD:$PWD/plugins/geoembed_geoclip python benchmarks/concept_explain_examples.py \
        --data DATA/place_descriptions_small --out benchmarks/results/concept_model/explain_examples.json

Measures, with the ``geography`` bank through the installed projection:

- the top 5 concepts of Paris, the Sahara, Manaus and Reykjavik: cosine, z-score, sparse weight (alpha 0.15);
- climate top-1 accuracy over the ``test`` places of ``--data`` whose Koppen class maps to one of the 15 Koppen
  climate concepts: raw cosine, cosine minus the reference mean, z-score, and always the most common class;
- distinct top-1 concepts (whole bank) over 1,000 land places (``sample_land_points(1000, seed=0)``), raw and z;
- the coefficient of variation of the projected vector's norm (before its last normalisation) over the
  held-out (``val``, ``test``) places of ``--data``;
- the sparse penalty sweep over 200 land places (``sample_land_points(1000, seed=1)[:200]``);
- the five largest ``geoclip-concept`` activations at Reykjavik, Dubai and Manaus;
- with ``--task``: ``explain_task("air_temperature", encoder="geoclip-concept")``, with the CV penalty and alpha=1000.

With the shipped weights (sha256 ``88ae6b68...``) and ``--data place_descriptions_small`` it reproduces the place
tables, the sparse sweep and the ``geoclip-concept`` activations of the docs exactly; its climate top-1 figures
differ slightly from the docs' (0.391 / 0.364 / 0.316 / 0.253 over 2,042 places, against 0.389 / 0.362 / 0.315 /
0.252 over 2,054: the Koppen classes are mapped here by ``concept_validation.RULES``), and so do the distinct top-1
counts (153 raw, 271 z; another 1,000-place land sample).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PLACES = {"Paris": (48.857, 2.352), "Sahara": (23.0, 12.0), "Manaus": (-3.1, -60.02), "Reykjavik": (64.15, -21.94)}
ENCODER_PLACES = {"Reykjavik": (64.1, -21.9), "Dubai": (25.3, 55.3), "Manaus": (-3.1, -60.0)}
ALPHAS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="place-descriptions folder whose test places measure climate top-1")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--task", action="store_true", help="also explain the air_temperature task (slower)")
    p.add_argument("--task-chart", default=None, help="with --task: chart of the alpha=1000 explanation")
    args = p.parse_args(argv)

    import numpy as np
    import pandas as pd

    import geoembed
    from geoembed.concepts.scoring import ConceptScorer
    from geoembed.geo import sample_land_points
    from geoembed_geoclip.concept_projection import weights_record
    from geoembed_geoclip.concept_validation import RULES

    out: dict = {"weights_sha256": weights_record().sha256, "places": {}}
    for name, (lat, lon) in PLACES.items():
        row = {}
        for label, kwargs in (("cosine", {}), ("z", {"standardize": True}), ("sparse", {"method": "sparse"})):
            table = geoembed.explain_location(lat=lat, lon=lon, bank="geography", top_k=5, **kwargs)
            col = "weight" if label == "sparse" else "score"
            row[label] = [[c, round(float(s), 2)] for c, s in zip(table["concept"], table[col])]
            if label == "sparse":
                weights, cosine = geoembed.sparse_explanation(np.array([[lat, lon]]), order="latlon",
                                                              bank="geography")
                row["sparse_concepts"] = int((weights.to_numpy()[0] > 0).sum())
                row["sparse_reconstruction_cosine"] = round(float(cosine[0]), 2)
        out["places"][name] = row
        print(name, json.dumps(row), flush=True)

    # climate top-1 on held-out test places
    koppen = {}
    for concept, (rule, _) in RULES.items():
        if concept.endswith("climate") and rule.startswith("koppen_class") and concept != "highland climate":
            classes = rule.split("==")[1] if "==" in rule else rule.split(" in ")[1]
            for c in classes.strip(" {}").split(","):
                koppen[c.strip()] = concept
    places = pd.read_parquet(Path(args.data) / "places.parquet").query("split == 'test'")
    places = places[places.koppen_class.isin(koppen)]
    truth = places.koppen_class.map(koppen).to_numpy()
    climate = sorted(set(koppen.values()))
    latlon = places[["lat", "lon"]].to_numpy()
    scorer = ConceptScorer("geography", "geoclip")
    raw, z = scorer.scores(latlon, standardize=True)
    stats = scorer.reference()
    index = [scorer.bank.names.index(c) for c in climate]
    cols = np.asarray(climate, dtype=object)
    top1 = {
        "raw": float((cols[raw[:, index].argmax(1)] == truth).mean()),
        "minus_reference_mean": float((cols[(raw - stats.mean)[:, index].argmax(1)] == truth).mean()),
        "z": float((cols[z[:, index].argmax(1)] == truth).mean()),
        "most_common_class": float(pd.Series(truth).value_counts(normalize=True).iloc[0]),
        "places": int(len(places)),
    }
    land = sample_land_points(1000, seed=0)
    raw_l, z_l = scorer.scores(land, standardize=True)
    names = np.asarray(scorer.bank.names, dtype=object)
    for label, s in (("raw", raw_l), ("z", z_l)):
        top = pd.Series(names[s.argmax(1)])
        counts = top.value_counts(normalize=True)
        top1[f"distinct_top1_{label}"] = int(top.nunique())
        top1[f"most_common_top1_{label}"] = [counts.index[0], round(float(counts.iloc[0]), 3)]
    # how much the norm of the projected vector (before its last normalisation) varies over the test places
    import torch
    import torch.nn.functional as F

    from geoembed_geoclip.concept_projection import GeoCLIPMiniLMProjection
    from geoembed_geoclip.description_pairs import location_embeddings

    alignment = GeoCLIPMiniLMProjection().alignment
    with torch.no_grad():
        held = pd.read_parquet(Path(args.data) / "places.parquet", columns=["lat", "lon", "split"])
        held = held[held.split.isin(["val", "test"])]
        z_all = torch.as_tensor(location_embeddings(held[["lat", "lon"]].to_numpy(), progress=False))
        v = F.normalize(alignment.location_activations(z_all), dim=-1) @ alignment.basis()
        if alignment.projects_out_mean:
            d = alignment.mean_direction.to(v.dtype)
            v = v - (v @ d)[:, None] * d
        norm = v.norm(dim=-1).numpy()
    top1["projection_norm_cv"] = float(norm.std() / norm.mean())
    out["climate_top1"] = top1
    print("climate top-1", json.dumps(top1), flush=True)

    sweep_places = sample_land_points(1000, seed=1)[:200]
    sweep = {}
    for alpha in ALPHAS:
        weights, cosine = geoembed.sparse_explanation(sweep_places, order="latlon", bank="geography", alpha=alpha)
        k = (weights.to_numpy() > 0).sum(1)
        sweep[str(alpha)] = {"concepts_median": float(np.median(k)), "concepts_min": int(k.min()),
                             "concepts_max": int(k.max()), "reconstruction_cosine_median": float(np.median(cosine))}
    out["sparse_sweep"] = sweep
    print("sparse sweep", json.dumps(sweep), flush=True)

    enc = {}
    lat = [v[0] for v in ENCODER_PLACES.values()]
    lon = [v[1] for v in ENCODER_PLACES.values()]
    acts = geoembed.encode_location(lat=lat, lon=lon, encoder="geoclip-concept")
    model = geoembed.create_location_encoder("geoclip-concept")
    acts = np.asarray(acts)
    for i, name in enumerate(ENCODER_PLACES):
        order = np.argsort(-acts[i])[:5]
        enc[name] = [model.feature_names[j] for j in order]
    out["geoclip_concept_top5"] = enc
    print("geoclip-concept", json.dumps(enc), flush=True)

    if args.task:
        task = {}
        for label, kwargs in (("cv", {}), ("alpha1000", {"alpha": 1000})):
            if label == "alpha1000" and args.task_chart:
                kwargs["out"] = args.task_chart
            ex = geoembed.explain_task("air_temperature", encoder="geoclip-concept", top_n=8, **kwargs)
            coef = ex.coefficients
            task[label] = {"cv_metric": ex.cv_metric, "cv_score": float(ex.cv_score), "alpha": float(ex.alpha),
                           "most_positive": [[c, round(float(v), 3)] for c, v in
                                             zip(coef["concept"].head(8), coef["coefficient"].head(8))],
                           "most_negative": [[c, round(float(v), 3)] for c, v in
                                             zip(coef["concept"].tail(8), coef["coefficient"].tail(8))]}
            print(label, json.dumps(task[label]), flush=True)
        out["explain_task_air_temperature"] = task

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
