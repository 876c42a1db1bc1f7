#!/usr/bin/env python3
"""Keeps README.md honest (run by the README's test command).

- It stays short: at most MAX_LINES lines (details live in docs/).
- Every measured figure it quotes is the one in BENCHMARKS.md: any number
  with a time unit (ns, µs) or a ratio (×) anywhere in the README, and every
  number in the "Performance" section's figure column, must appear in
  BENCHMARKS.md as the same token.
- Every repository path it names exists (except the build outputs listed in
  GENERATED, which the platform builds create).

`--self-test` runs the checks on altered copies of the README (a wrong
figure, a path that does not exist, too many lines) and fails unless each is
caught, so the check itself cannot silently pass everything.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The issue that asked for a short README set this bound: a newcomer reads it
# top to bottom; anything longer belongs in docs/.
MAX_LINES = 300
# Top-level folders whose paths the README may name.
REPO_DIRS = ("src", "tools", "tests", "android", "ios", "docs", "scripts", "benches", "bindings", "uniffi-bindgen")
# Outputs of android/build.sh, ios/build-xcframework.sh and cargo: named by the
# docs, never committed.
GENERATED = (
    "android/build/",
    "android/generated/",
    "android/src/main/jniLibs/",
    "ios/build/",
    "ios/SockstatLogFFI.xcframework",
)
# A number, digits grouped by spaces as BENCHMARKS.md writes them (1 369 ns).
NUMBER = r"\d+(?:[ \u00a0]\d{3})*(?:\.\d+)?"
# A measured figure wherever it stands: a duration in ns/µs, or a ratio.
FIGURE = re.compile(rf"(?<![\w.]){NUMBER}(?: ?(?:ns|µs)\b|×)")
PATH = re.compile(rf"(?<![\w/.~-])((?:{'|'.join(map(re.escape, REPO_DIRS))})/[A-Za-z0-9_./-]*[A-Za-z0-9_/])")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def normalise(text):
    """BENCHMARKS.md bolds figures and may use no-break spaces."""
    return text.replace("**", "").replace("\u00a0", " ")


def contains_token(text, token):
    """`token` stands in `text` as a whole number (0.27 is not inside 10.275)."""
    return re.search(rf"(?<![\d.]){re.escape(token)}(?![\d])", text) is not None


def performance_figures(readme):
    """The numbers of the figure column of the README's Performance table."""
    try:
        section = readme.split("\n## Performance\n", 1)[1].split("\n## ", 1)[0]
    except IndexError:
        return []
    found = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or set(cells[-1]) <= set("-: ") or cells[-1] == "figure":
            continue
        found += re.findall(rf"(?<![\w.]){NUMBER}(?: ?(?:ns|µs|MB|KiB|MiB|%)\b|×)?", cells[-1])
    return found


def problems(readme, benchmarks):
    out = []
    lines = readme.count("\n")
    if lines > MAX_LINES:
        out.append(f"README.md has {lines} lines, more than {MAX_LINES}: move detail to docs/")
    bench = normalise(benchmarks)
    for figure in sorted(set(FIGURE.findall(readme)) | set(performance_figures(readme))):
        if not contains_token(bench, normalise(figure)):
            out.append(f"figure {figure!r} is not in BENCHMARKS.md (quote the measured figure)")
    named = set(PATH.findall(readme)) | {t for t in LINK.findall(readme) if "://" not in t}
    for path in sorted(named):
        if path.startswith(GENERATED) or "<" in path:
            continue
        if not (ROOT / path).exists():
            out.append(f"path {path!r} named in README.md does not exist")
    return out


def self_test(readme, benchmarks):
    perf = performance_figures(readme)
    if not perf:
        return ["self-test: the README has no Performance figures to check"]
    altered = {
        "a wrong figure in the Performance table": readme.replace(perf[0], "987.65 ns", 1),
        "a wrong ratio in prose": readme + "\nIt is 12.34× faster.\n",
        "a path that does not exist": readme + "\nSee `scripts/no-such-script.sh`.\n",
        "a link that does not exist": readme + "\n[x](docs/no-such-page.md)\n",
        "too many lines": readme + "\n" * (MAX_LINES + 1),
    }
    return [f"self-test: {name} was not caught" for name, text in altered.items() if not problems(text, benchmarks)]


def main():
    readme = (ROOT / "README.md").read_text()
    benchmarks = (ROOT / "BENCHMARKS.md").read_text()
    found = problems(readme, benchmarks) + self_test(readme, benchmarks)
    if found:
        sys.exit("check-readme: " + "\ncheck-readme: ".join(found))
    print(f"README.md: {readme.count(chr(10))} lines, every figure from BENCHMARKS.md, every path present")


if __name__ == "__main__":
    main()
