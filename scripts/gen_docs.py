"""Regenerate the generated parts of the docs from the code (transform registry)."""

from __future__ import annotations

import re
from pathlib import Path

from directorsync.cli.docgen import cli_markdown
from directorsync.profile.lint import codes_markdown
from directorsync.transforms import transforms_markdown

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- transforms:begin -->", "<!-- transforms:end -->"


def _replace(doc: Path, begin: str, end: str, body: str) -> None:
    text = doc.read_text(encoding="utf-8")
    block = f"{begin}\n{body}\n{end}"
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
    doc.write_text(text, encoding="utf-8")
    print(f"updated {doc}")


def main() -> None:
    _replace(ROOT / "docs" / "profiles.md", BEGIN, END, transforms_markdown())
    _replace(ROOT / "docs" / "cli.md", "<!-- cli:begin -->", "<!-- cli:end -->", cli_markdown())
    _replace(
        ROOT / "docs" / "profiles.md", "<!-- lint:begin -->", "<!-- lint:end -->", codes_markdown()
    )


if __name__ == "__main__":
    main()
