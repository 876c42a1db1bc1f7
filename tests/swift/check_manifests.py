#!/usr/bin/env python3
"""The two Swift package manifests describe the same package, and
ios/release.sh's output is right. Reads what tests/swift/in-chroot.sh left in
OUT_DIR (`swift package dump-package` JSON of both manifests, and a release of
a dummy XCFramework):

    check_manifests.py OUT_DIR

- Package.swift (root, for remote consumers) and ios/Package.swift (local
  development) must agree on everything but where things are: the root's
  paths are ios/'s under "ios/", and its binary target is either the local
  ios/SockstatLogFFI.xcframework or a release URL with a checksum.
- After `ios/release.sh --write`, the root manifest's binary target has the
  printed URL and checksum, the checksum is the zip's SHA-256, the zip holds
  SockstatLogFFI.xcframework/ at its top, and nothing else changed.
- Self-test: a manifest that differs (one platform version) is reported.
Exit status 1 on any difference.
"""
import copy
import hashlib
import json
import pathlib
import re
import sys
import zipfile

BINARY = "SockstatLogFFI"
ZIP = "SockstatLogFFI.xcframework.zip"
URL_BASE = "https://example.invalid/sockstatlog/releases/download/v0.0.0-test"


def normalized_root(manifest):
    """The root manifest as ios/Package.swift would say it: paths relative to
    ios/, the binary target by path. Returns (manifest, binary target's
    url/checksum or None)."""
    m = copy.deepcopy(manifest)
    remote = None
    for t in m["targets"]:
        if t["name"] == BINARY and t.get("url"):
            remote = {"url": t.pop("url"), "checksum": t.pop("checksum")}
            t["path"] = "SockstatLogFFI.xcframework"
            t["url"] = None
            t["checksum"] = None
        elif t.get("path"):
            if not t["path"].startswith("ios/"):
                raise ValueError(f"root target {t['name']} is outside ios/: {t['path']}")
            t["path"] = t["path"][len("ios/"):]
    return m, remote


def differences(ios, root):
    """Human-readable differences between the normalized root manifest and ios/'s."""
    out = []

    def walk(a, b, where):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{where}.{k}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}[{i}]")
        elif a != b:
            out.append(f"{where}: ios/Package.swift has {json.dumps(a)}, Package.swift has {json.dumps(b)}")

    # Where each manifest was loaded from differs by nature.
    for m in (ios, root):
        m.pop("packageKind", None)
    # The binary target's nil url/checksum keys may be absent on either side.
    for m in (ios, root):
        for t in m["targets"]:
            for k in ("url", "checksum"):
                if t.get(k) is None:
                    t.pop(k, None)
    walk(ios, root, "package")
    return out


def main(out_dir):
    out = pathlib.Path(out_dir)
    ios = json.loads((out / "manifest-ios.json").read_text())
    root_raw = json.loads((out / "manifest-root.json").read_text())
    released_raw = json.loads((out / "manifest-released.json").read_text())
    bad = []

    root, remote = normalized_root(root_raw)
    if remote is not None:
        print(f"  the committed root manifest points at a release: {remote['url']}")
    diff = differences(copy.deepcopy(ios), root)
    bad += diff
    print(f"  Package.swift and ios/Package.swift: {'the same package' if not diff else 'DIFFERENT'}")

    # Self-test: a one-field difference must be found.
    mutated = copy.deepcopy(root)
    mutated["platforms"][0]["version"] = "99.0"
    if not differences(copy.deepcopy(ios), mutated):
        bad.append("self-test: a changed platform version went unnoticed")

    before_release = len(bad)
    released, remote = normalized_root(released_raw)
    if remote is None:
        bad.append("after release.sh --write the root binary target has no url")
    else:
        zip_path = out / ZIP
        digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
        text = (out / "release.txt").read_text()
        printed = re.search(r"^checksum: ([0-9a-f]{64})$", text, re.M)
        if remote["url"] != f"{URL_BASE}/{ZIP}":
            bad.append(f"release url {remote['url']} != {URL_BASE}/{ZIP}")
        if remote["checksum"] != digest:
            bad.append(f"release checksum {remote['checksum']} is not the zip's SHA-256 {digest}")
        if not printed or printed.group(1) != digest:
            bad.append("release.sh did not print the zip's checksum")
        if f'url: "{URL_BASE}/{ZIP}"' not in text or f'checksum: "{digest}"' not in text:
            bad.append("release.sh did not print the binaryTarget(url:checksum:) lines")
        names = zipfile.ZipFile(zip_path).namelist()
        if not names or any(not n.startswith("SockstatLogFFI.xcframework/") for n in names):
            bad.append(f"the zip does not hold SockstatLogFFI.xcframework/ at its top: {names}")
        if "SockstatLogFFI.xcframework/Info.plist" not in names:
            bad.append(f"the zip has no SockstatLogFFI.xcframework/Info.plist: {names}")
        rest = differences(copy.deepcopy(ios), released)
        bad += [f"after release.sh --write: {d}" for d in rest]
        print(f"  release.sh: zip, checksum {digest[:12]}…, url and --write: {'ok' if len(bad) == before_release else 'WRONG'}")

    for b in bad:
        print(b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
