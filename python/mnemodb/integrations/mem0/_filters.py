"""mem0's filters as chromadb ``where`` clauses, with a Python evaluator for what they cannot say.

mem0 hands a vector store a dict: ``{"user_id": "u1"}`` (equality), ``{"key": {"gte": 3}}``
(``eq ne gt gte lt lte in nin contains icontains``, with or without a ``$``), ``{"key": "*"}``
(the key is set), and the logical keys ``$or`` / ``$not`` (``Memory.search`` rewrites
``OR`` / ``NOT`` / ``AND`` into them; ``get_all`` passes them as given, so both spellings are
read). The keys of one dict all hold; ``$or`` holds when one of its dicts does; ``$not`` when
none of its dicts does.

:func:`compile_filters` gives a :class:`Compiled`: ``where``, a chromadb filter that every
matching record passes, and ``exact``, whether only those pass. When it is not exact the
caller over-fetches and keeps the records :func:`matches` accepts. Not exact: ``contains`` /
``icontains`` (a substring of a string, or an element of a list), ``*``, comparisons with a
string operand (ISO dates compare as strings), ``in []``, operands that are not scalars, and
fractional float operands (chromadb compares a float operand with a stored int after
truncating it, so ``lt 0.5`` would miss a stored ``0``: the bound is widened to the next
integer and the records re-checked). The evaluator follows chromadb's typing: booleans equal
only booleans, ints and floats compare as numbers, a list value equals no scalar, and ``ne`` /
``nin`` hold for records without the key.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains")
_LOGICAL = {"$or": "or", "OR": "or", "$not": "not", "NOT": "not", "$and": "and", "AND": "and"}
_COMPARE = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


class Compiled(NamedTuple):
    """``where`` (``None``: every record) holds for every record the filter accepts; when
    ``exact`` is false some records it lets through must be checked with :func:`matches`."""

    where: Optional[Dict[str, Any]]
    exact: bool


def compile_filters(filters: Optional[Mapping[str, Any]]) -> Compiled:
    if not filters:
        return Compiled(None, True)
    where, exact = _group(filters)
    return Compiled(where, exact)


def matches(filters: Optional[Mapping[str, Any]], payload: Mapping[str, Any]) -> bool:
    """Whether a record whose mem0 payload is ``payload`` passes ``filters``."""
    return not filters or _group_matches(filters, payload)


# ---- compiling -------------------------------------------------------------------------------


def _all(clauses: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _group(cond: Mapping[str, Any]) -> Tuple[Optional[Dict[str, Any]], bool]:
    """A dict whose entries all hold."""
    if not isinstance(cond, Mapping):
        raise ValueError(f"a mem0 filter condition must be a dict, got {cond!r}")
    clauses: List[Dict[str, Any]] = []
    exact = True
    for key, value in cond.items():
        logical = _LOGICAL.get(key)
        if logical is not None:
            where, ok = _logical(logical, value)
        else:
            where, ok = _field(key, value)
        exact = exact and ok
        if where is not None:
            clauses.append(where)
    return _all(clauses), exact


def _conditions(op: str, value: Any) -> List[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if not isinstance(value, list):
        raise ValueError(f"mem0's {op.upper()} takes a list of conditions, got {value!r}")
    return value


def _logical(op: str, value: Any) -> Tuple[Optional[Dict[str, Any]], bool]:
    parts = [_group(c) for c in _conditions(op, value)]
    if op == "and":
        return _all([w for w, _ in parts if w is not None]), all(ok for _, ok in parts)
    if op == "or":
        if not parts:
            return None, False  # no branch: nothing matches; the evaluator says so
        exact = all(ok for _, ok in parts)
        if any(w is None for w, _ in parts):
            return None, exact  # a branch that lets everything through
        wheres = [w for w, _ in parts if w is not None]
        return (wheres[0] if len(wheres) == 1 else {"$or": wheres}), exact
    # not: each group must fail. Only an exact group can be negated in chromadb's terms.
    clauses: List[Dict[str, Any]] = []
    exact = True
    for where, ok in parts:
        negated = _negate(where) if ok and where is not None else None
        if negated is None:
            exact = False
        else:
            clauses.append(negated)
    return _all(clauses), exact


def _negate(where: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The exact negation of a clause this module built, or ``None``."""
    ((key, value),) = where.items()
    if key == "$and":
        parts = [_negate(w) for w in value]
        return None if any(p is None for p in parts) else {"$or": parts}
    if key == "$or":
        parts = [_negate(w) for w in value]
        return None if any(p is None for p in parts) else {"$and": parts}
    ((op, operand),) = value.items()
    flipped = {"$eq": "$ne", "$ne": "$eq", "$in": "$nin", "$nin": "$in"}.get(op)
    # $gt and friends have no exact negation: the negation holds for missing keys and strings.
    return None if flipped is None else {key: {flipped: operand}}


_I64 = 1 << 63


def _is_scalar(v: Any) -> bool:
    """A value chromadb's filters compare as this module's evaluator does."""
    if isinstance(v, (str, bool)):
        return True
    if isinstance(v, int):
        return -_I64 <= v < _I64
    return isinstance(v, float) and math.isfinite(v)


