"""The ClassAd grammar (PLY LALR), after HTCondor's recursive-descent source.cpp.

One grammar serves two entry points, chosen by a first token the parser feeds itself:
one expression, or a stream of new-syntax ads ``[...] [...]``.  Binary operators share
one production and a precedence table; the postfix level holds ``.name``, ``[index]``
and, as in HTCondor, Elvis ``?:``, whose right side is itself a postfix expression (so
``a ?: b + 1`` is ``(a ?: b) + 1``).  Tables are built in memory: nothing is written.
"""

from __future__ import annotations

import ply.yacc

from . import _ast as ast
from ._errors import ClassAdSyntaxError
from ._lexer import Lexer, tokens  # noqa: F401  (PLY reads the token list from here)
from ._values import Error, Undefined, wrap_int

# Deeper trees are refused: evaluation, unparsing and compiling recurse over them.
MAX_DEPTH = 1000

precedence = (
    ("right", "QUESTION", "COLON"),
    ("left", "OR"),
    ("left", "AND"),
    ("left", "BITOR"),
    ("left", "BITXOR"),
    ("left", "BITAND"),
    ("left", "EQ", "NE", "META_EQ", "META_NE"),
    ("left", "LT", "LE", "GT", "GE"),
    ("left", "LSHIFT", "RSHIFT", "URSHIFT"),
    ("left", "PLUS", "MINUS"),
    ("left", "TIMES", "DIVIDE", "MOD"),
    ("right", "ELVIS"),
    ("left", "DOT", "LBRACKET"),
)

_OPS = {
    "OR": "||", "AND": "&&", "BITOR": "|", "BITXOR": "^", "BITAND": "&", "EQ": "==",
    "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=", "LSHIFT": "<<",
    "RSHIFT": ">>", "URSHIFT": ">>>", "PLUS": "+", "MINUS": "-", "TIMES": "*",
    "DIVIDE": "/", "MOD": "%",
}


def _pos(p, n: int) -> tuple[int, int]:
    tok = p.slice[n]
    return tok.lineno, getattr(tok, "column", 0)


def _checked(node: ast.Node, p, n: int) -> ast.Node:
    if node.depth > MAX_DEPTH:
        line, column = _pos(p, n)
        raise ClassAdSyntaxError(
            f"expression nested more than {MAX_DEPTH} levels deep", line, column
        )
    return node


TABLES = "classad._parsetab"  # the grammar's LALR tables, generated and committed


