"""Text corpus for the small language models (models/text-small, models/text-moe-small).

Source: the reStructuredText sources of the Python 3.11 documentation as Debian's
`python3.11-doc` package installs them (/usr/share/doc/python3.11/html/_sources/**/*.rst.txt).
Licence: PSF License Agreement for Python 3.11 (see /usr/share/doc/python3.11-doc/copyright);
it allows preparing derivative works and distributing them provided the PSF licence and
copyright notice are retained — the model cards carry both. Example code in the documentation is
also under the Zero-Clause BSD licence.

Cleaning keeps what a reader sees: prose paragraphs (wrapped lines joined), headings, list items
and code blocks (dedented); it drops markup that carries no text (directive option lines, labels,
comments, toctrees, index entries, tables drawn with +---+, heading underlines) and reduces
roles to their text (:func:`os.path.join` -> os.path.join, :class:`~a.B` -> B,
`text <url>`_ -> text). The changelog (whatsnew/changelog) is left out: a list of issue
numbers, not prose.

Split by document: a document is held out when the first byte of sha256(relative path) is
< 13 (about 5%). Outputs (under --out):
  train.txt, heldout.txt   documents separated by a line "\\f" (form feed) -- never inside text
  documents.json           every document: path, split, characters
Run: /usr/bin/python3 models/train/prepare_text_corpus.py --out /tmp/text-corpus
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re

SOURCE = "/usr/share/doc/python3.11/html/_sources"
SKIP = {"whatsnew/changelog.rst.txt"}
DOC_SEPARATOR = "\f"

# Directives whose whole body is markup, not text.
DROP_DIRECTIVES = {
    "toctree", "index", "module", "moduleauthor", "sectionauthor", "highlight", "image", "figure",
    "raw", "include", "literalinclude", "productionlist", "only", "tabularcolumns", "csv-table",
    "list-table", "table", "contents", "currentmodule", "program", "opcode", "audit-event",
    "audit-event-table", "availability", "impl-detail", "c:namespace", "testsetup", "testcleanup",
    "rst-class", "role", "default-role", "cmdoption", "option", "envvar", "pdbcommand",
    "describe", "productionlist", "glossary", "grammar-snippet", "limited-api-list",
}
# Directives whose argument is a signature: the signature line is kept as text.
SIGNATURE_DIRECTIVES = re.compile(r"^(py:|c:)?(function|method|class|exception|attribute|data|"
                                  r"classmethod|staticmethod|decorator|decoratormethod|macro|"
                                  r"member|type|var|coroutinefunction|coroutinemethod|abstractmethod)$")
ROLE = re.compile(r":[a-zA-Z:+-]+:`([^`]*)`")
LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`__?")
PLAIN_LINK = re.compile(r"`([^`]+)`__?")
LITERAL = re.compile(r"``([^`]+)``")
EMPH = re.compile(r"\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*")
FOOTNOTE = re.compile(r"\s*\[#[^\]]*\]_")
UNDERLINE = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}\s*$")


def role_text(m: re.Match) -> str:
    text = m.group(1)
    kind = m.group(0).split("`")[0].strip(":")
    if kind in ("rfc", "pep"):
        return f"{kind.upper()} {text}"
    link = re.match(r"^(.*?)\s*<[^>]*>$", text)
    if link:
        return link.group(1)
    if text.startswith("~"):
        return text[1:].split(".")[-1]
    return text.lstrip("!")


def inline(line: str) -> str:
    line = ROLE.sub(role_text, line)
    line = LINK.sub(r"\1", line)
    line = LITERAL.sub(r"\1", line)
    line = PLAIN_LINK.sub(r"\1", line)
    line = FOOTNOTE.sub("", line)
    line = EMPH.sub(lambda m: m.group(1) or m.group(2), line)
    return line.replace("\\ ", "").replace("|version|", "3.11")


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def clean(text: str) -> str:
    lines = text.replace("\t", "    ").split("\n")
    out: list[str] = []  # blocks: paragraphs (one line) or code (several lines)
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(inline(" ".join(p.strip() for p in para)))
            para.clear()

    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        if UNDERLINE.match(stripped) or stripped.startswith("+-") or stripped.startswith("+="):
            # heading under/overline, or a grid table row: the heading text was the previous line
            flush() if not para else None
            if stripped.startswith("+"):
                while i < n and lines[i].strip():
                    i += 1
                continue
            if para:
                flush()
            i += 1
            continue
        if stripped.startswith(".. "):
            flush()
            m = re.match(r"^\.\.\s+([\w:-]+)::\s*(.*)$", stripped)
            base = indent_of(line)
            name = m.group(1) if m else None
            body_dropped = m is None or name in DROP_DIRECTIVES  # comments, labels, dropped directives
            if m and SIGNATURE_DIRECTIVES.match(name) and m.group(2):
                out.append(inline(m.group(2)))
            elif m and name in ("note", "warning", "seealso", "versionadded", "versionchanged",
                                "deprecated", "deprecated-removed", "tip", "important", "attention",
                                "caution", "hint", "admonition", "topic", "rubric", "centered") and m.group(2):
                out.append(inline(m.group(2)))
            elif m and name in ("code-block", "sourcecode", "code", "doctest", "testcode", "testoutput"):
                i += 1
                i = take_code(lines, i, base, out)
                continue
            i += 1
            # the body: lines indented deeper than the directive (or blank)
            body_start = i
            while i < n and (not lines[i].strip() or indent_of(lines[i]) > base):
                i += 1
            if not body_dropped:
                body = [l for l in lines[body_start:i]]
                body = [l for l in body if not re.match(r"^\s+:[\w-]+:( |$)", l)]  # option lines
                out.append(clean("\n".join(dedent(body))))
            continue
        if para and indent_of(line) > indent_of(para[0]) and not re.match(r"^\s*([-*+]|\d+\.|#\.)\s", line):
            para.append(line)
            i += 1
            continue
        if re.match(r"^\s*([-*+]|\d+\.|#\.)\s", line) and para:
            flush()
        para.append(line)
        i += 1
        if stripped.endswith("::"):
            # literal block follows: keep the paragraph with one colon, then the code
            para[-1] = para[-1].rstrip()[:-1] if not stripped == "::" else ""
            if not "".join(para).strip():
                para.clear()
            flush()
            i = take_code(lines, i, indent_of(line), out)
    flush()
    return "\n\n".join(b for b in out if b.strip())


def dedent(block: list[str]) -> list[str]:
    widths = [indent_of(l) for l in block if l.strip()]
    if not widths:
        return []
    w = min(widths)
    return [l[w:] for l in block]


def take_code(lines: list[str], i: int, base: int, out: list[str]) -> int:
    n = len(lines)
    while i < n and not lines[i].strip():
        i += 1
    start = i
    while i < n and (not lines[i].strip() or indent_of(lines[i]) > base):
        if re.match(r"^\s+:[\w-]+:( |$)", lines[i]) and i == start:
            start += 1  # option lines of a code-block directive
        i += 1
    code = dedent(lines[start:i])
    while code and not code[-1].strip():
        code.pop()
    if code:
        out.append("\n".join(code))
    return i


def held_out(rel: str) -> bool:
    return hashlib.sha256(rel.encode()).digest()[0] < 13


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=SOURCE)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if not os.path.isdir(args.source):
        raise SystemExit(f"{args.source} not found: apt-get install python3.11-doc")
    docs = []
    for root, _, files in os.walk(args.source):
        for f in files:
            if f.endswith(".rst.txt"):
                rel = os.path.relpath(os.path.join(root, f), args.source)
                if rel not in SKIP:
                    docs.append(rel)
    docs.sort()
    os.makedirs(args.out, exist_ok=True)
    parts = {"train": [], "heldout": []}
    index = []
    for rel in docs:
        with open(os.path.join(args.source, rel), encoding="utf-8") as f:
            text = clean(f.read())
        text = text.replace(DOC_SEPARATOR, " ")
        if len(text) < 200:
            continue
        split = "heldout" if held_out(rel) else "train"
        parts[split].append(text)
        index.append({"path": rel, "split": split, "characters": len(text)})
    for split, texts in parts.items():
        tmp = os.path.join(args.out, f"{split}.txt.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"\n{DOC_SEPARATOR}\n".join(texts) + "\n")
        os.replace(tmp, os.path.join(args.out, f"{split}.txt"))
    with open(os.path.join(args.out, "documents.json"), "w") as f:
        json.dump(index, f, indent=1)
    for split, texts in parts.items():
        print(f"{split}: {len(texts)} documents, {sum(len(t) for t in texts):,} characters")


if __name__ == "__main__":
    main()
