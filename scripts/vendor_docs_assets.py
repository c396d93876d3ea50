"""Vendor the files GX's Data Docs pages load from CDNs into include/citygov/quality/docs_assets/vendor/.

    python scripts/vendor_docs_assets.py            # (re)write the vendored files from the npm registry
    python scripts/vendor_docs_assets.py --check    # verify the vendored files equal the npm packages' files

Each package of citygov.quality.docs_offline.PACKAGES is fetched with ``npm pack <name>@<version>`` (npm checks
the tarball's integrity against the registry), and the files GX's URLs serve, the folders they load
(``also``) and the package's license are copied unchanged into ``vendor/<name>-<version>/``, keeping their
paths in the package. A package without a license file gets one from ``license_from``: another package of
the same project (vega's from vega-util, same repository and license), or for popper.js the MIT license its
file's header states. Run by hand when GX (pinned in pyproject.toml) changes the versions it links; never at
build or run time.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from citygov.quality.docs_offline import PACKAGES, Vendored, vendor_dir  # noqa: E402

MIT = """Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN
AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE
OR OTHER DEALINGS IN THE SOFTWARE.
"""


def unpack(spec: str, work: Path) -> Path:
    """``npm pack spec`` into ``work``; the unpacked package folder."""
    done = subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", str(work)],
                          capture_output=True, text=True, check=True)
    tgz = work / done.stdout.strip().splitlines()[-1]
    folder = work / tgz.name.removesuffix(".tgz")
    with tarfile.open(tgz) as archive:
        archive.extractall(folder, filter="data")
    return folder / "package"


def files_of(vendored: Vendored, package: Path) -> list[str]:
    """The package-relative files vendored from ``package``."""
    files = set(vendored.urls.values())
    for folder in vendored.also:
        files |= {p.relative_to(package).as_posix() for p in (package / folder).rglob("*") if p.is_file()}
    if vendored.license:
        files.add(vendored.license)
    return sorted(files)


def license_text(vendored: Vendored, package: Path, work: Path) -> str:
    if vendored.license_from == "header":
        first = next(iter(vendored.urls.values()))
        header = (package / first).read_text(encoding="utf-8")[:400]
        holder = re.search(r"Copyright \(C\) [^\n]+", header)
        if not holder or "MIT" not in header:
            raise SystemExit(f"{vendored.package}: no MIT copyright line in {first}'s header")
        return f"MIT License (stated in the header of {first}; the npm package ships no license file)\n\n{holder.group(0)}\n\n{MIT}"
    spec, path = vendored.license_from.split(":", 1)
    return (unpack(spec, work) / path).read_text(encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the npm packages, change nothing")
    args = parser.parse_args()
    out = vendor_dir()
    differ: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for vendored in PACKAGES:
            package = unpack(f"{vendored.package}@{vendored.version}", work)
            target = out / vendored.folder
            files = files_of(vendored, package)
            if args.check:
                differ += [f"{vendored.folder}/{f}" for f in files
                           if not (target / f).is_file() or not filecmp.cmp(package / f, target / f, shallow=False)]
                continue
            shutil.rmtree(target, ignore_errors=True)
            for name in files:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(package / name, target / name)
            if vendored.license_from:
                (target / "LICENSE").write_text(license_text(vendored, package, work), encoding="utf-8")
            print(f"{vendored.package}@{vendored.version}: {len(files)} file(s) → {target.relative_to(out.parent)}")
    if args.check:
        print("\n".join(differ) or "the vendored files equal the npm packages' files")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
