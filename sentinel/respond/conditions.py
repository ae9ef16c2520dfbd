"""The small, safe expression language of playbook ``if-condition`` steps.

Conditions read like Python over playbook variables, e.g.
``__severity__ in ['high', 'critical'] and __events_24h__ > 100``. They are
parsed with :mod:`ast` and only comparisons, boolean operators, ``not``,
variables and literals are accepted, so a playbook file can never run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from typing import Any

from sentinel.errors import Invalid

_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Compare,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    *_CMP,
)


class ConditionError(Invalid):
    pass


def compile_condition(text: str) -> ast.Expression:
    """Parse and check a condition; raise :class:`ConditionError` naming what is not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"cannot read condition {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ConditionError(
                f"condition {text!r} uses {type(node).__name__}; only comparisons, and/or/not, "
                "__variables__ and literals are allowed"
            )
    return tree


def variables_in(tree: ast.Expression) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def evaluate(tree: ast.Expression, variables: Mapping[str, Any]) -> bool:
    """Evaluate a compiled condition; an unset variable is ``None`` and comparisons with it are false."""
    return bool(_eval(tree.body, variables))


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    match node:
        case ast.Constant(value=v):
            return v
        case ast.Name(id=name):
            return env.get(name)
        case ast.List(elts=elts) | ast.Tuple(elts=elts):
            return [_eval(e, env) for e in elts]
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _eval(operand, env)
        case ast.BoolOp(op=ast.And(), values=values):
            return all(_eval(v, env) for v in values)
        case ast.BoolOp(op=ast.Or(), values=values):
            return any(_eval(v, env) for v in values)
        case ast.Compare(left=left, ops=ops, comparators=comps):
            a = _eval(left, env)
            for op, comp in zip(ops, comps, strict=True):
                b = _eval(comp, env)
                try:
                    if not _CMP[type(op)](a, b):
                        return False
                except TypeError:
                    return False
                a = b
            return True
    raise ConditionError(f"cannot evaluate {type(node).__name__}")
