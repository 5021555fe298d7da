r"""DimeNet's radial and angular basis functions, as torch expressions built once with sympy
(a dependency of torch).

* radial: :math:`\tilde e_n(d) = \sqrt{2/c}\,\sin(n\pi d/c)/d` times a smooth cutoff
  envelope (``BesselBasisLayer``);
* spherical (angle :math:`\alpha` and distance): :math:`\tilde a_{ln}(d, \alpha) =
  \sqrt{2/(c^3 j_{l+1}^2(z_{ln}))}\, j_l(z_{ln} d / c)\, Y_l^0(\alpha)`, with :math:`j_l` the
  spherical Bessel functions, :math:`z_{ln}` their zeros and :math:`Y_l^0` the real spherical
  harmonics of order 0.

The zeros are found by bisection between the known brackets (the zeros of :math:`j_l`
interlace those of :math:`j_{l-1}`), so scipy is not needed. The closed forms
(``sin``/``cos`` over powers of :math:`x`) are lambdified as derived, without sympy's
simplification of each scaled function, which builds the basis about 8x faster with float32
errors of the same size (``bench/results/cpu/dimenet_basis.md``).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, List

import numpy as np


def spherical_bessel(order: int, x: float) -> float:
    """:math:`j_l(x)` in float64 by upward recurrence (accurate where :math:`x > l`, which is
    where DimeNet's zeros lie)."""
    j_prev, j = math.sin(x) / x, math.sin(x) / x ** 2 - math.cos(x) / x
    if order == 0:
        return j_prev
    for level in range(1, order):
        j_prev, j = j, (2 * level + 1) / x * j - j_prev
    return j


def _bisect(order: int, low: float, high: float) -> float:
    f_low = spherical_bessel(order, low)
    for _ in range(200):
        middle = 0.5 * (low + high)
        f_middle = spherical_bessel(order, middle)
        if f_middle == 0.0 or high - low < 1e-15:
            return middle
        if (f_middle > 0) == (f_low > 0):
            low, f_low = middle, f_middle
        else:
            high = middle
    return 0.5 * (low + high)


def bessel_zeros(num_orders: int, num_zeros: int) -> np.ndarray:
    """``[num_orders, num_zeros]`` float32: the first positive zeros of :math:`j_0 ..
    j_{n-1}` (those of :math:`j_l` lie between consecutive zeros of :math:`j_{l-1}`)."""
    zeros = np.zeros((num_orders, num_zeros), dtype="float32")
    zeros[0] = np.arange(1, num_zeros + 1) * np.pi
    points = np.arange(1, num_zeros + num_orders) * np.pi
    for order in range(1, num_orders):
        roots = np.array([_bisect(order, points[j], points[j + 1]) for j in range(len(points) - 1)])
        zeros[order] = roots[:num_zeros]
        points = roots
    return zeros


@lru_cache(maxsize=None)
def _bessel_forms(num_orders: int):
    import sympy as sym

    x = sym.symbols("x")
    forms, current = [sym.sin(x) / x], sym.sin(x) / x
    for order in range(1, num_orders):
        derivative = sym.diff(current, x) / x
        forms.append(sym.simplify(derivative * (-x) ** order))
        current = sym.simplify(derivative)
    return x, forms


def radial_functions(num_spherical: int, num_radial: int) -> List[Callable]:
    """``num_spherical * num_radial`` torch functions of the scaled distance, order-major:
    the normalised :math:`j_l(z_{ln} x)`."""
    import sympy as sym
    import torch

    x, forms = _bessel_forms(num_spherical)
    zeros = bessel_zeros(num_spherical, num_radial)
    functions = []
    for order in range(num_spherical):
        form = sym.lambdify([x], forms[order], {"sin": torch.sin, "cos": torch.cos})
        for n in range(num_radial):
            zero = float(zeros[order, n])
            normalizer = 1.0 / (0.5 * spherical_bessel(order + 1, zero) ** 2) ** 0.5
            functions.append(lambda d, f=form, z=zero, c=normalizer: c * f(z * d))
    return functions


def angular_functions(num_spherical: int) -> List[Callable]:
    """The real spherical harmonics :math:`Y_l^0(\\theta)`, ``l < num_spherical``, as torch
    functions (the constant :math:`Y_0^0` broadcast to the input's shape)."""
    import sympy as sym
    import torch

    z, theta = sym.symbols("z theta")
    legendre = [sym.Integer(1), z]
    for degree in range(2, num_spherical):
        legendre.append(sym.simplify(((2 * degree - 1) * z * legendre[-1] - (degree - 1) * legendre[-2]) / degree))
    functions = []
    for degree in range(num_spherical):
        prefactor = ((2 * degree + 1) / (4 * np.pi)) ** 0.5
        expression = sym.simplify(prefactor * legendre[degree].subs(z, sym.cos(theta)))
        if degree == 0:
            constant = float(expression)
            functions.append(lambda angle, value=constant: torch.zeros_like(angle) + value)
        else:
            functions.append(sym.lambdify([theta], expression, {"sin": torch.sin, "cos": torch.cos}))
    return functions