class Grammar:
    tokens = tokens + ("START_EXPR", "START_ADS")
    precedence = precedence

    def p_start(self, p):
        """start : START_EXPR expr
        | START_ADS adstream
        | START_ADS"""
        p[0] = p[2] if len(p) == 3 else []

    def p_adstream(self, p):
        """adstream : adstream adliteral
        | adliteral"""
        p[0] = _appended(p[1], p[2]) if len(p) == 3 else [p[1]]

    def p_expr_conditional(self, p):
        """expr : expr QUESTION expr COLON expr"""
        p[0] = _checked(ast.Conditional(p[1], p[3], p[5], p[1].line, p[1].column), p, 2)

    def p_expr_binary(self, p):
        """expr : expr OR expr
        | expr AND expr
        | expr BITOR expr
        | expr BITXOR expr
        | expr BITAND expr
        | expr EQ expr
        | expr NE expr
        | expr LT expr
        | expr LE expr
        | expr GT expr
        | expr GE expr
        | expr LSHIFT expr
        | expr RSHIFT expr
        | expr URSHIFT expr
        | expr PLUS expr
        | expr MINUS expr
        | expr TIMES expr
        | expr DIVIDE expr
        | expr MOD expr"""
        op = _OPS[p.slice[2].type]
        p[0] = _checked(ast.BinaryOp(op, p[1], p[3], p[1].line, p[1].column), p, 2)

    def p_expr_meta(self, p):
        """expr : expr META_EQ expr
        | expr META_NE expr"""
        # "is" and "isnt" are other spellings of the same operators.
        op = "=?=" if p[2] in ("=?=", "is") else "=!="
        p[0] = _checked(ast.BinaryOp(op, p[1], p[3], p[1].line, p[1].column), p, 2)

    def p_expr_unary(self, p):
        """expr : unary"""
        p[0] = p[1]

    def p_unary(self, p):
        """unary : MINUS unary
        | PLUS unary
        | NOT unary
        | BITNOT unary"""
        line, column = _pos(p, 1)
        operand = p[2]
        if p[1] == "-" and type(operand) is ast.Literal and type(operand.value) in (int, float):
            # "- 5" is the literal -5, as "-5" is: one tree for one value, so that
            # unparsing and parsing again gives the same tree.
            value = operand.value
            p[0] = ast.Literal(wrap_int(-value) if type(value) is int else -value, line, column)
            return
        p[0] = _checked(ast.UnaryOp(p[1], operand, line, column), p, 1)

    def p_unary_postfix(self, p):
        """unary : postfix"""
        p[0] = p[1]

    def p_postfix_select(self, p):
        """postfix : postfix DOT IDENT"""
        p[0] = _checked(ast.Select(p[1], p[3], p[1].line, p[1].column), p, 2)

    def p_postfix_subscript(self, p):
        """postfix : postfix LBRACKET expr RBRACKET"""
        p[0] = _checked(ast.Subscript(p[1], p[3], p[1].line, p[1].column), p, 2)

    def p_postfix_elvis(self, p):
        """postfix : postfix ELVIS postfix"""
        p[0] = _checked(ast.BinaryOp("?:", p[1], p[3], p[1].line, p[1].column), p, 2)

    def p_postfix_primary(self, p):
        """postfix : primary"""
        p[0] = p[1]

    def p_primary_ref(self, p):
        """primary : IDENT"""
        line, column = _pos(p, 1)
        p[0] = ast.AttrRef(p[1], False, line, column)

    def p_primary_absolute(self, p):
        """primary : DOT IDENT"""
        line, column = _pos(p, 1)
        p[0] = ast.AttrRef(p[2], True, line, column)

    def p_primary_call(self, p):
        """primary : IDENT LPAREN args RPAREN"""
        line, column = _pos(p, 1)
        p[0] = _checked(_call(p[1], tuple(p[3]), line, column), p, 1)

    def p_primary_paren(self, p):
        """primary : LPAREN expr RPAREN"""
        line, column = _pos(p, 1)
        p[0] = _checked(ast.Paren(p[2], line, column), p, 1)

    def p_primary_list(self, p):
        """primary : LBRACE items RBRACE"""
        line, column = _pos(p, 1)
        p[0] = _checked(ast.ListExpr(tuple(p[2]), line, column), p, 1)

    def p_primary_ad(self, p):
        """primary : adliteral"""
        p[0] = p[1]

    def p_adliteral(self, p):
        """adliteral : LBRACKET attrs RBRACKET"""
        line, column = _pos(p, 1)
        if type(p[2]) is _Semicolons:
            raise ClassAdSyntaxError("an ad of nothing but semicolons", line, column)
        attrs: dict[str, tuple[str, ast.Node]] = {}
        for name, expr in p[2]:
            # A later duplicate replaces the value; the attribute keeps its place and its
            # first spelling, as in HTCondor's attribute map.
            first = attrs.get(name.lower())
            attrs[name.lower()] = (first[0] if first else name, expr)
        p[0] = _checked(ast.AdExpr(attrs, line, column), p, 1)

    def p_primary_literal(self, p):
        """primary : INTEGER
        | REAL
        | STRING
        | TRUE
        | FALSE"""
        line, column = _pos(p, 1)
        p[0] = ast.Literal(p[1], line, column)

    def p_primary_undefined(self, p):
        """primary : UNDEFINED"""
        line, column = _pos(p, 1)
        p[0] = ast.Literal(Undefined, line, column)

    def p_primary_error(self, p):
        """primary : ERROR"""
        line, column = _pos(p, 1)
        p[0] = ast.Literal(Error, line, column)

    def p_args(self, p):
        """args : arglist
        | empty"""
        p[0] = p[1]

    def p_arglist(self, p):
        """arglist : arglist COMMA expr
        | arglist SEMI expr
        | expr"""
        # HTCondor's old-ClassAd mode also separates arguments with ';'.
        p[0] = _appended(p[1], p[3]) if len(p) == 4 else [p[1]]

    def p_items(self, p):
        """items : itemlist
        | empty"""
        p[0] = p[1]

    def p_itemlist(self, p):
        """itemlist : itemlist COMMA expr
        | expr"""
        p[0] = _appended(p[1], p[3]) if len(p) == 4 else [p[1]]

    def p_attrs(self, p):
        """attrs : attrs SEMI attr
        | attrs SEMI
        | attr
        | empty"""
        # Stray semicolons are allowed anywhere between attributes, as HTCondor allows, but
        # not as all an ad holds: its parser then takes "]" for a name.
        if len(p) == 4:
            p[0] = _appended(list(p[1]) if type(p[1]) is _Semicolons else p[1], p[3])
        elif len(p) == 3:
            p[0] = p[1] if p[1] else _Semicolons()
        else:
            p[0] = p[1] if isinstance(p[1], list) else [p[1]]

    def p_attr(self, p):
        """attr : IDENT ASSIGN expr"""
        if not p[1]:
            raise ClassAdSyntaxError("an attribute name cannot be empty", *_pos(p, 1))
        p[0] = (p[1], p[3])

    def p_empty(self, p):
        """empty :"""
        p[0] = []

    def p_error(self, tok):
        if tok is None:
            raise ClassAdSyntaxError("unexpected end of input", *self.end_position)
        raise ClassAdSyntaxError(
            f"unexpected {_describe(tok)}", tok.lineno, getattr(tok, "column", 0)
        )

    def __init__(self) -> None:
        # The tables come from TABLES (scripts/gen_parsetab.py makes it), which ply takes
        # if its signature is this grammar's, else it builds them here; it writes none.
        self.parser = ply.yacc.yacc(
            module=self, tabmodule=TABLES, write_tables=False, debug=False,
            errorlog=ply.yacc.NullLogger()
        )
        self.end_position = (1, 1)


