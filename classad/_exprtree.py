"""``ExprTree``: an expression, as HTCondor's Python bindings call it."""

from __future__ import annotations

from . import _ast as ast
from ._convert import to_python, value_to_node
from ._evaluate import evaluate
from ._parser import parse_expression
from ._unparse import unparse


class ExprTree:
    """A parsed ClassAd expression.  ``ExprTree("RequestCpus <= TARGET.Cpus")``.

    Raises ``ClassAdSyntaxError`` (a ``ValueError`` with ``line`` and ``column``) for text
    that is not an expression.  Equality is equality of trees.
    """

    __slots__ = ("_node",)

    def __init__(self, text: str | ExprTree) -> None:
        if isinstance(text, ExprTree):
            self._node = text._node
        elif isinstance(text, str):
            self._node = parse_expression(text)
        else:
            raise TypeError(f"ExprTree() takes expression text, not {type(text).__name__}")

    @classmethod
    def _wrap(cls, node: ast.Node) -> ExprTree:
        tree = cls.__new__(cls)
        tree._node = node
        return tree

    def eval(self, my=None, target=None):
        """The value with ``my`` as MY (and the scope of unscoped names) and ``target`` as
        TARGET; plain Python values, ``Value.Undefined`` or ``Value.Error``.  Never raises
        for errors of the language."""
        return to_python(evaluate(self._node, my, target))

    def simplify(self, my=None, target=None) -> ExprTree:
        """The value as a literal tree, keeping the ClassAd types (relative and absolute
        times stay times), as the bindings' ``simplify`` does: ``str()`` of it is the value
        in canonical syntax."""
        return ExprTree._wrap(value_to_node(evaluate(self._node, my, target)))

    def __str__(self) -> str:
        return unparse(self._node)

    def __repr__(self) -> str:
        return unparse(self._node)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ExprTree):
            return self._node == other._node
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._node)
