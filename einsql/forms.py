"""Results as the tools of a data pipeline take them: Arrow, pandas, polars, scipy.

``einsum(..., out=form)`` returns the result's stored entries (one row per
entry that is not the semiring's zero, in the database's order) as

* ``"arrow"``: a ``pyarrow.Table`` of columns ``i0, i1, ..., val`` (the COO
  convention; complex values as ``val_re`` and ``val_im``);
* ``"pandas"`` and ``"polars"``: a data frame of the same columns (pandas
  keeps complex values in one ``val`` column, as NumPy does);
* ``"scipy"``: a ``scipy.sparse.coo_array`` of the result's shape (any number
  of dimensions, not 0).

Integer results are ``int64`` (or the dtype asked) wherever every value fits;
sums past 2**63 stay exact: ``decimal128(38, 0)`` in Arrow and polars
(``decimal256(76, 0)`` past 10**38 in Arrow; polars has no such type and
refuses), Python ints in pandas, and refused by scipy, whose arrays hold
fixed-width numbers only.

>>> import numpy as np
>>> from einsql.operands import CooArray
>>> result = CooArray(np.array([[0, 1], [2, 0]]), np.array([3, 4]), (3, 2))
>>> as_form(result, "arrow").to_pydict()
{'i0': [0, 2], 'i1': [1, 0], 'val': [3, 4]}
>>> as_form(result, "scipy").toarray().tolist()
[[0, 3], [0, 0], [4, 0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from einsql.convention import COMPLEX_VALUES, VALUE, axis_columns
from einsql.errors import ArgumentError, OptionError
from einsql.operands import CooArray

#: The largest integer ``decimal128(38, 0)`` holds.
_DECIMAL128_MAX = 10**38 - 1


def as_form(coo: CooArray, form: str) -> Any:
    """``coo`` (a result's stored entries) as the object ``form`` names.

    Raises:
        OptionError: a library the form needs is not installed.
        ArgumentError: a result the form cannot hold (a 0-d or exact big-integer
            result as scipy).

    """
    return _CONVERTERS[form](coo)


def _columns(coo: CooArray) -> dict[str, np.ndarray]:
    """Index columns (``i0, ...``, int64, each contiguous) of ``coo``."""
    return {
        name: np.ascontiguousarray(coo.coords[:, k])
        for k, name in enumerate(axis_columns(len(coo.shape)))
    }


def _arrow(coo: CooArray) -> pa.Table:
    columns: dict[str, Any] = dict(_columns(coo))
    values = coo.values
    if values.dtype.kind == "c":
        real, imaginary = COMPLEX_VALUES
        columns[real], columns[imaginary] = values.real.copy(), values.imag.copy()
    elif values.dtype == object:
        columns[VALUE] = _python_numbers(values)
    else:
        columns[VALUE] = values
    return pa.table(columns)


def _python_numbers(values: np.ndarray) -> pa.Array:
    """An object column (Python numbers) as Arrow: int64 if it fits, else exact decimals."""
    if not all(isinstance(v, (int, np.integer)) for v in values):
        return pa.array(values.tolist())  # floats or complex numbers NumPy kept as objects
    exact = [int(v) for v in values]
    if all(-(2**63) <= v < 2**63 for v in exact):
        return pa.array(exact, type=pa.int64())
    widest = max((abs(v) for v in exact), default=0)
    kind = pa.decimal128(38, 0) if widest <= _DECIMAL128_MAX else pa.decimal256(76, 0)
    return pa.array(exact, type=kind)


def _pandas(coo: CooArray) -> Any:
    pandas = _library("pandas", "pandas")
    columns: dict[str, Any] = dict(_columns(coo))
    columns[VALUE] = coo.values
    return pandas.DataFrame(columns)


def _polars(coo: CooArray) -> Any:
    polars = _library("polars", "polars")
    table = _arrow(coo)
    if table.num_columns and table.schema.field(table.num_columns - 1).type == pa.decimal256(76, 0):
        raise ArgumentError(
            "the result holds integers past 10**38, which polars cannot hold; "
            "ask for out='arrow', 'pandas' or 'coo'"
        )
    return polars.from_arrow(table)


def _scipy(coo: CooArray) -> Any:
    sparse = _library("scipy.sparse", "scipy")
    if not coo.shape:
        raise ArgumentError("a 0-d result has no scipy.sparse form; ask for out='dense'")
    if coo.values.dtype == object:
        raise ArgumentError(
            "the result holds integers past 2**63, which scipy.sparse cannot hold exactly; "
            "ask for out='arrow', 'pandas' or 'coo'"
        )
    return sparse.coo_array((coo.values, tuple(_columns(coo).values())), shape=coo.shape)


def _library(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise OptionError(
            f"out={package!r} needs {package}, which is not installed (pip install {package})"
        ) from None


_CONVERTERS: dict[str, Callable[[CooArray], Any]] = {
    "arrow": _arrow,
    "pandas": _pandas,
    "polars": _polars,
    "scipy": _scipy,
}

#: The result forms this module makes.
FRAME_FORMS = tuple(_CONVERTERS)
