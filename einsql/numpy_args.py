"""NumPy's einsum arguments: ``out=``, ``dtype=``, ``order=`` and ``casting=``.

``einsql.einsum`` takes ``numpy.einsum``'s whole signature. Each argument is
checked before anything is computed, and means what it means in NumPy:

* ``dtype``: every operand is cast to it (under ``casting``) and the result
  has it;
* ``casting``: ``"no"``, ``"equiv"``, ``"safe"`` (the default), ``"same_kind"``
  or ``"unsafe"``, for operands cast to ``dtype`` and the result cast to ``out``;
* ``out``: a NumPy array of the result's shape, written in place and returned;
  a string there is einsql's result form instead (``"dense"``, ``"coo"``,
  ``"arrow"``, ``"pandas"``, ``"polars"``, ``"scipy"``);
* ``order``: ``"C"``, ``"F"``, ``"A"`` (Fortran if every array operand is) or
  ``"K"``, the memory layout of a dense result (einsql builds a new array
  from the database's rows, so ``"K"`` gives C order).

>>> request = numpy_request(None, "float32", "K", "safe")
>>> request.dtype, request.form
(dtype('float32'), 'dense')
>>> numpy_request(None, None, "K", "blah")
Traceback (most recent call last):
...
einsql.errors.OptionError: casting must be one of 'no', 'equiv', 'safe', 'same_kind', \
'unsafe', not 'blah'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from einsql.errors import ArgumentError, OperandError, OptionError
from einsql.forms import FRAME_FORMS

#: NumPy's casting rules, from strictest to loosest.
CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")

#: NumPy's memory orders.
ORDERS = ("C", "F", "A", "K")

#: einsql's result forms, given as ``out=`` strings (see :mod:`einsql.forms` for the last four).
FORMS = ("dense", "coo", *FRAME_FORMS)


@dataclass(frozen=True)
class NumpyRequest:
    """NumPy's result arguments of one einsum call, checked.

    Attributes:
        out: the array to write the result into, if any.
        form: einsql's result form (``"dense"`` when ``out`` is an array).
        dtype: the dtype operands are cast to and the result has, if given.
        order: the memory layout of a dense result (upper case).
        casting: the casting rule.

    """

    out: np.ndarray | None
    form: str
    dtype: np.dtype[Any] | None
    order: str
    casting: str


def numpy_request(out: Any, dtype: Any, order: Any, casting: Any) -> NumpyRequest:
    """Check ``numpy.einsum``'s ``out``, ``dtype``, ``order`` and ``casting``.

    Raises:
        ArgumentError: ``out`` is neither an array nor a result form, or
            ``dtype`` is no dtype (NumPy raises ``TypeError`` for both).
        OptionError: an unknown ``order`` or ``casting``, or a read-only ``out``.

    """
    if not (isinstance(casting, str) and casting in CASTINGS):
        raise OptionError(
            f"casting must be one of {', '.join(map(repr, CASTINGS))}, not {casting!r}"
        )
    if not (isinstance(order, str) and order.upper() in ORDERS):
        raise OptionError(f"order must be one of {', '.join(map(repr, ORDERS))}, not {order!r}")
    return NumpyRequest(*_out(out), _dtype(dtype), order.upper(), casting)


def _out(out: Any) -> tuple[np.ndarray | None, str]:
    if out is None:
        return None, "dense"
    if isinstance(out, str) and out in FORMS:
        return None, out
    if not isinstance(out, np.ndarray):
        raise ArgumentError(
            f"out= takes a NumPy array to write the result into (as numpy.einsum) or "
            f"einsql's result form, one of {', '.join(map(repr, FORMS))}; not {out!r}"
        )
    if not out.flags.writeable:
        raise OptionError("out= is a read-only array; einsql writes the result into it")
    return out, "dense"


def _dtype(dtype: Any) -> np.dtype[Any] | None:
    if dtype is None:
        return None
    try:
        result: np.dtype[Any] = np.dtype(dtype)
    except (TypeError, ValueError):
        raise ArgumentError(f"dtype={dtype!r} is not a NumPy dtype") from None
    return result


def check_cast(source: np.dtype[Any], target: np.dtype[Any], casting: str, what: str) -> None:
    """Raise unless ``casting`` allows ``source`` to become ``target``.

    >>> check_cast(np.dtype("float64"), np.dtype("int64"), "safe", "operand 0")
    Traceback (most recent call last):
    ...
    einsql.errors.ArgumentError: operand 0 of dtype float64 cannot be cast to int64 under \
casting='safe'; pass casting='unsafe' to allow it

    Raises:
        ArgumentError: the cast is not allowed (NumPy raises ``TypeError``).

    """
    if not np.can_cast(source, target, casting):  # type: ignore[arg-type]  # checked: CASTINGS
        raise ArgumentError(
            f"{what} of dtype {source} cannot be cast to {target} under casting={casting!r}; "
            "pass casting='unsafe' to allow it"
        )


def check_out_shape(out: np.ndarray, shape: tuple[int, ...]) -> None:
    """Raise unless ``out`` has the result's ``shape`` (its dtype: :func:`check_out_dtype`).

    >>> check_out_shape(np.zeros(3), (2,))
    Traceback (most recent call last):
    ...
    einsql.errors.OperandError: out= has shape (3,), but the result has shape (2,)

    Raises:
        OperandError: ``out`` has another shape.

    """
    if out.shape != shape:
        raise OperandError(f"out= has shape {out.shape}, but the result has shape {shape}")


def check_out_dtype(out: np.dtype[Any], dtype: np.dtype[Any], casting: str) -> None:
    """Raise unless ``casting`` allows ``dtype`` into an ``out`` array of dtype ``out`` and back.

    As in NumPy, whose einsum adds into ``out``, the casting rule must allow
    both directions.

    >>> check_out_dtype(np.dtype("float64"), np.dtype("int64"), "safe")
    Traceback (most recent call last):
    ...
    einsql.errors.ArgumentError: out= of dtype float64 cannot be cast to int64 under
    casting='safe'; pass casting='unsafe' to allow it

    Raises:
        ArgumentError: the rule forbids either direction (NumPy raises ``TypeError``).

    """
    check_cast(out, dtype, casting, "out=")
    check_cast(dtype, out, casting, "the result")


def delivered(result: Any, request: NumpyRequest, fortran_operands: bool = False) -> Any:
    """A dense result in the layout asked, or written into ``out`` (which is returned).

    ``order="A"`` gives Fortran order when ``fortran_operands`` (every array
    operand is Fortran-contiguous), as in NumPy.

    >>> out = np.zeros(2, dtype=np.int16)
    >>> delivered(np.array([1, 2]), numpy_request(out, None, "K", "unsafe")) is out
    True
    >>> delivered(np.ones((2, 2)), numpy_request(None, None, "F", "safe")).flags.f_contiguous
    True
    """
    if request.out is not None:
        np.copyto(request.out, result, casting="unsafe")
        return request.out
    fortran = request.order == "F" or (request.order == "A" and fortran_operands)
    if fortran and isinstance(result, np.ndarray):
        return np.asfortranarray(result)
    return result
