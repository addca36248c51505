"""Derive the closed-form real spherical harmonics that SatCLIP's released location encoders were trained with.

SatCLIP (Klemmer et al.) evaluates its positional encoding with per-(l, m) closed-form expressions that sympy expands
into polynomials in cos(theta) and prints with 15 significant digits ("analytic" harmonics). The expressions follow
the real form of the spherical harmonics, with one deliberate quirk of the original: the m = 0 normalisation is
sqrt((2l + 1) / 4 * pi), i.e. pi times the textbook sqrt((2l + 1) / (4 pi)). Because the expanded polynomials have
coefficients up to ~1e20, their float64 evaluation loses digits at high degree; the released L=40 weights were
trained on exactly these values, so geoembed reproduces them term by term rather than with a stable recursion.

This script rebuilds the expressions with sympy from that definition, parses each printed expression into a
product of factors, and writes ``geoembed_satclip/data/sh_analytic.json.gz``:

    {"max_degree": 40, "functions": [{"l": l, "m": m, "factors": [...]}, ...]}   # order: l = 0.., m = -l..l

Factor kinds: ``["const", value]``; ``["poly", [[coef, power], ...], exponent]`` (a sum over cos(theta)**power,
terms in printed order, raised to ``exponent``); ``["cos_theta", power]``; ``["trig", "sin"|"cos", k]`` (of k*phi).
Coefficients are stored as the printed decimal strings, so they parse to the same float64 values.

Run (about 30 s):  python plugins/satclip/scripts/make_sh_coefficients.py [--check ORIGINAL_YLM_FILE]

``--check`` compares every derived expression with the original's generated source (``spherical_harmonics_ylm.py``
of github.com/microsoft/satclip, also shipped by the ``rangegeo`` package) and stops on the first difference.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
import sys
from pathlib import Path

from sympy import Abs, Symbol, assoc_legendre, cos, factorial, pi, sin, sqrt

MAX_DEGREE = 40  # the released checkpoints use L = 10 and L = 40 (degrees 0..39)
OUT = Path(__file__).resolve().parents[1] / "geoembed_satclip" / "data" / "sh_analytic.json.gz"

theta = Symbol("theta")
phi = Symbol("phi")


def real_sh(l: int, m: int):
    """SatCLIP's definition of Y_l^m (see the module docstring for the m = 0 normalisation).

    The grouping matters: sympy's ``evalf`` rounds the printed coefficients differently when the normalised Legendre
    function is formed first (``norm * P``) and then multiplied by ``(-1)**m * sqrt(2)``, which is what the original
    does; other groupings change the last printed digit of some coefficients.
    """
    if m < 0:
        plm = assoc_legendre(l, Abs(m), cos(theta))
        plm_bar = sqrt(((2 * l + 1) / (4 * pi)) * (factorial(l - Abs(m)) / factorial(l + Abs(m)))) * plm
        return (-1) ** m * sqrt(2) * plm_bar * sin(Abs(m) * phi)
    if m == 0:
        return sqrt((2 * l + 1) / 4 * pi) * assoc_legendre(l, m, cos(theta))
    plm = assoc_legendre(l, m, cos(theta))
    plm_bar = sqrt(((2 * l + 1) / (4 * pi)) * (factorial(l - m) / factorial(l + m))) * plm
    return (-1) ** m * sqrt(2) * plm_bar * cos(m * phi)


def _number(node) -> str:
    if isinstance(node, ast.Constant):
        return repr(node.value) if not isinstance(node.value, str) else node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return "-" + _number(node.operand)
    raise ValueError(f"not a number: {ast.dump(node)}")


def _is_cos_theta(node) -> bool:
    return isinstance(node, ast.Call) and node.func.id == "cos" and isinstance(node.args[0], ast.Name) \
        and node.args[0].id == "theta"


def _power_of_cos_theta(node) -> int | None:
    if _is_cos_theta(node):
        return 1
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and _is_cos_theta(node.left):
        return int(_number(node.right))
    return None


def _term(node, sign: str):
    """A polynomial term: [coef, power] for coef*cos(theta)**power, cos(theta)**power, or a constant."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _term(node.operand, "-" if sign == "" else "")
    power = _power_of_cos_theta(node)
    if power is not None:
        return [sign + "1.0", power]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        power = _power_of_cos_theta(node.right)
        if power is None:
            raise ValueError(f"unexpected term {ast.unparse(node)}")
        return [_signed(_number(node.left), sign), power]
    return [_signed(_number(node), sign), 0]


def _signed(number: str, sign: str) -> str:
    if sign == "-":
        return number[1:] if number.startswith("-") else "-" + number
    return number


def _sum_terms(node) -> list:
    """Terms of a + b - c ... in evaluation (left-to-right) order."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        left = _sum_terms(node.left)
        return left + [_term(node.right, "-" if isinstance(node.op, ast.Sub) else "")]
    return [_term(node, "")]


def _factors(node) -> list:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _factors(node.left) + _factors(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and isinstance(node.left, ast.BinOp) \
            and isinstance(node.left.op, (ast.Add, ast.Sub)):
        return [["poly", _sum_terms(node.left), _number(node.right)]]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return [["poly", _sum_terms(node), "1"]]
    power = _power_of_cos_theta(node)
    if power is not None:
        return [["cos_theta", power]]
    if isinstance(node, ast.Call) and node.func.id in ("sin", "cos"):
        arg = node.args[0]
        if isinstance(arg, ast.Name) and arg.id == "phi":
            return [["trig", node.func.id, 1]]
        if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mult) and isinstance(arg.right, ast.Name):
            return [["trig", node.func.id, int(_number(arg.left))]]
    if isinstance(node, (ast.Constant, ast.UnaryOp)):
        return [["const", _number(node)]]
    raise ValueError(f"unexpected factor {ast.unparse(node)}")


def parse(expression: str) -> list:
    tree = ast.parse(expression, mode="eval").body
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, (ast.Add, ast.Sub)):
        return [["poly", _sum_terms(tree), "1"]]  # m = 0: the whole expression is one polynomial
    return _factors(tree)


def original_expressions(path: Path) -> dict[tuple[int, int], str]:
    """``(l, m) -> expression`` from the original's generated source file."""
    pattern = re.compile(r"def Yl(\d+)_m(_minus_)?(\d+)\(theta, phi\):\n\s+return (.*)")
    found = {}
    for l, minus, m, expression in pattern.findall(path.read_text()):
        found[(int(l), -int(m) if minus else int(m))] = expression.strip()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="Derive SatCLIP's closed-form spherical harmonics table.")
    parser.add_argument("--check", type=Path, help="the original's spherical_harmonics_ylm.py to compare against")
    args = parser.parse_args()
    original = original_expressions(args.check) if args.check else None
    functions = []
    for l in range(MAX_DEGREE):
        for m in range(-l, l + 1):
            expression = str(real_sh(l, m).evalf())
            if original is not None and original.get((l, m)) != expression:
                sys.exit(f"Y_{l}^{m} differs from the original:\n  derived  {expression}\n  original {original.get((l, m))}")
            functions.append({"l": l, "m": m, "factors": parse(expression)})
        print(f"degree {l} done", file=sys.stderr)
    payload = {"max_degree": MAX_DEGREE, "generator": "plugins/satclip/scripts/make_sh_coefficients.py",
               "functions": functions}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(payload, fh, separators=(",", ":"))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(functions)} functions)")
    if original is not None:
        print(f"all {len(functions)} expressions equal the original's ({args.check})")


if __name__ == "__main__":
    main()
