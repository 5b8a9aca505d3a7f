"""Text: case, whitespace, regular expressions, tokens, stop words, n-grams, lengths."""

from __future__ import annotations

from typing import ClassVar, Literal

from mlake.processing.base import Frame, Params, Transform, lit, q, with_columns

ENGLISH_STOP_WORDS = [
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "for",
    "from",
    "has",
    "have",
    "he",
    "her",
    "his",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "me",
    "my",
    "no",
    "not",
    "of",
    "on",
    "or",
    "our",
    "she",
    "so",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "too",
    "us",
    "was",
    "we",
    "were",
    "what",
    "when",
    "which",
    "who",
    "will",
    "with",
    "you",
    "your",
]


class _PerColumn(Transform):
    """A text function applied to each column in place (or into ``<column><suffix>``)."""

    group: ClassVar[str] = "text"
    needs: ClassVar[Literal["text"]] = "text"
    columns: list[str]
    suffix: str = ""

    def expr(self, col: str) -> str:
        raise NotImplementedError

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        return with_columns(frame.name, frame.schema, {c + self.suffix: self.expr(q(c)) for c in self.columns})


class Lowercase(_PerColumn):
    """Lower-case the text."""

    op: ClassVar[str] = "lowercase"

    def expr(self, col: str) -> str:
        return f"lower({col})"


class Uppercase(_PerColumn):
    """Upper-case the text."""

    op: ClassVar[str] = "uppercase"

    def expr(self, col: str) -> str:
        return f"upper({col})"


class Strip(_PerColumn):
    """Remove leading and trailing whitespace and collapse runs of whitespace to one space."""

    op: ClassVar[str] = "strip"
    collapse: bool = True

    def expr(self, col: str) -> str:
        inner = f"regexp_replace({col}, '\\s+', ' ', 'g')" if self.collapse else col
        return f"trim({inner})"


class RegexReplace(_PerColumn):
    """Replace every match of a regular expression (RE2 syntax) by ``replacement``."""

    op: ClassVar[str] = "regex_replace"
    pattern: str
    replacement: str = ""

    def expr(self, col: str) -> str:
        return f"regexp_replace({col}, {lit(self.pattern)}, {lit(self.replacement)}, 'g')"


class RemovePunctuation(_PerColumn):
    """Remove punctuation characters (anything not a letter, digit, underscore or whitespace)."""

    op: ClassVar[str] = "remove_punctuation"

    def expr(self, col: str) -> str:
        return f"regexp_replace({col}, '[^\\w\\s]', '', 'g')"


class RegexExtract(_PerColumn):
    """The first match of a regular expression (or its ``group``), null when none."""

    op: ClassVar[str] = "regex_extract"
    pattern: str
    group_index: int = 0

    def expr(self, col: str) -> str:
        return f"nullif(regexp_extract({col}, {lit(self.pattern)}, {int(self.group_index)}), '')"


class Contains(_PerColumn):
    """1 when the text matches a regular expression, else 0."""

    op: ClassVar[str] = "contains"
    pattern: str
    suffix: str = "_contains"

    def expr(self, col: str) -> str:
        return f"CAST(regexp_matches({col}, {lit(self.pattern)}) AS INTEGER)"


class TextLength(_PerColumn):
    """Number of characters."""

    op: ClassVar[str] = "text_length"
    suffix: str = "_length"

    def expr(self, col: str) -> str:
        return f"length({col})"


class WordCount(_PerColumn):
    """Number of whitespace-separated words."""

    op: ClassVar[str] = "word_count"
    suffix: str = "_words"

    def expr(self, col: str) -> str:
        words = f"list_filter(string_split_regex(trim({col}), '\\s+'), lambda x: x <> '')"
        return f"CASE WHEN {col} IS NULL THEN NULL ELSE len({words}) END"


class Tokenize(_PerColumn):
    """Split text into a list of tokens on a regular expression (default: runs of non-word characters),
    lower-cased unless ``lowercase`` is false."""

    op: ClassVar[str] = "tokenize"
    pattern: str = "\\W+"
    lowercase: bool = True
    suffix: str = "_tokens"

    def expr(self, col: str) -> str:
        text = f"lower({col})" if self.lowercase else col
        return f"list_filter(string_split_regex({text}, {lit(self.pattern)}), lambda x: x <> '')"


class RemoveStopWords(Transform):
    """Drop stop words (English by default, or a given list) from token lists."""

    op: ClassVar[str] = "remove_stop_words"
    group: ClassVar[str] = "text"
    columns: list[str]
    words: list[str] | None = None

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        words = ", ".join(lit(w) for w in (self.words if self.words is not None else ENGLISH_STOP_WORDS))
        exprs = {c: f"list_filter({q(c)}, lambda x: NOT list_contains([{words}], x))" for c in self.columns}
        return with_columns(frame.name, frame.schema, exprs)


class NGrams(Transform):
    """Word n-grams (joined by a space) of a token list, or character n-grams of a text."""

    op: ClassVar[str] = "ngrams"
    group: ClassVar[str] = "text"
    column: str
    n: int = 2
    kind: Literal["word", "char"] = "word"
    name: str | None = None

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        c, n = q(self.column), int(self.n)
        if self.kind == "word":
            expr = (
                f"list_transform(range(1, len({c}) - {n - 1} + 1), lambda i: array_to_string({c}[i:i + {n - 1}], ' '))"
            )
        else:
            expr = f"list_transform(range(1, length({c}) - {n - 1} + 1), lambda i: substring({c}, i, {n}))"
        return with_columns(frame.name, frame.schema, {self.name or f"{self.column}_{n}grams": expr})
