"""Errbot's Markdown converters (`errbot.rendering`): `text()`, `imtext()`, `ansi()`, `md()`,
`xhtml()` and `md_escape()`, on Python-Markdown as Errbot's are, giving the same text for the
same Markdown. Plugins use them to format, and `errbot.backends.test` turns what the bot sends
into plain text with `text()`, as Errbot's test backend does."""

import html
import re
from dataclasses import dataclass

from markdown import Markdown
from markdown.extensions.extra import ExtraExtension
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor

__all__ = ["ansi", "imtext", "md", "md_escape", "text", "xhtml"]

# Markdown's special characters, each escaped with a backslash by md_escape.
_SPECIALS = re.compile(r"([\\`*_{}\[\]()>#+\-.!])")
# Errbot's extended syntax, `{:attribute}`, which md() removes.
_ATTRIBUTES = re.compile(r"{:[^}]*}")
# A fenced code block: its fence, info string and code.
_FENCED = re.compile(r"^(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<code>.*?)^(?P=fence)[ \t]*$",
                     re.MULTILINE | re.DOTALL)
# A horizontal rule's width, in characters.
_RULE = 80


@dataclass(frozen=True)
class _Marks:
    """What a format writes around emphasis and code; empty strings mean nothing."""
    bold: tuple = ("", "")
    underline: tuple = ("", "")
    code: tuple = ("", "")
    table: tuple = ("", "")
    end: str = ""


_TEXT = _Marks()
_IMTEXT = _Marks(bold=("*", "*"), underline=("_", "_"), code=("`", "`"),
                 table=("```\n", "\n```"))
_ANSI = _Marks(bold=("\x1b[1m", "\x1b[22m"), underline=("\x1b[4m", "\x1b[24m"), end="\x1b[0m")


def _box(rows, header_rows):
    """A table drawn with box characters: the header in heavy lines, the body in light ones."""
    columns = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (columns - len(r)) for r in rows]
    widths = [max((len(r[c]) for r in rows), default=0) + 2 for c in range(columns)]

    def rule(left, mid, right, line):
        return left + mid.join(line * w for w in widths) + right

    def cells(row, bar):
        return bar + bar.join(f" {cell.ljust(w - 2)} " for cell, w in zip(row, widths)) + bar

    head, body = rows[:header_rows], rows[header_rows:]
    out = []
    if head:
        out.append(rule("┏", "┳", "┓", "━"))
        out.extend(cells(r, "┃") for r in head)
        out.append(rule("┡", "╇", "┩", "━") if body else rule("┗", "┻", "┛", "━"))
    else:
        out.append(rule("┌", "┬", "┐", "─"))
    for i, row in enumerate(body):
        if i:
            out.append(rule("├", "┼", "┤", "─"))
        out.append(cells(row, "│"))
    if body:
        out.append(rule("└", "┴", "┘", "─"))
    return "\n".join(out)


class _Writer:
    """Turns the element tree Python-Markdown parsed into text with the given marks."""

    def __init__(self, marks):
        self.marks = marks

    def render(self, root):
        return "".join(self._children(root)).rstrip("\n") + self.marks.end

    def _children(self, element):
        if element.text and element.tag not in ("ul", "ol", "table", "thead", "tbody", "tr"):
            yield element.text
        for child in element:
            yield from self._element(child)
            if child.tail and child.tail.strip("\n"):
                yield child.tail.rstrip("\n")

    def _inner(self, element):
        return "".join(self._children(element))

    def _element(self, e):
        m, tag = self.marks, e.tag
        if tag == "strong":
            yield m.bold[0] + self._inner(e) + m.bold[1]
        elif tag == "em":
            yield m.underline[0] + self._inner(e) + m.underline[1]
        elif tag == "code":
            yield m.code[0] + self._inner(e) + m.code[1]
        elif tag == "pre":
            # A code block as it was written (its <code> child carries no inline marks).
            yield "".join(e.itertext())
        elif tag == "p":
            yield " " + self._inner(e) + "\n"
        elif tag == "li":
            yield "• " + self._inner(e) + "\n"
        elif tag == "a":
            yield self._inner(e) + f" ({e.get('href', '')})"
        elif tag == "img":
            yield e.get("src", "")
        elif tag == "hr":
            yield "─" * _RULE + "\n"
        elif tag == "br":
            yield ""
        elif tag == "h1":
            yield m.bold[0] + self._inner(e).upper() + m.bold[1] + "\n\n"
        elif tag == "h2":
            yield "\n  " + m.bold[0] + self._inner(e) + m.bold[1] + "\n\n"
        elif tag == "h3":
            yield "\n    " + m.underline[0] + self._inner(e) + m.underline[1] + "\n\n"
        elif tag in ("h4", "h5", "h6"):
            yield "\n      " + self._inner(e) + "\n"
        elif tag == "table":
            yield m.table[0] + self._table(e) + m.table[1]
        else:  # div, blockquote, ul, ol and the rest: their content
            yield from self._children(e)

    def _table(self, table):
        head = [[self._inner(c).strip() for c in tr] for tr in table.iter("tr")
                if any(c.tag == "th" for c in tr)]
        body = [[self._inner(c).strip() for c in tr] for tr in table.iter("tr")
                if not any(c.tag == "th" for c in tr)]
        return _box(head + body, len(head))


class _RawCode(Preprocessor):
    """Fenced code blocks go out as they were written, in no markup: each is kept aside (escaped,
    as the rest of the text is until _Unescape) and put back after rendering."""

    def run(self, lines):
        source = "\n".join(lines)

        def keep(match):
            return "\n" + self.md.htmlStash.store(html.escape(match.group("code"))) + "\n"

        return _FENCED.sub(keep, source).split("\n")


class _Unescape(Postprocessor):
    """Python-Markdown escapes `&`, `<` and `>` for HTML; text wants them back."""

    def run(self, text):
        return html.unescape(text)


class _Converter(Markdown):
    """Python-Markdown with Errbot's text formats as output formats."""

    output_formats = dict(Markdown.output_formats, text=_Writer(_TEXT).render,
                          imtext=_Writer(_IMTEXT).render, ansi=_Writer(_ANSI).render)

    def __init__(self, output_format):
        super().__init__(output_format=output_format, extensions=[ExtraExtension()])
        self.stripTopLevelTags = False
        # Before Python-Markdown's own fenced blocks (priority 25), which would make HTML of them.
        self.preprocessors.register(_RawCode(self), "errbot_raw_code", 30)
        self.postprocessors.register(_Unescape(self), "errbot_unescape", 0)


def text():
    """A converter from Markdown to plain text: `text().convert(md)`. Keep it: making one
    costs more than converting."""
    return _Converter("text")


def imtext():
    """A converter from Markdown to the simple `*bold*` and `_underline_` of chat services."""
    return _Converter("imtext")


def ansi():
    """A converter from Markdown to ANSI terminal text."""
    return _Converter("ansi")


def xhtml():
    """A converter from Markdown to XHTML."""
    return Markdown(output_format="xhtml", extensions=[ExtraExtension()])


class _WithoutAttributes:
    """Markdown with Errbot's `{:attribute}` annotations removed."""

    def convert(self, markdown):
        return _ATTRIBUTES.sub("", markdown)


def md():
    """A converter from Errbot's extended Markdown to plain Markdown."""
    return _WithoutAttributes()


def md_escape(txt):
    """`txt` with every Markdown special character escaped, so that it renders as written."""
    return _SPECIALS.sub(r"\\\1", txt)
