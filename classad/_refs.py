"""What an expression refers to, relative to one ad, as HTCondor's ``externalRefs`` and
``internalRefs`` find it (``ClassAd::_GetExternalReferences``/``_GetInternalReferences``).

External references are the names an expression needs that the ad does not hold, found
by following the ad's own attributes (``x = y + 1`` makes ``x`` lead to ``y``); a scoped
name whose scope is undefined keeps its scope (``TARGET.Memory``).  Internal references
are the ad's own attributes met on the way: a name counts when it is found in the ad
itself, not in an ad nested in it.  The negotiator's autoclusters are built from these:
the job attributes a slot's Requirements and Rank look at.

The walk is HTCondor's: names are looked up from where the expression stands, the ad
being the root (a name only an enclosing ad holds is external); ``self``, ``toplevel``
and ``parent`` lead to an ad whose attributes are all followed; ``a.b`` evaluates ``a``;
an ad literal's attributes are followed from where the literal stands.  Where HTCondor
gives up (a cycle, a selection from something that is not an ad), roost leaves that part
out and returns the rest.
"""

from __future__ import annotations

from . import _ast as ast
from ._classad import ClassAd
from ._evaluate import MAX_ATTRIBUTE_DEPTH, compile_node, run
from ._exprtree import ExprTree
from ._unparse import unparse
from ._values import Undefined


def _tree(expr) -> ast.Node:
    if isinstance(expr, ExprTree):
        return expr._node
    if isinstance(expr, str):
        return ExprTree(expr)._node
    raise TypeError(f"expected an ExprTree or expression text, not {type(expr).__name__}")


def references(ad: ClassAd, expr, external: bool, target: ClassAd | None = None) -> list[str]:
    """Names ``expr`` refers to, evaluated in ``ad`` (matched against ``target`` if given,
    so that ``TARGET.x`` leads into the target ad)."""
    return _References(ad, external, target).of(_tree(expr))


class _References:
    def __init__(self, root: ClassAd, external: bool, target: ClassAd | None) -> None:
        self.root = root
        self.external = external
        self.left, self.right = (root, target) if target is not None else (None, None)
        self.found: dict[str, str] = {}
        # (ad, name) already followed, name None for a whole ad: repeats and cycles.
        self.seen: set[tuple[int, str | None]] = set()

    def of(self, node: ast.Node) -> list[str]:
        self.visit(node, self.root, False, 0)
        return sorted(self.found.values(), key=str.lower)

    def add(self, name: str) -> None:
        self.found.setdefault(name.lower(), name)

    def visit(self, node: ast.Node, scope: ClassAd, in_ref: bool, depth: int) -> None:
        """``in_ref``: the node is the scope part of ``a.b`` (internal references only),
        where an ad literal's attributes are not looked at."""
        if depth > MAX_ATTRIBUTE_DEPTH:
            return
        t = type(node)
        if t is ast.AttrRef:
            self.follow(node.name, self.root if node.absolute else scope, in_ref, depth)
        elif t is ast.Select:
            if not self.external:
                self.visit(node.expr, scope, True, depth + 1)
            base = run(compile_node(node.expr), scope, self.left, self.right)
            if base is Undefined and self.external:
                self.add(f"{unparse(node.expr)}.{node.name}")
            elif type(base) is ClassAd:
                self.follow(node.name, base, in_ref, depth)
        elif t is ast.AdExpr:
            if not in_ref:
                for child in node.children():
                    self.visit(child, scope, in_ref, depth + 1)
        else:
            for child in node.children():
                self.visit(child, scope, in_ref, depth + 1)

    def follow(self, name: str, start: ClassAd, in_ref: bool, depth: int) -> None:
        key = name.lower()
        owner, found = self.lookup(start, key)
        if found is None:
            if self.external:
                self.add(name)
        elif type(found) is ClassAd:
            # self, toplevel, parent: every attribute of that ad, looked up from here.
            mark = (id(found), None)
            if not in_ref and mark not in self.seen:
                self.seen.add(mark)
                for child in found._attrs.values():
                    self.visit(child, start, in_ref, depth + 1)
        else:
            if not self.external and owner is self.root and key in owner._attrs:
                self.add(name)
            mark = (id(owner), key)
            if mark not in self.seen:
                self.seen.add(mark)
                self.visit(found, owner, in_ref, depth + 1)

    def lookup(self, start: ClassAd, key: str):
        """(ad, tree) where a name leads from ``start`` (an ad for a special name naming
        one, a call for CurrentTime), (None, None) for nowhere: LookupInScope with this ad
        as the root, past which the walk does not go."""
        node = start._attrs.get(key)
        if node is not None:
            return start, node
        if key in ("self", "my"):
            return start, start
        if key in ("toplevel", "root"):
            return start, self.root
        if key == "parent":
            parent = start._parent if start is not self.root else None
            return start, parent
        if key == "currenttime":
            return start, ast.Call("time", ())
        ad = start
        while ad is not self.root and ad._parent is not None:
            ad = ad._parent
            node = ad._attrs.get(key)
            if node is not None:
                return ad, node
        return None, None
