"""Parse einsum subscripts into a normalized :class:`Equation` (NumPy semantics).

The parser resolves everything NumPy resolves implicitly, so later stages only
see single-character labels with one size each:

* implicit output (``"ij,jk"``): labels that occur once, sorted, after the
  broadcast (ellipsis) axes;
* ellipsis (``"...ij"``): the broadcast axes get fresh labels, aligned from the
  right as in NumPy broadcasting;
* size-1 broadcasting: an axis of size 1 whose label is larger elsewhere gets a
  fresh label of its own, which the contraction then sums away (a sum over one
  element is that element);
* the interleaved form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.

As an extension NumPy lacks, a label repeated in the output (``"i->ii"``) places
the values on the diagonal.

>>> eq = parse("ij,jk", [(2, 3), (3, 4)])
>>> str(eq), eq.shape
('ij,jk->ik', (2, 4))
>>> str(parse("...ij,...jk->...ik", [(5, 1, 2, 3), (4, 3, 2)]))
'ÀÂij,Ájk->ÀÁik'
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from opt_einsum import get_symbol

from einsql.errors import ArgumentError, ShapeError, SubscriptError

ELLIPSIS = "..."
_RESERVED = frozenset(".,->")


@dataclass(frozen=True)
class Equation:
    """A normalized einsum: labels per operand, output labels and label sizes.

    Attributes:
        inputs: one string of single-character labels per operand.
        output: the output labels (a label may repeat: values go on the diagonal).
        sizes: ``(label, size)`` pairs in order of first appearance.

    """

    inputs: tuple[str, ...]
    output: str
    sizes: tuple[tuple[str, int], ...]

    @cached_property
    def size_of(self) -> dict[str, int]:
        """Label -> size."""
        return dict(self.sizes)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the result."""
        return tuple(self.size_of[label] for label in self.output)

    def operand_shape(self, k: int) -> tuple[int, ...]:
        """The shape operand ``k`` has after broadcasting axes were relabelled."""
        return tuple(self.size_of[label] for label in self.inputs[k])

    def __str__(self) -> str:
        return ",".join(self.inputs) + "->" + self.output


def parse(subscripts: str, shapes: Sequence[Sequence[int]]) -> Equation:
    """Parse ``subscripts`` for operands of the given ``shapes``.

    Args:
        subscripts: NumPy einsum subscripts; white space is ignored and any
            single character other than ``. , - >`` and control characters is a
            label (including the unassigned code points ``opt_einsum.get_symbol``
            produces for large networks).
        shapes: one shape per operand.

    Returns:
        The normalized equation.

    Raises:
        SubscriptError: malformed subscripts or wrong number of operands.
        ShapeError: ranks or sizes that do not fit the subscripts.

    >>> parse("ii->i", [(3, 3)])
    Equation(inputs=('ii',), output='i', sizes=(('i', 3),))
    >>> parse("ij,jk->ik", [(2, 3), (4, 2)])
    Traceback (most recent call last):
    ...
    einsql.errors.ShapeError: label 'j' has size 3 in operand 0 but size 4 in operand 1

    """
    if not isinstance(subscripts, str):
        raise SubscriptError(f"subscripts must be a string, got {type(subscripts).__name__}")
    text = "".join(subscripts.split())
    terms, output_term = _split_terms(text)
    if len(terms) != len(shapes):
        raise SubscriptError(
            f"subscripts {subscripts!r} name {len(terms)} operand(s) but {len(shapes)} were given"
        )
    tokens = [_tokenize(term, f"operand {k}") for k, term in enumerate(terms)]
    widths = [
        _ellipsis_width(toks, shape, k) for k, (toks, shape) in enumerate(zip(tokens, shapes))
    ]
    used = {tok for toks in tokens for tok in toks if tok != ELLIPSIS}
    if output_term is not None:
        used |= set(output_term) - _RESERVED
    broadcast = fresh_labels(max(widths, default=0), used)
    inputs = [_expand(toks, broadcast[len(broadcast) - w :]) for toks, w in zip(tokens, widths)]
    output = _output_labels(tokens, inputs, output_term, broadcast, widths)
    sizes = _label_sizes(inputs, shapes)
    return _relabel_broadcast_axes(inputs, output, sizes, shapes, used | set(broadcast))


def operand_tokens(subscripts: str, count: int) -> list[list[str]]:
    """The labels of each of ``count`` operands (``"..."`` for an ellipsis), sizes unchecked.

    >>> operand_tokens("ij,j...->i", 2)
    [['i', 'j'], ['j', '...']]
    """
    if not isinstance(subscripts, str):
        raise SubscriptError(f"subscripts must be a string, got {type(subscripts).__name__}")
    terms, _ = _split_terms("".join(subscripts.split()))
    if len(terms) != count:
        raise SubscriptError(
            f"subscripts {subscripts!r} name {len(terms)} operand(s) but {count} were given"
        )
    return [_tokenize(term, f"operand {k}") for k, term in enumerate(terms)]


