"""``ClassAd``: a set of named expressions, case-insensitive in its names.

An ad maps lower-cased names to trees (``_attrs``) and keeps each name as it was written
(``_names``, in insertion order).  A nested ad made by evaluating an ad literal shares the
literal's dictionaries and copies them the first time it is changed.  ``_parent`` is the
lexically enclosing ad, where unscoped names are looked up next.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from . import _ast as ast


class ClassAd(MutableMapping):
    """A ClassAd, from new-syntax text ``"[ a = 1; b = a + 1 ]"``, old-syntax text
    (``Name = expr`` lines), or a dict of Python values and ``ExprTree``s."""

    __slots__ = ("_attrs", "_names", "_parent", "_shared")

    def __init__(self, source=None) -> None:
        self._attrs: dict[str, ast.Node] = {}
        self._names: dict[str, str] = {}
        self._parent: ClassAd | None = None
        self._shared = False
        if source is None:
            return
        if isinstance(source, str):
            self._adopt(parse_ad_text(source))
        elif isinstance(source, ClassAd):
            self._attrs = dict(source._attrs)
            self._names = dict(source._names)
        else:
            for name, value in dict(source).items():
                self[name] = value

    @classmethod
    def _from_node(cls, node: ast.AdExpr, parent: ClassAd | None) -> ClassAd:
        ad = cls.__new__(cls)
        ad._attrs = node.exprs
        ad._names = node.names
        ad._parent = parent
        ad._shared = True
        return ad

    @classmethod
    def _from_dicts(cls, exprs: dict[str, ast.Node], names: dict[str, str]) -> ClassAd:
        ad = cls.__new__(cls)
        ad._attrs = exprs
        ad._names = names
        ad._parent = None
        ad._shared = False
        return ad

    def _detached(self) -> ClassAd:
        """The same attributes with no enclosing ad, shared until one of the two changes."""
        ad = ClassAd._from_dicts(self._attrs, self._names)
        ad._shared = True
        return ad

    def _adopt(self, other: ClassAd) -> None:
        self._attrs = other._attrs
        self._names = other._names
        self._shared = other._shared

    def _own(self) -> None:
        if self._shared:
            self._attrs = dict(self._attrs)
            self._names = dict(self._names)
            self._shared = False

    def _insert(self, name: str, node: ast.Node) -> None:
        key = name.lower()
        if self._shared:
            self._own()
        self._attrs[key] = node
        # Replacing an attribute keeps the name as first written, as HTCondor does.
        self._names.setdefault(key, name)

    # -- the mapping ---------------------------------------------------------------------

    def __getitem__(self, name: str):
        """A literal attribute's value; an ``ExprTree`` for any other expression."""
        node = self._attrs[name.lower()]
        if type(node) is ast.Literal:
            return to_python(node.value)
        if type(node) is ast.ReltimeLiteral:
            return float(node.value.secs)

        return ExprTree._wrap(node)

    def __setitem__(self, name: str, value) -> None:

        if not isinstance(name, str) or not name:
            raise KeyError(f"attribute names are non-empty strings, not {name!r}")
        self._insert(name, to_node(value))

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        if key not in self._attrs:
            raise KeyError(name)
        self._own()
        del self._attrs[key]
        del self._names[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._attrs

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names.values()))

    def __len__(self) -> int:
        return len(self._attrs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassAd):
            return NotImplemented
        return self._attrs == other._attrs

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> ClassAd:
        return ClassAd(self)

    # -- evaluation ----------------------------------------------------------------------

    def lookup(self, name: str):
        """The attribute's expression as an ``ExprTree`` (KeyError if absent)."""
        return ExprTree._wrap(self._attrs[name.lower()])

    def eval(self, name: str):
        """The attribute's value in this ad (Undefined if absent), as a Python value."""
        return to_python(evaluate_attribute(self, name))

    def matches(self, target: ClassAd) -> bool:
        """Whether ``target``'s Requirements holds against this ad.

        This is the direction HTCondor's bindings give ``matches``: "does this ad satisfy
        what the other one asks for" (``job.matches(slot)``: will the slot take the job).
        """
        return requirements_hold(target, self)

    def symmetric_match(self, target: ClassAd) -> bool:
        """Whether both ads' Requirements hold, each against the other."""
        return symmetric_match(self, target)

    def external_refs(self, expr) -> list[str]:
        """Names ``expr`` refers to that this ad does not hold (as HTCondor's
        ``externalRefs``: scoped names in full, ``TARGET.Memory``)."""
        return references(self, expr, external=True)

    def internal_refs(self, expr) -> list[str]:
        """Names ``expr`` refers to that this ad holds."""
        return references(self, expr, external=False)

    def flatten(self, expr):
        """``expr`` partially evaluated in this ad: a value if it is fully determined,
        else an ``ExprTree`` with what this ad determines folded in."""
        return flatten(self, expr)

    # -- text ----------------------------------------------------------------------------

    def print_old(self, lines: dict | None = None) -> str:
        """Old syntax: ``Name = expr`` lines, as ``condor_q -long`` prints.  ``lines``, a
        dict kept over many calls, remembers each line written: ads copied from one ad
        share its expressions, and a line is then written once for all of them."""
        if lines is None:
            return "".join(
                f"{quote_name(name, old=True)} = {unparse(self._attrs[key], old=True)}\n"
                for key, name in self._names.items()
            )
        out = []
        for key, name in self._names.items():
            expr = self._attrs[key]
            # By identity, the expression kept with its line so that its id stays its own.
            seen = lines.get((name, id(expr)))
            if seen is None or seen[0] is not expr:
                seen = lines[name, id(expr)] = (
                    expr, f"{quote_name(name, old=True)} = {unparse(expr, old=True)}\n")
            out.append(seen[1])
        return "".join(out)

    def print_json(self) -> str:

        return ad_to_json(self)

    def __repr__(self) -> str:

        return unparse_ad(self)

    def __str__(self) -> str:

        if not self._attrs:
            return "[\n]\n"
        lines = [
            f"    {quote_name(name)} = {unparse(self._attrs[key])}"
            for key, name in self._names.items()
        ]
        return "[\n" + ";\n".join(lines) + "\n]\n"

    # HTCondor's spellings.
    symmetricMatch = symmetric_match
    externalRefs = external_refs
    internalRefs = internal_refs
    printOld = print_old
    printJson = print_json


# Imported last: these modules need ClassAd defined, and ClassAd's methods need them.
from ._convert import to_node, to_python  # noqa: E402
from ._evaluate import evaluate_attribute  # noqa: E402
from ._exprtree import ExprTree  # noqa: E402
from ._flatten import flatten  # noqa: E402
from ._io import ad_to_json, parse_ad_text  # noqa: E402
from ._match import requirements_hold, symmetric_match  # noqa: E402
from ._refs import references  # noqa: E402
from ._unparse import quote_name, unparse, unparse_ad  # noqa: E402
