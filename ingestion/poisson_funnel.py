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
count by the denominator. Newton's method on the shape, vectorised, from an interpolated start.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import special
from scipy.interpolate import CubicSpline

# relative step on the shape for each pass's numerical derivative; a count is taken once a pass
# moves it by less than _SETTLED (relative): Newton's next error is then about that step times the
# derivative's own relative error (~1e-7), far below a double's precision
_STEP = 1e-7
_SETTLED = 1e-9
_MAX_PASSES = 60
# where the interpolated start is tabulated: shapes above the line's floor, geometrically spaced
_GRID_SHAPES = np.geomspace(1e-6, 1e9, 6001)


@cache
def _start_line(tail: float, upper: bool) -> tuple[CubicSpline, float, float]:
    """The line's shape as a function of λ, tabulated exactly the other way round (λ at each
    shape is an incomplete gamma inverse, which scipy has) and interpolated in log-log: a start
    within about 1e-10 of the root, so one Newton pass settles it (from the normal approximation
    it took four to six, each two incomplete gamma evaluations per row)."""
    floor = 0.0 if upper else 1.0
    shapes = floor + _GRID_SHAPES
    lam = special.gammaincinv(shapes, tail if upper else 1 - tail)
    ok = np.isfinite(lam) & (lam > 0)
    ok[1:] &= np.diff(lam) > 0
    return CubicSpline(np.log(lam[ok]), np.log(_GRID_SHAPES[ok])), float(lam[ok][0]), float(lam[ok][-1])


def _start(lam: np.ndarray, tail: np.ndarray, upper: bool) -> np.ndarray:
    """A first shape for each λ: interpolated where tabulated, else from the normal approximation."""
    floor = 0.0 if upper else 1.0
    if tail.size and (tail == tail[0]).all():       # one level, as SQL calls it: no search
        spline, low, high = _start_line(float(tail[0]), upper)
        if lam.min() >= low and lam.max() <= high:
            return floor + np.exp(spline(np.log(lam)))
    z = -special.ndtri(tail)
    root = np.sqrt(np.maximum(lam, 0))
    start = np.maximum(lam + z * root + 1 / 3, 1e-3) if upper else np.maximum(lam - z * root + 1, 1.5)
    for t in np.unique(tail):
        spline, low, high = _start_line(float(t), upper)
        rows = np.flatnonzero((tail == t) & (lam >= low) & (lam <= high))
        start[rows] = floor + np.exp(spline(np.log(lam[rows])))
    return start


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
    solvable = np.isfinite(lam) & (lam > 0) & np.isfinite(tail)
    if not upper:
        solvable &= lam > -np.log(tail)
    shape = np.full(lam.shape, np.nan)
    todo = np.flatnonzero(solvable)
    floor = 0.0 if upper else 1.0
    a = _start(lam[todo], tail[todo], upper)
    a = np.where((a > floor) & np.isfinite(a), a, floor + 0.5)
    x, t = lam[todo], target[todo]
    for _ in range(_MAX_PASSES):
        if todo.size == 0:
            break
        h = _STEP * np.maximum(a, 1.0)
        g = special.gammainc(a, x) - t
        slope = (special.gammainc(a + h, x) - t - g) / h
        nxt = a - g / slope
        # stay inside the shape's range: halve the way to its floor instead of stepping past it
        nxt = np.where((nxt <= floor) | ~np.isfinite(nxt), (a + floor) / 2, nxt)
        done = np.abs(nxt - a) <= _SETTLED * np.maximum(a, 1.0)
        shape[todo[done]] = nxt[done]
        keep = ~done
        todo, a, x, t = todo[keep], nxt[keep], x[keep], t[keep]
    if todo.size:
        raise ArithmeticError(f"funnel line did not converge for expected counts {lam[todo][:5].tolist()}")
    count = shape if upper else shape - 1
    return np.where(solvable, count, np.where(np.isfinite(tail) & (lam >= 0), 0.0, np.nan))
