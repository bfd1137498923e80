"""The package stays small modules: no module of netchan/ over 1000 lines.

One concern per file (docs/architecture.md); a module that grows past the bound is the sign
that it holds two.
"""

from __future__ import annotations

from pathlib import Path

LIMIT = 1000
PACKAGE = Path(__file__).resolve().parent.parent / "netchan"


def test_no_module_over_the_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 50
    over = {name: lines for name, lines in sizes.items() if lines > LIMIT}
    assert not over, f"modules over {LIMIT} lines: {over}"


def test_each_document_has_each_section_once() -> None:
    # A merge once left the README with its second half twice (two "Performance" sections
    # with different numbers).
    root = PACKAGE.parent
    docs = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    for doc in docs:
        in_code = False
        headings: list[str] = []
        for line in doc.read_text().splitlines():
            if line.startswith("```"):
                in_code = not in_code
            elif not in_code and line.startswith("## "):
                headings.append(line)
        repeated = {h for h in headings if headings.count(h) > 1}
        assert not repeated, f"{doc.name}: sections repeated: {sorted(repeated)}"
