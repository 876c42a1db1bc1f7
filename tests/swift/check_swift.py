#!/usr/bin/env python3
"""Syntax check of Swift sources without a Swift compiler: parse each file with
tree-sitter-swift and report every ERROR or MISSING node as file:line:col.
Exit status 1 if any file has one. It is fast and needs no chroot, and it is
the only check of the files that import Apple-only frameworks (Network,
NetworkExtension); everything else is also compiled by scripts/test-swift.sh.

    check_swift.py FILE...      check these files
    check_swift.py              check bindings/swift/*.swift, tests/swift/**.swift, ios/**.swift
    check_swift.py --self-test  prove the checker catches an injected syntax error

It checks syntax only: not types, imports or Sendable conformance.
"""
import pathlib
import re
import shutil
import sys
import tempfile

import tree_sitter
import tree_sitter_swift

ROOT = pathlib.Path(__file__).resolve().parents[2]
# UniFFI emits `@_documentation(visibility: private)`, which the grammar
# cannot parse; blank it with spaces of equal length so positions stay true.
DOC_ATTR = re.compile(rb"@_documentation\([^)]*\)")
# UniFFI's callback for a foreign method returning nothing has
# `let writeReturn = { () }`, which the grammar cannot parse either (the
# compiler in scripts/test-swift.sh does); blank the `()` the same way.
UNIT_CLOSURE = re.compile(rb"(?<=\{ )\(\)(?= \})")
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))


def problems(path):
    """(line, col, kind, text) of each ERROR/MISSING node, 1-based."""
    src = DOC_ATTR.sub(lambda m: b" " * len(m.group(0)), pathlib.Path(path).read_bytes())
    src = UNIT_CLOSURE.sub(b"  ", src)
    out, stack = [], [PARSER.parse(src).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row, col = node.start_point
            kind = "missing " + node.type if node.is_missing else "syntax error"
            snippet = src[node.start_byte : min(node.end_byte, node.start_byte + 40)].decode(errors="replace")
            out.append((row + 1, col + 1, kind, snippet.splitlines()[0] if snippet else ""))
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(out)


def default_files():
    files = sorted((ROOT / "bindings" / "swift").glob("*.swift"))
    for sub in ("tests/swift", "ios"):
        files += sorted(p for p in (ROOT / sub).rglob("*.swift") if ".build" not in p.parts)
    return files


def check(files):
    bad = 0
    for f in files:
        found = problems(f)
        for line, col, kind, text in found:
            print(f"{f}:{line}:{col}: {kind}: {text!r}")
        bad += bool(found)
    print(f"swift syntax: {len(files)} file(s) checked, {bad} with errors")
    return 1 if bad else 0


def self_test():
    """Delete the last `}` of the generated bindings (and break an expression
    in the sample): the checker must fail on both and pass on the originals."""
    cases = [
        (ROOT / "bindings/swift/SockstatLog.swift", lambda s: s[: s.rindex("}")] + s[s.rindex("}") + 1 :]),
        (ROOT / "ios/Examples/PacketTunnelProvider.swift", lambda s: s.replace("func ", "func (", 1)),
    ]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for original, damage in cases:
            if problems(original):
                print(f"self-test: {original} should parse cleanly"); ok = False
            broken = pathlib.Path(tmp) / original.name
            shutil.copy(original, broken)
            broken.write_text(damage(broken.read_text()))
            if not problems(broken):
                print(f"self-test: an injected syntax error in {original.name} went unnoticed"); ok = False
    print("swift checker self-test: " + ("ok (injected errors caught)" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--self-test"]:
        sys.exit(self_test())
    sys.exit(check([pathlib.Path(a) for a in args] or default_files()))
