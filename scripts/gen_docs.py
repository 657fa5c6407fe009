"""Regenerate the generated parts of the docs from the code (transform registry)."""

from __future__ import annotations

import re
from pathlib import Path

from directorsync.transforms import transforms_markdown

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- transforms:begin -->", "<!-- transforms:end -->"


def main() -> None:
    doc = ROOT / "docs" / "profiles.md"
    text = doc.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{transforms_markdown()}\n{END}"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: block, text, flags=re.S)
    doc.write_text(text, encoding="utf-8")
    print(f"updated {doc}")


if __name__ == "__main__":
    main()
