"""Exact Poisson funnel plot control lines, as PHEindicatormethods draws them for rates and ratios.

`calculate_funnel_limits` puts, for each count O, a point on the lower line at the expected count
λ where O is the exact lower-significance boundary (λ = the exact upper limit on O, χ²⁻¹(1−α, 2O+2)/2)
and on the upper line where λ = the exact lower limit on O (χ²⁻¹(α, 2O)/2), with α the tail (0.025
or 0.001). Read the other way, at an area's own expected count λ, the line's count O is the one
whose exact limit equals λ, with O continuous (the line through PHE's whole-count points):

    lower line: Q(O + 1, λ) = α     upper line: P(O, λ) = α

(P, Q the regularised lower and upper incomplete gamma functions, as P(X ≤ O) and P(X ≥ O) of a
Poisson count continue to non-whole O). DuckDB has no incomplete gamma, so the warehouse calls this
through a function the dbt connection registers (ingestion/dbt_functions.py); the SQL divides the
count by the denominator. Newton's method on the shape, vectorised: a few passes over arrays.
"""

from __future__ import annotations

import numpy as np
from scipy import special

# relative step on the shape for each pass's numerical derivative, and when a count has converged
_STEP = 1e-7
_TOLERANCE = 1e-13
_MAX_PASSES = 60


def funnel_count(expected: np.ndarray, confidence: np.ndarray | float, upper: bool) -> np.ndarray:
    """The count on the funnel's lower or upper control line at each expected count λ.

    `confidence` is two-sided (0.95, 0.998). The lower line is 0 where no count is low enough
    (λ ≤ −ln α, the exact upper limit on 0 events); both lines are 0 at λ = 0, and NaN in, or
    λ < 0, gives NaN.
    """
    lam = np.asarray(expected, dtype=float)
    tail = np.broadcast_to((1 - np.asarray(confidence, dtype=float)) / 2, lam.shape)
    # solve P(a, λ) = target for the shape a, P falling in a: a = O (upper line) or O + 1 (lower)
    target = tail if upper else 1 - tail
    z = -special.ndtri(tail)
    root = np.sqrt(np.maximum(lam, 0))
    start = np.maximum(lam + z * root + 1 / 3, 1e-3) if upper else np.maximum(lam - z * root + 1, 1.5)
    solvable = np.isfinite(lam) & (lam > 0) & np.isfinite(tail)
    if not upper:
        solvable &= lam > -np.log(tail)
    shape = np.full(lam.shape, np.nan)
    todo = np.flatnonzero(solvable)
    a, x, t = start[todo], lam[todo], target[todo]
    floor = 0.0 if upper else 1.0
    for _ in range(_MAX_PASSES):
        if todo.size == 0:
            break
        h = _STEP * np.maximum(a, 1.0)
        g = special.gammainc(a, x) - t
        slope = (special.gammainc(a + h, x) - t - g) / h
        nxt = a - g / slope
        # stay inside the shape's range: halve the way to its floor instead of stepping past it
        nxt = np.where((nxt <= floor) | ~np.isfinite(nxt), (a + floor) / 2, nxt)
        done = np.abs(nxt - a) <= _TOLERANCE * np.maximum(a, 1.0)
        shape[todo[done]] = nxt[done]
        keep = ~done
        todo, a, x, t = todo[keep], nxt[keep], x[keep], t[keep]
    if todo.size:
        raise ArithmeticError(f"funnel line did not converge for expected counts {lam[todo][:5].tolist()}")
    count = shape if upper else shape - 1
    return np.where(solvable, count, np.where(np.isfinite(tail) & (lam >= 0), 0.0, np.nan))
