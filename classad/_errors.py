"""The one exception the ClassAd language raises: a syntax error with its position."""

from __future__ import annotations


class ClassAdSyntaxError(ValueError):
    """Text that is not a ClassAd or expression; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int = 0, column: int = 0, source: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line else ""
        prefix = f"{self.source}:" if self.source else ""
        return f"{prefix}{where}{self.message}"

    def located(self, source: str, line_offset: int = 0, column_offset: int = 0):
        """The same error, named after a file and moved by where its text started there."""
        column = self.column + column_offset if self.line == 1 else self.column
        return ClassAdSyntaxError(self.message, self.line + line_offset, column, source)
