"""Checks the mdBook sources: every {{#include}} names an existing file and anchor, every
relative link and image exists, every chapter ends with a "Run it" section whose commands name
existing examples. mdbook itself only warns on some of these, so CI checks them here."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
src = root / "book" / "src"
errors = []
examples = {p.stem for p in (root / "examples").glob("*.rs")}
examples |= {p.parent.name for p in (root / "examples").glob("*/main.rs")}

for md in sorted(src.glob("*.md")):
    text = md.read_text()
    rel = md.relative_to(root)
    for path, anchor in re.findall(r"\{\{#include ([^:}]+)(?::([A-Za-z0-9_]+))?\}\}", text):
        target = (md.parent / path).resolve()
        if not target.is_file():
            errors.append(f"{rel}: include of missing file {path}")
            continue
        if anchor:
            body = target.read_text()
            if f"ANCHOR: {anchor}\n" not in body or f"ANCHOR_END: {anchor}\n" not in body:
                errors.append(f"{rel}: include of missing anchor {path}:{anchor}")
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", link) or link.startswith("#"):
            continue
        if not (md.parent / link.split("#")[0]).exists():
            errors.append(f"{rel}: broken link {link}")
    for example in re.findall(r"--example ([A-Za-z0-9_]+)", text):
        if example not in examples:
            errors.append(f"{rel}: command names a missing example {example}")
    if md.name not in ("SUMMARY.md", "introduction.md"):
        tail = text.split("## Run it")
        if len(tail) < 2 or "```bash" not in tail[-1] or "cargo run" not in tail[-1]:
            errors.append(f"{rel}: does not end with a '## Run it' section holding the cargo command")

for e in errors:
    print("book:", e)
print(f"book: {len(list(src.glob('*.md')))} files checked, {len(errors)} problems")
sys.exit(1 if errors else 0)
