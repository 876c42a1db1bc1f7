#!/usr/bin/env bash
# Swift syntax check (tree-sitter-swift) of the generated bindings and every
# hand-written .swift file, plus the checker's self-test. Installs the parser
# into .tools/venv on first use. The compiler checks are scripts/test-swift.sh;
# this is the only check of files that need Apple-only frameworks.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/venv
if ! "$venv/bin/python" -c 'import tree_sitter, tree_sitter_swift' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/swift/requirements.txt
fi
"$venv/bin/python" tests/swift/check_swift.py "$@"
"$venv/bin/python" tests/swift/check_swift.py --self-test
