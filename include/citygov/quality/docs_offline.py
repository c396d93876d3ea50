"""Data Docs that load nothing from outside: GX's CDN files shipped in the package, linked relatively.

GX 1.x writes every page with ~14 ``<script>``/``<link>``/``<img>`` tags pointing at public CDNs (jsdelivr,
unpkg, cdnjs, bootstrapcdn, code.jquery.com) and at its S3 bucket for the logo; its templates cannot be
overridden (its own loader comes first), so the built pages are rewritten instead. :data:`PACKAGES` names,
for each URL GX writes, the npm package and version it comes from and the file in it; those files are
vendored in ``docs_assets/vendor/<package>-<version>/`` (with their licenses) by
``scripts/vendor_docs_assets.py``, never fetched when the site is built or served. :func:`make_offline` copies
them into a date's site as ``static/vendor/…`` and points every page at them by a relative path, so the
site works under the plugin's ``/docs/`` route and opened from disk alike. GX's logo comes from the site's
own ``static/images`` (and its icon from the right folder); its newsletter footer and its link home are
dropped (there is no internet to go to). A page left loading anything from outside fails the build
(:class:`OutsideAssetError`): GX is pinned, and a new GX version that adds a file must add it here.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ASSETS = Path(__file__).with_name("docs_assets")
"""The vendored files (``vendor/``) and how they were obtained (``README.md``)."""
SITE_FOLDER = "static/vendor"
"""Where a date's site holds its copy of the vendored files."""


@dataclass(frozen=True)
class Vendored:
    """One npm package some of whose files GX's pages load from a CDN."""

    package: str
    """Its npm name, e.g. ``bootstrap`` or ``@fortawesome/fontawesome-free``."""
    version: str
    """The version GX's URL names (for ``vega@5``-style URLs, the newest of that major version when vendored)."""
    urls: Mapping[str, str]
    """Each URL GX's pages write → the file in the package that the URL serves."""
    also: tuple[str, ...] = ()
    """Folders of the package that those files load by relative path (Font Awesome's ``webfonts``)."""
    license: str = "LICENSE"
    """The license file in the package; empty when the package ships none (see :attr:`license_from`)."""
    license_from: str = ""
    """Where the license comes from when the package has no file of its own (``package@version:path``, or
    ``header`` for the license stated in the file's own header)."""

    @property
    def folder(self) -> str:
        """``<name>-<version>`` under ``vendor/``."""
        return f"{self.package.rsplit('/', 1)[-1]}-{self.version}"


PACKAGES: tuple[Vendored, ...] = (
    Vendored("bootstrap", "4.3.1", {
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "dist/css/bootstrap.min.css",
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "dist/js/bootstrap.min.js",
    }),
    Vendored("@forevolve/bootstrap-dark", "1.1.0", {
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
            "dist/css/bootstrap-prefers-dark.css",
    }),
    Vendored("bootstrap-table", "1.19.1", {
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "dist/bootstrap-table.min.css",
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "dist/bootstrap-table.min.js",
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        # GX links this stylesheet from 1.19.0 (the rest from 1.19.1): the same extension, served from 1.19.1
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    }),
    Vendored("bootstrap-datepicker", "1.9.0", {
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
            "dist/css/bootstrap-datepicker.min.css",
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
            "dist/js/bootstrap-datepicker.min.js",
    }),
    Vendored("@fortawesome/fontawesome-free", "6.6.0", {
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/all.min.css",
    }, also=("webfonts",), license="LICENSE.txt"),
    Vendored("jquery", "3.7.1", {"https://code.jquery.com/jquery-3.7.1.min.js": "dist/jquery.min.js"},
             license="LICENSE.txt"),
    Vendored("popper.js", "1.12.9", {
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "dist/umd/popper.min.js",
    }, license="", license_from="header"),
    Vendored("vega", "5.33.1", {"https://cdn.jsdelivr.net/npm/vega@5": "build/vega.min.js"},
             license="", license_from="vega-util@1.17.3:LICENSE"),
    Vendored("vega-lite", "5.23.0", {"https://cdn.jsdelivr.net/npm/vega-lite@5": "build/vega-lite.min.js"}),
    Vendored("vega-embed", "6.29.0", {"https://cdn.jsdelivr.net/npm/vega-embed@6": "build/vega-embed.min.js"}),
)

_GX_IMAGES = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/"
                        r"(?:logo-long|full_logo_dark)\.png(?:\?[^\"')\s]*)?")
"""GX's logo (and its dark-mode variant) on S3: the site's own ``static/images/logo-long.png`` instead."""
_NEWSLETTER = re.compile(r"<footer>\s*<p>Stay current on everything GX with our newsletter.*?</footer>", re.S)
_GX_HOME = re.compile(r'<a href="https://greatexpectations\.io/?">(Great Expectations)</a>')
_FAVICON = re.compile(r'(<link rel="shortcut icon" href=")(?:\.\./|\./)*static/images/favicon\.ico"')
"""GX's icon link, one ``../`` short on validation pages (its template counts three folders, not four)."""
_SRI = re.compile(r'\s(?:integrity="[^"]*"|crossorigin="[^"]*")')
"""Subresource-integrity and CORS attributes on GX's CDN tags: a file:// page refuses a crossorigin script."""
_TAG = re.compile(r"<(?:script|link|img)\b[^>]*>", re.I)
_LOADS = re.compile(
    r"<(?:script|link|img|iframe|source|audio|video|embed|object|track|input)\b[^>]*?\s(?:src|href|data|poster|srcset)"
    r"\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]+)"
    r"|url\(\s*[\"']?\s*((?:https?:)?//[^\"')\s]+)"
    r"|@import\s+[\"']((?:https?:)?//[^\"']+)",
    re.I,
)