def _appended(items: list, item) -> list:
    """``items`` with ``item`` added: in place, since each list is the parser's own, so
    that a list of n elements costs n appends rather than n copies."""
    items.append(item)
    return items


class _Semicolons(list):
    """The attributes of an ad that so far holds only semicolons."""


def _call(name: str, args: tuple[ast.Node, ...], line: int, column: int) -> ast.Node:
    """A call, with ``absTime("...")`` and ``relTime("...")`` folded into time literals as
    HTCondor's parser does; a literal it cannot read is a syntax error there too."""
    lower = name.lower()
    if lower in ("abstime", "reltime") and len(args) == 1:
        arg = args[0]
        if type(arg) is ast.Literal and type(arg.value) is str:
            from ._timeparse import parse_abstime, parse_reltime

            if lower == "abstime":
                value = parse_abstime(arg.value)
                if value is not None:
                    return ast.Literal(value, line, column)
            else:
                value = parse_reltime(arg.value)
                if value is not None:
                    return ast.ReltimeLiteral(value, line, column)
            raise ClassAdSyntaxError(f"{name} cannot read {arg.value!r}", line, column)
    return ast.Call(name, args, line, column)


def _describe(tok) -> str:
    if tok.type in ("START_EXPR", "START_ADS"):
        return "start of input"
    if tok.type == "IDENT":
        return f"name {tok.value!r}"
    if tok.type == "STRING":
        return f"string {tok.value!r}"
    if tok.type in ("INTEGER", "REAL"):
        return f"number {tok.value!r}"
    return repr(tok.text)
