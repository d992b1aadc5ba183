"""Curve fits for the saturation verdict: a saturating model against growing ones.

Pure numpy/scipy, no Django. Every model is fitted by least squares to all readings, in the
metric's own space (the product value on a linear scale, its logarithm on a log scale), and
compared by AICc (Akaike's criterion corrected for small samples; the noise variance counts as
a parameter):

    constant     y = m                      the product does not respond to capability
    linear       y = a + b·x                steady growth
    exponential  y = A·exp(b·x)             accelerating growth (log-linear)
    logistic     y = L / (1 + exp(-k(x-x0)))  growth that bends towards a ceiling L

x is capability rescaled to [0, 1] over the readings. Starting points come from a vectorised
grid over the non-linear parameters (the linear ones are solved in closed form), then one
Levenberg-Marquardt refinement (`scipy.optimize.leastsq`, analytic derivatives).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats
from scipy.optimize import leastsq

Space = Literal["linear", "log"]
ModelName = Literal["constant", "linear", "exponential", "logistic"]
GROWING: tuple[ModelName, ...] = ("linear", "exponential")
MAX_CEILING = 20.0  # a fitted ceiling above 20x the highest reading is "no ceiling in sight"
_K_GRID = np.geomspace(0.5, 150.0, 28)
_X0_GRID = np.linspace(-0.5, 1.6, 29)
_B_GRID = np.linspace(-12.0, 12.0, 97)


@dataclass(frozen=True)
class Fit:
    model: ModelName
    params: tuple[float, ...]
    ssr: float  # residual sum of squares, in the fitted space
    n: int
    k: int  # parameters of the mean curve
    covariance: np.ndarray | None = None

    @property
    def aicc(self) -> float:
        big_k = self.k + 1  # and the noise variance
        if self.n - big_k - 1 <= 0:
            return math.inf
        return (
            self.n * math.log(self.ssr / self.n)
            + 2 * big_k
            + 2 * big_k * (big_k + 1) / (self.n - big_k - 1)
        )

    @property
    def residual_sd(self) -> float | None:
        dof = self.n - self.k
        return math.sqrt(self.ssr / dof) if dof > 0 else None


def predict(model: ModelName, params: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    if model == "constant":
        return np.full_like(x, params[0], dtype=float)
    if model == "linear":
        return params[0] + params[1] * x
    if model == "exponential":
        return params[0] * np.exp(np.clip(params[1] * x, -700, 700))
    ceiling, k, x0 = params
    return ceiling / (1.0 + np.exp(np.clip(-k * (x - x0), -700, 700)))


def slope(model: ModelName, params: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """d(curve)/dx."""
    if model == "constant":
        return np.zeros_like(x, dtype=float)
    if model == "linear":
        return np.full_like(x, params[1], dtype=float)
    if model == "exponential":
        return params[0] * params[1] * np.exp(np.clip(params[1] * x, -700, 700))
    ceiling, k, x0 = params
    g = 1.0 / (1.0 + np.exp(np.clip(-k * (x - x0), -700, 700)))
    return ceiling * k * g * (1.0 - g)


def _space(values: np.ndarray, space: Space) -> np.ndarray:
    if space == "linear":
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.where(values > 0, values, np.nan))


def _ssr(residuals: np.ndarray, floor: float) -> float:
    value = float(np.sum(residuals**2))
    return value if math.isfinite(value) and value > floor else floor


def fit_all(x: np.ndarray, y: np.ndarray, space: Space) -> dict[str, Fit]:
    """Every model that can be fitted to (x, y); x in [0, 1], y finite (positive on log)."""
    n = len(y)
    h = _space(y, space)
    spread = float(np.ptp(h)) or float(np.abs(h).max()) or 1.0
    floor = n * (1e-9 * spread) ** 2  # exact synthetic curves: ties, not -inf
    fits: dict[str, Fit] = {}  # by ModelName

    def keep(
        model: ModelName, raw_params: Iterable[float], k: int, cov: np.ndarray | None = None
    ) -> None:
        params = tuple(float(p) for p in raw_params)
        fitted = _space(predict(model, params, x), space)
        if not np.all(np.isfinite(fitted)):
            return
        fits[model] = Fit(model, params, _ssr(h - fitted, floor), n, k, cov)

    keep("constant", (float(np.exp(h.mean())) if space == "log" else float(h.mean()),), 1)
    if space == "linear":
        slope, intercept = np.polyfit(x, y, 1)
        keep("linear", (intercept, slope), 2)
    else:
        _refine("linear", x, h, space, _linear_start(x, y), keep, 2)
    if space == "linear" or np.all(y > 0):  # a log scale has positive values only
        _refine("exponential", x, h, space, _exponential_start(x, y, h, space), keep, 2)
        _refine("logistic", x, h, space, _logistic_start(x, y, h, space), keep, 3)
    return fits


def _linear_start(x: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def _exponential_start(
    x: np.ndarray, y: np.ndarray, h: np.ndarray, space: Space
) -> tuple[float, ...]:
    g = np.exp(np.outer(_B_GRID, x))  # (B, n)
    if space == "linear":
        amplitude = (g @ y) / np.einsum("ij,ij->i", g, g)
        ssr = np.sum((y - amplitude[:, None] * g) ** 2, axis=1)
    else:
        log_a = np.mean(h - _B_GRID[:, None] * x, axis=1)
        amplitude = np.exp(log_a)
        ssr = np.sum((h - log_a[:, None] - _B_GRID[:, None] * x) ** 2, axis=1)
    best = int(np.nanargmin(ssr))
    return float(amplitude[best]), float(_B_GRID[best])


def _logistic_start(x: np.ndarray, y: np.ndarray, h: np.ndarray, space: Space) -> tuple[float, ...]:
    """Closed-form ceiling for every (k, x0) on a grid, vectorised; the best triple."""
    k = _K_GRID[:, None, None]
    x0 = _X0_GRID[None, :, None]
    g = 1.0 / (1.0 + np.exp(np.clip(-k * (x[None, None, :] - x0), -700, 700)))  # (K, X, n)
    if space == "linear":
        ceiling = np.einsum("kxn,n->kx", g, y) / np.einsum("kxn,kxn->kx", g, g)
        ssr = np.sum((y - ceiling[..., None] * g) ** 2, axis=2)
    else:
        log_g = np.log(g)
        log_c = np.mean(h - log_g, axis=2)
        ceiling = np.exp(log_c)
        ssr = np.sum((h - log_c[..., None] - log_g) ** 2, axis=2)
    y_max = max(float(y.max()), 1e-12)
    ssr = np.where((ceiling > 0.5 * y_max) & (ceiling < MAX_CEILING * y_max), ssr, np.inf)
    if not np.isfinite(ssr).any():
        return 1.5 * y_max, 4.0, 0.5
    i, j = np.unravel_index(int(np.argmin(ssr)), ssr.shape)
    return float(ceiling[i, j]), float(_K_GRID[i]), float(_X0_GRID[j])


def _gradient(model: ModelName, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """d(curve)/d(params), one column per parameter."""
    if model == "linear":
        return np.column_stack([np.ones_like(x), x])
    if model == "exponential":
        e = np.exp(np.clip(params[1] * x, -700, 700))
        return np.column_stack([e, params[0] * x * e])
    ceiling, k, x0 = params
    g = 1.0 / (1.0 + np.exp(np.clip(-k * (x - x0), -700, 700)))
    slope = ceiling * g * (1.0 - g)
    return np.column_stack([g, slope * (x - x0), -slope * k])


def _refine(
    model: ModelName,
    x: np.ndarray,
    h: np.ndarray,
    space: Space,
    guess: Sequence[float],
    keep: Callable[..., None],
    k: int,
) -> None:
    """Levenberg-Marquardt (MINPACK's lmder) from the grid's start, with analytic derivatives."""
    start = np.asarray(guess, dtype=float)

    def residuals(params: np.ndarray) -> np.ndarray:
        r = h - _space(predict(model, tuple(params), x), space)
        return r if np.isfinite(r).all() else np.nan_to_num(r, nan=1e6, posinf=1e6, neginf=-1e6)

    def jacobian(params: np.ndarray) -> np.ndarray:
        grad = _gradient(model, params, x)
        if space == "log":
            grad = grad / np.maximum(predict(model, tuple(params), x), 1e-300)[:, None]
        return -grad if np.isfinite(grad).all() else -np.nan_to_num(grad, posinf=1e6, neginf=-1e6)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            params = leastsq(residuals, start, Dfun=jacobian, maxfev=100, ftol=1e-7, xtol=1e-7)[0]
        except (ValueError, TypeError, np.linalg.LinAlgError):
            params = start
    if model == "logistic":
        y_max = max(float(np.exp(h.max()) if space == "log" else h.max()), 1e-12)
        if not (0 < params[0] <= MAX_CEILING * y_max and params[1] > 0):
            params = start  # wandered off to an unbounded curve: keep the grid's answer
    elif model == "exponential" and not params[0] > 0:
        params = start
    cov = None
    dof = len(h) - k
    if dof > 0:
        jac = jacobian(params)
        ssr = float(np.sum(residuals(params) ** 2))
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                cov = np.linalg.pinv(jac.T @ jac) * (ssr / dof)
        except (np.linalg.LinAlgError, ValueError):
            cov = None
    keep(model, tuple(params), k, cov)


def ceiling_interval(fit: Fit, level: float = 0.95) -> float | None:
    """Half-width of the ceiling's confidence interval (None when it cannot be estimated)."""
    if fit.model != "logistic" or fit.covariance is None:
        return None
    variance = float(fit.covariance[0, 0])
    dof = fit.n - fit.k
    if not math.isfinite(variance) or variance < 0 or dof <= 0:
        return None
    return t_quantile(dof, level) * math.sqrt(variance)


def evidence_ratio(delta_aicc: float) -> float:
    """How many times likelier the better model is, from an AICc difference (Akaike weights)."""
    return math.exp(min(delta_aicc, 1400.0) / 2)


@functools.lru_cache(maxsize=256)
def t_quantile(dof: int, level: float = 0.95) -> float:
    """Student's t quantile for a two-sided interval (cached: scipy's is slow to call)."""
    return float(stats.t.ppf(0.5 + level / 2, dof))


def slope_interval(
    x: np.ndarray, y: np.ndarray, level: float = 0.95
) -> tuple[float, float, float] | None:
    """OLS slope of y on x with its confidence interval, or None with fewer than 3 points."""
    n = len(x)
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if n < 3 or sxx <= 0:
        return None
    slope = float(dx @ (y - y.mean())) / sxx
    residuals = y - y.mean() - slope * dx
    stderr = math.sqrt(float(residuals @ residuals) / (n - 2) / sxx)
    half = t_quantile(n - 2, level) * stderr
    if not (math.isfinite(slope) and math.isfinite(half)):
        return None
    return slope, slope - half, slope + half
