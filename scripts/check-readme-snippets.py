#!/usr/bin/env python3
"""Fails if a README code block no longer matches the test file it claims to
be compiled from: each file's text between `README-SNIPPET-BEGIN` and
`README-SNIPPET-END` must appear in README.md as a fenced block verbatim."""
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
SNIPPETS = {  # test file -> fence language
    "tests/kotlin/src/test/kotlin/dev/sockstatlog/ReadmeSnippetTest.kt": "kotlin",
    "tests/swift/ReadmeSnippet.swift": "swift",
}
readme = (root / "README.md").read_text()
stale = []
for path, lang in SNIPPETS.items():
    text = (root / path).read_text()
    try:
        body = text.split("README-SNIPPET-BEGIN\n", 1)[1].split("// README-SNIPPET-END", 1)[0]
    except IndexError:
        sys.exit(f"{path}: no README-SNIPPET-BEGIN/END markers")
    if f"```{lang}\n{body}```" not in readme:
        stale.append(path)
if stale:
    sys.exit("README.md snippets differ from: " + ", ".join(stale) + " (copy the marked block into README.md)")
print("README snippets match " + ", ".join(SNIPPETS))
