"""SatCLIP's "analytic" real spherical harmonics, evaluated term by term as the released models saw them.

SatCLIP's positional encoding maps ``(lon, lat)`` degrees to ``phi = rad(lon + 180)``, ``theta = rad(lat + 90)``
and evaluates, for every degree ``l < L`` and order ``-l <= m <= l``, a closed-form expression that sympy expanded
into a polynomial in ``cos(theta)`` with 15-significant-digit coefficients (``data/sh_analytic.json.gz``, made by
``scripts/make_sh_coefficients.py``). Two properties of those expressions matter:

- the m = 0 functions carry a factor pi relative to the textbook normalisation (a precedence slip in the original
  definition, ``sqrt((2l + 1) / 4 * pi)``); the networks were trained with it, so it stays;
- expanded polynomials of high degree cancel catastrophically in float64: at L = 40 the degree-39 values differ from
  the exact harmonics by up to ~0.6, and by up to ~1.6e-2 between two evaluations of the original code that differ
  only in which SIMD lanes a point falls into. The released L = 40 weights were trained on these values.

This module therefore evaluates the same sums in the same order (each term ``coef * cos(theta)**k`` with the same
``torch.pow`` call on the same 1-D tensor, accumulated left to right, no fused multiply-add), vectorised over all
(l, m) at once instead of one Python function per harmonic. On the same CPU kernels the values equal the original's
bit for bit; elsewhere they agree within the floating-point bound of the sums (see :meth:`error_bound`).
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from importlib import resources

import torch
from torch import nn

#: Points per chunk. A multiple of every SIMD width (16 doubles), so each point meets the same vectorised or scalar
#: ``torch.pow`` code path as in one unchunked call: chunking never changes a value.
CHUNK = 512
#: Highest supported number of Legendre polynomials (degrees 0..MAX_L-1); the released checkpoints use 10 and 40.
MAX_L = 40


@lru_cache(maxsize=1)
def _functions() -> list[dict]:
    with resources.files("geoembed_satclip").joinpath("data/sh_analytic.json.gz").open("rb") as raw:
        payload = json.loads(gzip.decompress(raw.read()).decode("utf-8"))
    return payload["functions"]


def _number(text: str) -> float | int:
    """Exponents keep their printed type (``2`` vs ``2.5``): the original passes them to ``torch.pow`` as written."""
    return int(text) if text.lstrip("-").isdigit() else float(text)


class _Tables:
    """Index tables for one L, built once from the coefficient file."""

    def __init__(self, legendre_polys: int):
        functions = [f for f in _functions() if f["l"] < legendre_polys]
        polys: dict[tuple, int] = {}  # distinct polynomials (content -> index)
        exponents: dict[tuple[int, float | int], int] = {}  # (poly index, exponent != 1) -> row
        self.max_power = 0
        self.trig: dict[tuple[str, int], int] = {}
        slots: list[list[tuple[str, object]]] = []
        consts: list[float] = []
        for f in functions:
            const = 1.0
            factors: list[tuple[str, object]] = []
            for factor in f["factors"]:
                kind = factor[0]
                if kind == "const":
                    const *= float(factor[1])  # at most one constant per expression, first in the product
                elif kind == "poly":
                    terms = tuple((float(c), int(k)) for c, k in factor[1])
                    self.max_power = max(self.max_power, max(k for _, k in terms))
                    index = polys.setdefault(terms, len(polys))
                    exponent = _number(factor[2])
                    if exponent == 1:
                        factors.append(("poly", index))
                    else:
                        factors.append(("poly_pow", exponents.setdefault((index, exponent), len(exponents))))
                elif kind == "cos_theta":
                    self.max_power = max(self.max_power, int(factor[1]))
                    factors.append(("power", int(factor[1])))
                elif kind == "trig":
                    factors.append(("trig", self.trig.setdefault((factor[1], int(factor[2])), len(self.trig))))
                else:  # pragma: no cover - the generator writes only these kinds
                    raise ValueError(f"unknown factor kind {kind!r} in the SatCLIP harmonics table")
            consts.append(const)
            slots.append(factors)
        # Polynomials sorted by length (longest first): step t of the sum then touches a prefix of rows.
        ordered = sorted(polys, key=len, reverse=True)
        new_index = {terms: i for i, terms in enumerate(ordered)}
        remap = {old: new_index[terms] for terms, old in polys.items()}
        n_terms = max(len(t) for t in ordered)
        self.poly_coefs = torch.zeros(len(ordered), n_terms, dtype=torch.float64)
        self.poly_powers = torch.zeros(len(ordered), n_terms, dtype=torch.long)
        self.active = []  # active[t] = number of polynomials with more than t terms
        for i, terms in enumerate(ordered):
            for t, (coef, power) in enumerate(terms):
                self.poly_coefs[i, t] = coef
                self.poly_powers[i, t] = power
        for t in range(n_terms):
            self.active.append(sum(1 for terms in ordered if len(terms) > t))
        self.n_polys = len(ordered)
        self.pow_rows = [(remap[p], e) for (p, e), _ in sorted(exponents.items(), key=lambda kv: kv[1])]
        # Rows of the factor table: [ones | polynomials | powered polynomials | cos(theta)**k | trig]
        n_pow = len(self.pow_rows)
        base_pow = 1 + self.n_polys
        base_power = base_pow + n_pow
        base_trig = base_power + self.max_power + 1
        self.n_rows = base_trig + len(self.trig)
        width = max(len(s) for s in slots)
        self.slots = torch.zeros(len(functions), width, dtype=torch.long)  # 0 = the row of ones
        for i, factors in enumerate(slots):
            for j, (kind, index) in enumerate(factors):
                row = {"poly": 1 + remap.get(index, 0) if kind == "poly" else 0,
                       "poly_pow": base_pow + index if kind == "poly_pow" else 0,
                       "power": base_power + index if kind == "power" else 0,
                       "trig": base_trig + index if kind == "trig" else 0}[kind]
                self.slots[i, j] = row
        self.consts = torch.tensor(consts, dtype=torch.float64)
        self.trig_kind = [kind for (kind, _k), _ in sorted(self.trig.items(), key=lambda kv: kv[1])]
        self.trig_k = torch.tensor([float(k) for (_kind, k), _ in sorted(self.trig.items(), key=lambda kv: kv[1])],
                                   dtype=torch.float64)
        self.base_power = base_power
        self.base_trig = base_trig


@lru_cache(maxsize=4)
def _tables(legendre_polys: int) -> _Tables:
    return _Tables(legendre_polys)


class AnalyticSphericalHarmonics(nn.Module):
    """``(N, 2)`` ``(lon, lat)`` degrees to ``(N, L*L)`` features, ordered by degree l, then order m = -l..l.

    Computes in float64 (as the original does); parameter-free.
    """

    def __init__(self, legendre_polys: int = 10):
        super().__init__()
        if isinstance(legendre_polys, bool) or not isinstance(legendre_polys, int) or not 1 <= legendre_polys <= MAX_L:
            raise ValueError(f"legendre_polys must be an integer from 1 to {MAX_L}, got {legendre_polys!r}.")
        self.legendre_polys = legendre_polys
        self.embedding_dim = legendre_polys * legendre_polys

    def angles(self, lonlat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos(theta), phi)`` exactly as the original computes them (float64)."""
        lonlat = lonlat.to(torch.float64)
        phi = torch.deg2rad(lonlat[:, 0] + 180)
        theta = torch.deg2rad(lonlat[:, 1] + 90)
        return torch.cos(theta), phi

    def _rows(self, lonlat: torch.Tensor) -> tuple[torch.Tensor, _Tables, torch.Tensor]:
        tables = _tables(self.legendre_polys)
        cos_theta, phi = self.angles(lonlat)
        n = cos_theta.shape[0]
        device = cos_theta.device
        rows = torch.empty(tables.n_rows, n, dtype=torch.float64, device=device)
        rows[0] = 1.0
        # cos(theta)**k with one torch.pow per k on the 1-D tensor, as the original's `cos(theta)**k`
        powers = rows[tables.base_power : tables.base_power + tables.max_power + 1]
        powers[0] = 1.0
        if tables.max_power >= 1:
            powers[1] = cos_theta
        for k in range(2, tables.max_power + 1):
            powers[k] = torch.pow(cos_theta, k)
        # polynomials: left-to-right sums of coef * cos(theta)**k (product, then add: no fused multiply-add)
        coefs = tables.poly_coefs.to(device)
        idx = tables.poly_powers.to(device)
        acc = rows[1 : 1 + tables.n_polys]
        torch.index_select(powers, 0, idx[:, 0], out=acc)
        acc.mul_(coefs[:, :1])
        for t in range(1, len(tables.active)):
            m = tables.active[t]
            term = torch.index_select(powers, 0, idx[:m, t]).mul_(coefs[:m, t : t + 1])
            acc[:m].add_(term)
        base_pow = 1 + tables.n_polys
        for j, (poly, exponent) in enumerate(tables.pow_rows):
            rows[base_pow + j] = torch.pow(acc[poly], exponent)
        phases = tables.trig_k.to(device)[:, None] * phi[None, :]
        trig = rows[tables.base_trig :]
        is_sin = torch.tensor([kind == "sin" for kind in tables.trig_kind], device=device)
        trig.copy_(torch.where(is_sin[:, None], torch.sin(phases), torch.cos(phases)))
        return rows, tables, cos_theta

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """The features as an ``(N, L*L)`` view of a ``(L*L, N)`` tensor (linear layers take it without a copy)."""
        if lonlat.shape[0] > CHUNK:  # rows are independent; cache-sized chunks measured ~2x faster at 4,096 points
            return torch.cat([self._features(part) for part in lonlat.split(CHUNK)], dim=1).T
        return self._features(lonlat).T

    def _features(self, lonlat: torch.Tensor) -> torch.Tensor:
        rows, tables, _ = self._rows(lonlat)
        slots = tables.slots.to(rows.device)
        out = torch.index_select(rows, 0, slots[:, 0]).mul_(tables.consts.to(rows.device)[:, None])
        for j in range(1, slots.shape[1]):
            out.mul_(torch.index_select(rows, 0, slots[:, j]))
        return out

    def error_bound(self, lonlat: torch.Tensor) -> torch.Tensor:
        """A bound on how far two faithful float64 evaluations of these expressions can differ, ``(N, L*L)``.

        "Faithful": the same formulas and summation order on kernels accurate to one unit in the last place (ulp),
        possibly different ones (SIMD or scalar ``cos``, ``pow``, ``sin``). Per term ``coef * c**k``: a 1-ulp
        difference in ``c`` moves ``c**k`` by k ulp, ``pow`` adds 1 and the product 1/2, so ``(k + 2)`` ulp of
        ``|term|``; a left-to-right sum of n terms adds at most ``n`` ulp of ``sum |term|``. A factor ``x**e`` of a
        polynomial x moves by ``e (x + dx)**(e - 1) dx`` for e >= 1, and by at most ``dx**e`` for e < 1 (concavity:
        the square roots near the poles). Products combine as ``|ab - a'b'| <= |a| db + |b| da + da db``, and a
        relative ``64 eps |value|`` covers the remaining products and ``sin``/``cos`` of ``k * phi``.
        """
        tables = _tables(self.legendre_polys)
        cos_theta, _ = self.angles(lonlat)
        eps = torch.finfo(torch.float64).eps
        abs_powers = torch.stack([cos_theta.abs() ** k for k in range(tables.max_power + 1)])
        coefs = tables.poly_coefs.to(cos_theta.device).abs()
        idx = tables.poly_powers.to(cos_theta.device)
        n_terms = (coefs > 0).sum(1, keepdim=True).to(torch.float64)
        weight = coefs * (idx.to(torch.float64) + 2 + n_terms)  # (n_polys, T): (k + 2 + n) per term
        poly_err = eps * (abs_powers[idx] * weight[:, :, None]).sum(1)  # (n_polys, N)
        rows, _, _ = self._rows(lonlat)
        err_rows = torch.zeros_like(rows)
        err_rows[1 : 1 + tables.n_polys] = poly_err
        power_rows = slice(tables.base_power, tables.base_power + tables.max_power + 1)
        ks = torch.arange(tables.max_power + 1, dtype=torch.float64, device=rows.device)[:, None]
        err_rows[power_rows] = (ks + 1) * eps * abs_powers  # a bare cos(theta)**k factor
        base_pow = 1 + tables.n_polys
        for j, (poly, exponent) in enumerate(tables.pow_rows):
            x, dx = rows[1 + poly].abs(), poly_err[poly]
            if exponent >= 1:
                err_rows[base_pow + j] = exponent * (x + dx).pow(exponent - 1) * dx
            else:
                err_rows[base_pow + j] = dx.pow(exponent)
        slots = tables.slots.to(rows.device)
        consts = tables.consts.to(rows.device)[:, None].abs()
        value = consts * rows[slots[:, 0]]
        bound = consts * err_rows[slots[:, 0]]
        for j in range(1, slots.shape[1]):
            factor, factor_err = rows[slots[:, j]], err_rows[slots[:, j]]
            bound = bound * factor.abs() + value.abs() * factor_err + bound * factor_err
            value = value * factor
        return (bound + 64 * eps * value.abs()).T


def exact_real_spherical_harmonics(lonlat: torch.Tensor, legendre_polys: int) -> torch.Tensor:
    """The same functions computed stably (scipy's associated Legendre functions), for diagnostics and tests.

    Differs from :class:`AnalyticSphericalHarmonics` only by the float64 cancellation of the expanded polynomials.
    """
    import numpy as np
    from scipy.special import lpmv

    lonlat = lonlat.detach().cpu().to(torch.float64).numpy()
    phi = np.deg2rad(lonlat[:, 0] + 180)
    cos_theta = np.cos(np.deg2rad(lonlat[:, 1] + 90))
    columns = []
    for l in range(legendre_polys):
        for m in range(-l, l + 1):
            am = abs(m)
            norm = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - am) / math.factorial(l + am))
            p = lpmv(am, l, cos_theta) * (-1) ** am  # scipy includes the Condon-Shortley phase; the original's cancels
            if m == 0:
                columns.append(math.pi * norm * p)
            elif m > 0:
                columns.append(math.sqrt(2) * norm * p * np.cos(m * phi))
            else:
                columns.append(math.sqrt(2) * norm * p * np.sin(am * phi))
    return torch.from_numpy(np.stack(columns, axis=1))
