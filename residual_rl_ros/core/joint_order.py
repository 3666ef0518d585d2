"""Joint values reordered by name: one rule for every place that takes joints from a message.

`JointOrder(wanted)` precomputes the wanted order once (for a control path); `reorder_by_name` is the
one-off form. Either returns the values in `wanted` order with NaN where a wanted joint is absent, plus
the missing and the unknown (not wanted) names; what to do with those is the caller's policy. Names and
values of different lengths, or a name given twice, are bad input: ValueError naming it, never a guess.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True, slots=True)
class JointReorder:
    values: np.ndarray            # float64, wanted order; NaN where missing (a NaN given stays NaN)
    missing: tuple[str, ...]      # wanted joints absent from the names, in wanted order
    unknown: tuple[str, ...]      # names given that are not wanted, in the order given


class JointOrder:
    """The wanted joint order, indexed once; `reorder` maps (names, values) onto it."""

    def __init__(self, wanted: Iterable[str]) -> None:
        self.wanted = tuple(wanted)
        self.index = {name: i for i, name in enumerate(self.wanted)}
        if len(self.index) != len(self.wanted):
            raise ValueError(f'wanted joint names repeat: {_repeated(self.wanted)}')

    def __len__(self) -> int:
        return len(self.wanted)

    def reorder(self, names: Sequence[str], values: Sequence[float]) -> JointReorder:
        """`values` (one per name) in the wanted order; ValueError on a length mismatch or a repeated name."""
        if len(names) != len(values):
            raise ValueError(f'{len(names)} joint names but {len(values)} values')
        out = np.full(len(self.wanted), np.nan)
        filled = [False] * len(self.wanted)
        unknown: list[str] = []
        for name, value in zip(names, values):
            i = self.index.get(name)
            if i is None:
                unknown.append(name)
            elif filled[i]:
                raise ValueError(f'joint names repeat: {_repeated(names)}')
            else:
                out[i], filled[i] = value, True
        if unknown and len(set(unknown)) != len(unknown):
            raise ValueError(f'joint names repeat: {_repeated(names)}')
        missing = () if all(filled) else tuple(n for n, f in zip(self.wanted, filled) if not f)
        return JointReorder(out, missing, tuple(unknown))


def reorder_by_name(names: Sequence[str], values: Sequence[float], wanted: Iterable[str]) -> JointReorder:
    """One-off `JointOrder(wanted).reorder(names, values)`."""
    return JointOrder(wanted).reorder(names, values)


def _repeated(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})