class OutsideAssetError(RuntimeError):
    """A built page would still load a file from outside the site."""


@dataclass
class OfflineReport:
    """What :func:`make_offline` did to a site."""

    pages: int = 0
    """Pages rewritten."""
    replaced: dict[str, int] = field(default_factory=dict)
    """Each outside URL replaced → how many times."""


def vendor_dir() -> Path:
    """``docs_assets/vendor`` in this package."""
    return ASSETS / "vendor"


def local_path(url: str) -> str | None:
    """The vendored file (relative to a site's root) that stands for ``url``, or None."""
    for vendored in PACKAGES:
        if url in vendored.urls:
            return f"{SITE_FOLDER}/{vendored.folder}/{vendored.urls[url]}"
    return None


def outside_loads(text: str) -> list[str]:
    """The URLs outside the site that an HTML page (or stylesheet) ``text`` makes the browser fetch:
    ``src``/``href`` of scripts, stylesheets, images and frames, CSS ``url()`` and ``@import``. Links a reader
    may click (``<a href>``) and URLs in the text are not fetched and not listed."""
    return [a or b or c for a, b, c in _LOADS.findall(text)]


def install_vendored(site: Path) -> None:
    """Copy the vendored files into ``site/static/vendor`` (replacing what is there). Raises
    :class:`OutsideAssetError` if the package lost some of them."""
    source = vendor_dir()
    missing = [f"{v.folder}/{f}" for v in PACKAGES for f in v.urls.values() if not (source / v.folder / f).is_file()]
    if missing:
        raise OutsideAssetError(f"vendored Data Docs files are missing ({', '.join(missing[:3])}…): "
                                "run scripts/vendor_docs_assets.py")
    target = site / SITE_FOLDER
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


def offline_text(text: str, relative: str, counts: dict[str, int] | None = None) -> str:
    """A page or stylesheet of a GX site, at ``relative`` (its path from the site's root, ``/``-separated),
    rewritten to load the vendored files and GX's logo by relative paths. Raises :class:`OutsideAssetError`
    if it still loads anything from outside afterwards."""
    up = "../" * relative.count("/")
    new = _rewrite(text, up, {} if counts is None else counts)
    left = outside_loads(new)
    if left:
        raise OutsideAssetError(f"Data Docs page {relative} would load {len(left)} file(s) from outside ({'; '.join(left[:3])}): "
                                "vendor them in citygov.quality.docs_offline.PACKAGES")
    return new


def make_offline(site: Path, under: str | None = None) -> OfflineReport:
    """Copy the vendored files into ``site/static/vendor`` and rewrite every page and stylesheet of the GX
    site ``site`` (only those in its folder ``under``, e.g. ``static`` for GX's own assets when the pages are
    made offline one by one with :func:`offline_text`) to load them (and GX's logo from ``static/images``) by
    relative paths. Raises :class:`OutsideAssetError` if a page still loads anything from outside afterwards."""
    install_vendored(site)
    target = site / SITE_FOLDER
    report = OfflineReport()
    left: list[str] = []
    for path in sorted((site / under if under else site).rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file() or target in path.parents:
            continue
        up = "../" * (len(path.relative_to(site).parts) - 1)
        text = path.read_text(encoding="utf-8")
        new = _rewrite(text, up, report.replaced)
        if new != text:
            path.write_text(new, encoding="utf-8")
            report.pages += 1
        left += [f"{path.relative_to(site)}: {url}" for url in outside_loads(new)]
    if left:
        raise OutsideAssetError(f"Data Docs pages would load {len(left)} file(s) from outside ({'; '.join(left[:3])}): "
                                "vendor them in citygov.quality.docs_offline.PACKAGES")
    return report


def _rewrite(text: str, up: str, counts: dict[str, int]) -> str:
    def local(url: str) -> str | None:
        if (path := local_path(url)) is None:
            return None
        counts[url] = counts.get(url, 0) + 1
        return up + path

    def tag(match: re.Match[str]) -> str:
        original = match.group(0)
        swapped = re.sub(r"https?://[^\"'\s>]+", lambda m: local(m.group(0)) or m.group(0), original)
        return _SRI.sub("", swapped) if swapped != original else original

    def image(match: re.Match[str]) -> str:
        counts[match.group(0).split("?", 1)[0]] = counts.get(match.group(0).split("?", 1)[0], 0) + 1
        return up + "static/images/logo-long.png"

    text = _GX_IMAGES.sub(image, text)
    text = _FAVICON.sub(lambda m: f'{m.group(1)}{up}static/images/favicon.ico"', text)
    text = _TAG.sub(tag, text)
    text = _NEWSLETTER.sub("", text)
    return _GX_HOME.sub(r"\1", text)