def _fractional(v: Any) -> bool:
    return isinstance(v, float) and not v.is_integer()


def _field(key: str, value: Any) -> Tuple[Optional[Dict[str, Any]], bool]:
    if not isinstance(key, str) or not key or key[0] in "#$":
        raise ValueError(f"unsupported mem0 filter key {key!r}")
    if key.startswith(("chroma:", "mem0:")):
        return None, False  # kept in the JSON of the store's payload codec, or chromadb's own
    if not isinstance(value, Mapping):
        if value == "*":
            return None, False
        return _op(key, "eq", value)
    clauses: List[Dict[str, Any]] = []
    exact = True
    for op, operand in value.items():
        name = op[1:] if isinstance(op, str) and op.startswith("$") else op
        if name not in OPERATORS:
            raise ValueError(f"unsupported mem0 filter operator {op!r} for key {key!r} (use one of {', '.join(OPERATORS)})")
        where, ok = _op(key, name, operand)
        exact = exact and ok
        if where is not None:
            clauses.append(where)
    return _all(clauses), exact


def _op(key: str, op: str, operand: Any) -> Tuple[Optional[Dict[str, Any]], bool]:
    if op in ("eq", "ne"):
        if not _is_scalar(operand):
            return None, False
        # {"n": 1.5} also matches a stored int 1 in chromadb: a superset for eq, not for ne.
        if _fractional(operand):
            return ({key: {"$eq": operand}}, False) if op == "eq" else (None, False)
        return {key: {"$" + op: operand}}, True
    if op in _COMPARE:
        if isinstance(operand, bool) or not _number(operand) or not _is_scalar(operand):
            return None, False
        if _fractional(operand):
            bound = math.floor(operand) if op in ("gt", "gte") else math.ceil(operand)
            return {key: {"$gte" if op in ("gt", "gte") else "$lte": float(bound)}}, False
        return {key: {_COMPARE[op]: operand}}, True
    if op in ("in", "nin"):
        if not isinstance(operand, list) or not all(_is_scalar(x) for x in operand):
            return None, False
        if not operand:
            return (None, True) if op == "nin" else (None, False)
        if len({type(x) for x in operand}) > 1:
            return None, False  # chromadb wants one type; the evaluator handles a mix
        if any(_fractional(x) for x in operand):
            return ({key: {"$in": operand}}, False) if op == "in" else (None, False)
        return {key: {"$" + op: operand}}, True
    return None, False  # contains, icontains: substrings of strings or elements of lists


# ---- evaluating -------------------------------------------------------------------------------

_MISSING = object()


def _group_matches(cond: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    for key, value in cond.items():
        logical = _LOGICAL.get(key)
        if logical == "and":
            ok = all(_group_matches(c, payload) for c in _conditions(logical, value))
        elif logical == "or":
            ok = any(_group_matches(c, payload) for c in _conditions(logical, value))
        elif logical == "not":
            ok = not any(_group_matches(c, payload) for c in _conditions(logical, value))
        else:
            ok = _field_matches(payload.get(key, _MISSING), value)
        if not ok:
            return False
    return True


def _field_matches(stored: Any, value: Any) -> bool:
    if not isinstance(value, Mapping):
        if value == "*":
            return stored is not _MISSING and stored is not None
        return _eq(stored, value)
    for op, operand in value.items():
        name = op[1:] if isinstance(op, str) and op.startswith("$") else op
        if not _op_matches(stored, name, operand):
            return False
    return True


def _eq(stored: Any, operand: Any) -> bool:
    if stored is _MISSING:
        return False
    if isinstance(stored, bool) or isinstance(operand, bool):
        return isinstance(stored, bool) and isinstance(operand, bool) and stored == operand
    if isinstance(stored, (int, float)) and isinstance(operand, (int, float)):
        return stored == operand
    if isinstance(stored, list) and not isinstance(operand, list):
        return False
    return bool(type(stored) is type(operand) and stored == operand)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _op_matches(stored: Any, op: str, operand: Any) -> bool:
    if op == "eq":
        return _eq(stored, operand)
    if op == "ne":
        return not _eq(stored, operand)
    if op in _COMPARE:
        comparable = (_number(stored) and _number(operand)) or (isinstance(stored, str) and isinstance(operand, str))
        if not comparable:
            return False
        if op == "gt":
            return bool(stored > operand)
        if op == "gte":
            return bool(stored >= operand)
        if op == "lt":
            return bool(stored < operand)
        return bool(stored <= operand)
    if op in ("in", "nin"):
        if not isinstance(operand, list):
            raise ValueError(f"mem0's {op} takes a list, got {operand!r}")
        found = any(_eq(stored, x) for x in operand)
        return found if op == "in" else not found
    if op in ("contains", "icontains"):
        fold = (lambda s: s.casefold()) if op == "icontains" else (lambda s: s)
        if isinstance(stored, str) and isinstance(operand, str):
            return fold(operand) in fold(stored)
        if isinstance(stored, list):
            if isinstance(operand, str):
                return any(isinstance(x, str) and fold(x) == fold(operand) for x in stored)
            return any(_eq(x, operand) for x in stored)
        return False
    raise ValueError(f"unsupported mem0 filter operator {op!r}")