def from_sublists(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """Turn NumPy's interleaved form into subscripts and operands.

    Args:
        args: ``op0, sublist0, op1, sublist1, ..., [output_sublist]`` where a
            sublist is a sequence (list, tuple, range, 1-d integer array) of
            integers in ``[0, 52)`` and ``Ellipsis``. As in NumPy, 0-25 are the
            labels ``A``-``Z`` and 26-51 ``a``-``z``.

    Returns:
        ``(subscripts, operands)``.

    Raises:
        ArgumentError: a sublist that is no sequence, or holds something other
            than integers and ``Ellipsis`` (NumPy raises ``TypeError``).
        SubscriptError: a label outside ``[0, 52)``, or no operand.

    >>> from_sublists(["A", [0, 1], "B", [1, 2], [0, 2]])
    ('AB,BC->AC', ['A', 'B'])
    >>> from_sublists(["A", [Ellipsis, 26]])
    ('...a->...a', ['A'])

    """
    operands = list(args[0::2])
    sublists = [_sublist_items(sub, f"operand {k}") for k, sub in enumerate(args[1::2])]
    output = None
    if len(args) % 2 == 1 and len(args) > 1:
        output = _sublist_items(operands.pop(), "the output")
    if not operands:
        raise SubscriptError("einsum needs at least one operand")
    if len(sublists) != len(operands):
        raise SubscriptError("the interleaved form takes an operand and a sublist in turn")
    terms = [_sublist_term(sub, f"operand {k}") for k, sub in enumerate(sublists)]
    output_term = (
        _sublist_term(output, "the output") if output is not None else _implicit_output(sublists)
    )
    return ",".join(terms) + "->" + output_term, operands


#: How many labels the interleaved form has: NumPy's ``A``-``Z`` then ``a``-``z``.
SUBLIST_LABELS = 52


def sublist_symbol(label: int) -> str:
    """The letter NumPy gives a sublist label: 0-25 are ``A``-``Z``, 26-51 ``a``-``z``.

    >>> sublist_symbol(0), sublist_symbol(25), sublist_symbol(26), sublist_symbol(51)
    ('A', 'Z', 'a', 'z')
    """
    return chr(ord("A") + label) if label < 26 else chr(ord("a") + label - 26)


def _implicit_output(sublists: Sequence[list[Any]]) -> str:
    """NumPy's implicit output of the interleaved form: once-used labels in order.

    Broadcast axes come first, then the labels used once, by integer (which is
    also the order of their letters).

    >>> _implicit_output([[0, 26]]), _implicit_output([[Ellipsis, 3, 1], [1]])
    ('Aa', '...D')
    """
    counts = Counter(int(item) for sub in sublists for item in sub if item is not Ellipsis)
    ellipsis = ELLIPSIS if any(item is Ellipsis for sub in sublists for item in sub) else ""
    singles = sorted(label for label, count in counts.items() if count == 1)
    return ellipsis + "".join(sublist_symbol(label) for label in singles)


def _sublist_items(value: Any, where: str) -> list[Any]:
    """The items of the sublist for ``where``: any sequence but a string.

    Raises:
        ArgumentError: ``value`` is no sequence (NumPy raises ``TypeError``).

    """
    if isinstance(value, (list, tuple, range)) or (
        isinstance(value, np.ndarray) and value.ndim == 1
    ):
        return list(value)
    raise ArgumentError(
        f"the sublist for {where} must be a list of integers (0 to 51) and Ellipsis, "
        f"not a {type(value).__name__}; the first argument is a subscripts string "
        "or an operand followed by its sublist"
    )


def _sublist_term(sublist: list[Any], where: str) -> str:
    return "".join(_sublist_label(item, where) for item in sublist)


def _sublist_label(item: Any, where: str) -> str:
    if item is Ellipsis:
        return ELLIPSIS
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
        raise ArgumentError(f"sublist labels must be integers or Ellipsis; {where} has {item!r}")
    if not 0 <= item < SUBLIST_LABELS:
        raise SubscriptError(
            f"sublist label {item!r} of {where} is outside [0, {SUBLIST_LABELS}); the "
            "interleaved form has NumPy's 52 labels (A-Z, a-z): write the subscripts "
            "as a string for more"
        )
    return sublist_symbol(int(item))


def _split_terms(text: str) -> tuple[list[str], str | None]:
    if text.count("->") > 1:
        raise SubscriptError(f"subscripts may contain '->' only once: {text!r}")
    head, arrow, tail = text.partition("->")
    for ch in "->":
        if ch in head or ch in tail:
            raise SubscriptError(f"'{ch}' may only appear as part of '->': {text!r}")
    if "," in tail:
        raise SubscriptError(f"the output subscripts may not contain ',': {text!r}")
    return head.split(","), (tail if arrow else None)


def _tokenize(term: str, where: str) -> list[str]:
    tokens: list[str] = []
    rest = term
    while rest:
        if rest.startswith(ELLIPSIS):
            if ELLIPSIS in tokens:
                raise SubscriptError(f"{where} has more than one ellipsis: {term!r}")
            tokens.append(ELLIPSIS)
            rest = rest[3:]
            continue
        label, rest = rest[0], rest[1:]
        if label in _RESERVED or unicodedata.category(label) in ("Cc", "Cs"):
            raise SubscriptError(f"invalid label {label!r} in {where}: {term!r}")
        tokens.append(label)
    return tokens


def _ellipsis_width(tokens: list[str], shape: Sequence[int], k: int) -> int:
    named = len(tokens) - tokens.count(ELLIPSIS)
    if ELLIPSIS not in tokens and named != len(shape):
        raise ShapeError(
            f"operand {k} has {len(shape)} dimension(s) but its subscripts "
            f"{''.join(tokens)!r} name {named}"
        )
    if named > len(shape):
        raise ShapeError(
            f"operand {k} has {len(shape)} dimension(s), fewer than the {named} its subscripts name"
        )
    return len(shape) - named


def fresh_labels(count: int, used: Iterable[str]) -> list[str]:
    """``count`` labels not in ``used``, from beyond a-zA-Z so they never look like a user's."""
    taken = set(used)
    return list(_take(count, (s for s in _symbols() if s not in taken)))


def _symbols() -> Iterator[str]:
    k = 52  # after a-zA-Z, so fresh labels never look like a user's letters
    while True:
        yield str(get_symbol(k))
        k += 1


def _take(count: int, items: Iterator[str]) -> Iterator[str]:
    for _ in range(count):
        yield next(items)


def _expand(tokens: list[str], broadcast: list[str]) -> str:
    return "".join("".join(broadcast) if tok == ELLIPSIS else tok for tok in tokens)


def _output_labels(
    tokens: list[list[str]],
    inputs: list[str],
    output_term: str | None,
    broadcast: list[str],
    widths: list[int],
) -> str:
    if output_term is None:
        counts = Counter(tok for toks in tokens for tok in toks if tok != ELLIPSIS)
        return "".join(broadcast) + "".join(sorted(lb for lb, n in counts.items() if n == 1))
    out_tokens = _tokenize(output_term, "the output")
    has_ellipsis = any(ELLIPSIS in toks for toks in tokens)
    if ELLIPSIS in out_tokens and not has_ellipsis:
        raise SubscriptError("the output has an ellipsis but no operand has one")
    if ELLIPSIS not in out_tokens and any(widths):
        raise SubscriptError(
            "operands broadcast over an ellipsis but the output has none; add '...' to the output"
        )
    output = _expand(out_tokens, broadcast)
    known = set("".join(inputs))
    for label in output:
        if label not in known:
            raise SubscriptError(f"output label {label!r} appears in no operand")
    return output


def _label_sizes(inputs: list[str], shapes: Sequence[Sequence[int]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    seen_in: dict[str, int] = {}
    for k, (labels, shape) in enumerate(zip(inputs, shapes)):
        own: dict[str, int] = {}
        for label, size in zip(labels, shape):
            if own.setdefault(label, size) != size:
                raise ShapeError(
                    f"operand {k} repeats label {label!r} on axes of different sizes "
                    f"({own[label]} and {size}), so it has no diagonal"
                )
        for label, size in own.items():
            previous = sizes.setdefault(label, size)
            if previous != size and 1 not in (previous, size):
                raise ShapeError(
                    f"label {label!r} has size {previous} in operand {seen_in[label]} "
                    f"but size {size} in operand {k}"
                )
            sizes[label] = max(previous, size) if 0 not in (previous, size) else 0
            seen_in.setdefault(label, k)
    return sizes


def _relabel_broadcast_axes(
    inputs: list[str],
    output: str,
    sizes: dict[str, int],
    shapes: Sequence[Sequence[int]],
    used: set[str],
) -> Equation:
    fresh = (s for s in _symbols() if s not in used)
    relabelled = []
    for labels, shape in zip(inputs, shapes):
        renames = {
            lb: next(fresh)
            for lb, size in dict(zip(labels, shape)).items()
            if size == 1 and sizes[lb] != 1
        }
        for new in renames.values():
            sizes[new] = 1
        relabelled.append("".join(renames.get(lb, lb) for lb in labels))
    order = dict.fromkeys("".join(relabelled) + output)
    return Equation(tuple(relabelled), output, tuple((lb, sizes[lb]) for lb in order))
