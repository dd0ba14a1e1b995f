"""NumPy's call surface, generated: ``einsql.einsum`` against ``numpy.einsum`` itself.

Each example draws an equation, operands of any dtype NumPy's suite loops over
(``uint64`` past 2**63, ``float16``, ``longdouble``, ``complex64``, object
arrays of Python numbers), a calling form (subscripts or sublists, Python
scalars), and NumPy's options (``dtype``, ``casting``, ``out`` arrays,
``order``, every form of ``optimize``). The oracle is ``numpy.einsum`` with
``optimize=False``: the same value and dtype, the same array written for
``out``, and where NumPy raises ``TypeError`` or ``ValueError``, einsql raises
an :class:`einsql.EinsqlError` that is also that exception.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_fuzz import fuzz_examples

import einsql

LABELS = "abcd"
DTYPES = [
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64", "longdouble", "complex64", "complex128", "object",
]  # fmt: skip
CASTINGS = ["no", "equiv", "safe", "same_kind", "unsafe"]
OPTIMIZE: list[Any] = [
    False, True, "greedy", "optimal", "auto", ("greedy", 10**6), ("optimal", 0), "path",
]  # fmt: skip


@pytest.fixture()
def surface_settings(request: pytest.FixtureRequest) -> settings:
    """The fuzzer's examples per database (300 by default, ``--fuzz-examples`` for more)."""
    return settings(
        max_examples=fuzz_examples(request.config),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


@st.composite
def calls(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    """Positional arguments (either calling form) and NumPy's keyword options."""
    sizes = {c: draw(st.sampled_from([1, 2, 3])) for c in LABELS}
    terms = draw(st.lists(st.text(LABELS, max_size=3), min_size=1, max_size=3))
    output = None
    if draw(st.booleans()):
        used = sorted(set("".join(terms)))
        output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
    operands = [_operand(draw, term, sizes) for term in terms]
    args = (
        _sublist_form(terms, output, operands)
        if draw(st.booleans())
        else _string_form(terms, output, operands)
    )
    options: dict[str, Any] = {"optimize": draw(st.sampled_from(OPTIMIZE))}
    if draw(st.booleans()):
        options["dtype"] = np.dtype(draw(st.sampled_from(DTYPES)))
    if draw(st.booleans()):
        options["casting"] = draw(st.sampled_from(CASTINGS))
    if draw(st.integers(0, 3)) == 0:
        options["order"] = draw(st.sampled_from("CFAK"))
    if draw(st.booleans()):
        options["out"] = np.dtype(draw(st.sampled_from(DTYPES)))  # an array of it, made later
    return args, options


def _operand(draw: st.DrawFn, term: str, sizes: dict[str, int]) -> Any:
    shape = tuple(sizes[c] for c in term)
    dtype = draw(st.sampled_from(DTYPES))
    if not shape and draw(st.integers(0, 3)) == 0:  # a Python scalar
        return draw(st.sampled_from([3, 2.5, True, 1 - 2j, 0]))
    if dtype == "object":
        numbers: st.SearchStrategy[Any] = st.one_of(
            st.integers(-4, 4), st.sampled_from([0.5, -1.5, 0.0]), st.just(2)
        )
        count = int(np.prod(shape))
        values = draw(st.lists(numbers, min_size=count, max_size=count))
        array = np.empty(shape, dtype=object)
        array.reshape(-1)[:] = values
        return array
    kind = np.dtype(dtype).kind
    if kind == "b":
        return draw(hnp.arrays(dtype, shape, elements=st.booleans()))
    if kind == "u":
        top = np.iinfo(dtype).max
        extremes = st.one_of(st.integers(0, 4), st.sampled_from([top, top - 1]))
        return draw(hnp.arrays(dtype, shape, elements=extremes))
    if kind == "i":
        return draw(hnp.arrays(dtype, shape, elements=st.integers(-4, 4)))
    values = draw(
        hnp.arrays("float64", shape, elements=st.sampled_from([0.0, 0.5, -1.5, 2.0, 3.25]))
    )
    if kind == "c":
        values = values + 1j * values[::-1] if shape else values + 0.5j
    return values.astype(dtype)


def _string_form(terms: list[str], output: str | None, operands: list[Any]) -> list[Any]:
    subscripts = ",".join(terms) + ("" if output is None else "->" + output)
    return [subscripts, *operands]


def _sublist_form(terms: list[str], output: str | None, operands: list[Any]) -> list[Any]:
    number = {c: LABELS.index(c) * 7 for c in LABELS}  # spread over NumPy's 52 labels
    args: list[Any] = []
    for term, operand in zip(terms, operands):
        args += [operand, [number[c] for c in term]]
    if output is not None:
        args.append([number[c] for c in output])
    return args


def _numpy(args: list[Any], options: dict[str, Any], out: Any) -> Any:
    """``numpy.einsum`` on the call, unoptimized (its optimized paths cast ``out`` unchecked).

    Where NumPy returns a view of a single operand (a pure re-indexing), it
    ignores ``dtype=``; the oracle then casts the operand itself, as ``dtype=``
    documents.
    """
    numpy_options = {k: v for k, v in options.items() if k not in ("optimize", "out")}
    result = np.einsum(*args, **numpy_options, optimize=False, out=out)
    dtype = options.get("dtype")
    if out is None and dtype is not None and np.asarray(result).dtype != dtype:
        casting = options.get("casting", "safe")
        cast = [
            a if isinstance(a, (str, list)) else np.asarray(a).astype(dtype, casting=casting)
            for a in args
        ]
        result = np.einsum(*cast, optimize=False, casting=casting)
    return result


def _out_array(options: dict[str, Any], args: list[Any]) -> tuple[Any, Any]:
    """Fresh ``out`` arrays for NumPy and einsql, of the result's shape (None if not asked)."""
    dtype = options.get("out")
    if dtype is None:
        return None, None
    try:
        shape = np.shape(np.einsum(*args, optimize=False))
    except (TypeError, ValueError):
        shape = ()
    return np.zeros(shape, dtype=dtype), np.zeros(shape, dtype=dtype)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_numpy_call_surface_matches_numpy(db, surface_settings) -> None:
    @surface_settings
    @given(calls())
    def check(call: tuple[list[Any], dict[str, Any]]) -> None:
        args, options = call
        if _objects_converted(args, options):  # NumPy's Python-object casts: documented
            event("skipped: object operands cast to a fixed dtype")
            return
        if options["optimize"] == "path":
            options["optimize"] = _path_or_false(args)
        theirs_out, ours_out = _out_array(options, args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                expected = _numpy(args, options, theirs_out)
            except (TypeError, ValueError) as error:
                kind = TypeError if isinstance(error, TypeError) else ValueError
                event(f"NumPy raises {kind.__name__}")
                with pytest.raises(kind):
                    einsql.einsum(*args, **{**options, "out": ours_out}, con=db.con)
                return
            try:
                result = einsql.einsum(*args, **{**options, "out": ours_out}, con=db.con)
            except einsql.OperandError as error:  # a documented limit, and only that one
                assert "uint64 values past 2**63 in an object computation" in str(error)
                event("refused: uint64 past 2**63 computed as objects")
                return
            except einsql.ExactnessError as error:  # SQLite's 64-bit integers (documented)
                assert db.name == "sqlite" and _extreme_integers(args), error
                event("refused: integers past 2**63 on SQLite")
                return
        event("computed, into out=" if ours_out is not None else "computed")
        if ours_out is not None:
            assert result is ours_out
        objects = _object_call(args, options)
        if not objects and _exact_past_int64(result, expected):  # exact where NumPy wraps
            assert_exact_sum(result, expected, args, options)
            return
        try:
            assert_same(result, expected, objects)
        except AssertionError:
            # NaN and infinities (README): einsql sums a label of one operand
            # before the joins, so 0 * inf inside a term NumPy multiplies out
            # may be summed away first. The promise is then its plan on dense arrays.
            if not _nonfinite(args, options, expected):
                raise
            out = None if ours_out is None else np.zeros_like(ours_out)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = einsql.einsum(*args, **{**options, "out": out}, backend="numpy")
            assert_same(result, reference, objects)
            event("matched the plan on dense arrays (NaN and infinities)")

    check()


def _objects_converted(args: list[Any], options: dict[str, Any]) -> bool:
    """Whether object values are cast to a fixed dtype by ``dtype=`` or ``out=``.

    NumPy converts each Python number (``int(-1)`` into uint8 overflows, a
    complex number into an integer raises); einsql casts the values it computed
    as ``astype`` does. The README lists the difference.
    """
    targets = [d for d in (options.get("dtype"), options.get("out")) if d is not None]
    objects = any(isinstance(a, np.ndarray) and a.dtype.kind == "O" for a in args)
    objects |= options.get("dtype") is not None and options["dtype"].kind == "O"
    return objects and any(d.kind != "O" for d in targets)


def _extreme_integers(args: list[Any]) -> bool:
    """Whether an integer operand holds the 32- or 64-bit extremes the strategy draws."""
    arrays = [a for a in args if isinstance(a, np.ndarray) and a.dtype.kind in "iu"]
    return any(abs(int(v)) >= 2**31 for a in arrays for v in a.flat)


def _path_or_false(args: list[Any]) -> Any:
    """einsql's own greedy path for the call, NumPy's ``["einsum_path", ...]`` form."""
    try:
        return einsql.einsum_path(*args)[0]
    except einsql.EinsqlError:
        return False


def _object_call(args: list[Any], options: dict[str, Any]) -> bool:
    """Whether NumPy computes the call with Python objects (an object operand or dtype)."""
    if options.get("out") is not None:
        return bool(options["out"].kind == "O")
    if options.get("dtype") is not None:
        return bool(options["dtype"].kind == "O")
    return any(isinstance(a, np.ndarray) and a.dtype.kind == "O" for a in args)


def assert_same(result: Any, expected: Any, objects: bool) -> None:
    """Same dtype and shape; integers and booleans equal, inexact values close.

    A computation with Python objects is compared by value: NumPy keeps each
    element's own type (an ``np.longdouble`` stays one), einsql gives Python numbers.
    """
    if objects:
        assert _objects(result), f"{result!r} is not an object result like {expected!r}"
        np.testing.assert_allclose(
            np.asarray(result).astype(np.complex128),
            np.asarray(expected).astype(np.complex128),
            rtol=1e-12,
        )
        return
    result, expected = np.asarray(result), np.asarray(expected)
    assert result.shape == expected.shape, (result.shape, expected.shape)
    assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(result, expected)
        return
    tolerance = 64 * float(np.finfo(expected.dtype).eps)
    np.testing.assert_allclose(
        result.astype(np.complex128),
        expected.astype(np.complex128),
        rtol=tolerance,
        atol=tolerance * max(1.0, float(np.max(np.abs(expected), initial=0.0))),
    )


def _nonfinite(args: list[Any], options: dict[str, Any], expected: Any) -> bool:
    """Whether NaN or an infinity arises: in NumPy's result, or before its cast into ``out``."""
    results = [expected]
    if options.get("out") is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results.append(_numpy(args, {**options, "casting": "unsafe"}, None))
    return not all(
        np.isfinite(np.asarray(r).astype(np.complex128)).all()
        for r in results
        if np.asarray(r).dtype.kind in "fc"
    )


def _exact_past_int64(result: Any, expected: Any) -> bool:
    """Whether NumPy's int64 result wrapped where einsql returned exact Python ints."""
    return np.asarray(expected).dtype == np.int64 and np.asarray(result).dtype != np.int64


def assert_exact_sum(result: Any, expected: Any, args: list[Any], options: dict[str, Any]) -> None:
    """einsql's int64 result past 2**63: the exact sum (Python integers), NumPy's modulo 2**64."""
    assert options.get("out") is None and options.get("dtype") in (None, np.dtype(np.int64))
    exact_args = [a.astype(object) if isinstance(a, np.ndarray) else a for a in args]
    exact = np.asarray(np.einsum(*exact_args, optimize=False), dtype=object)
    ours = np.asarray(result, dtype=object)
    assert ours.shape == exact.shape and (ours == exact).all(), (result, exact)
    assert any(not -(2**63) <= int(v) < 2**63 for v in ours.flat), "exact but fits int64"
    wrapped = np.array([int(v) % 2**64 for v in ours.flat], dtype=np.uint64).view(np.int64)
    np.testing.assert_array_equal(wrapped.reshape(ours.shape), expected)


def _objects(value: Any) -> bool:
    """Whether ``value`` is an object array or a Python number (NumPy's 0-d object result)."""
    if isinstance(value, np.ndarray):
        return value.dtype == object
    return not isinstance(value, np.generic)
