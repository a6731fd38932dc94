"""Data is never markup: hostile records and file names render as text, in a real browser too.

The fixture corpus puts ``<script>``, ``<img onerror>``, ``</table>`` and ``"><svg onload>``
into instructions, outputs and an input file name. The page is checked twice: parsed
from source with html.parser (always), and as the DOM headless Chromium builds after
loading it (skipped when /usr/bin/chromium is missing).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.report.sections import SECTION_TITLES
from tests.report.conftest import EVIL_FILE, HOSTILE, parse

CHROMIUM = Path("/usr/bin/chromium")


def _assert_clean(html_text: str, report_dir: Path) -> None:
    tree = parse(html_text)
    tags = [t for t, _, _ in tree.elements]
    assert not {"script", "iframe", "img", "object", "embed"} & set(tags), "injected element in the page"
    for tag, attrs, _ in tree.elements:
        bad = [k for k in attrs if k.lower().startswith("on")]
        assert not bad, f"<{tag}> carries event handler(s) {bad}"
        assert not str(attrs.get("href", "")).lower().startswith("javascript:")
    # Our structure is intact: every section is a direct part of the page, in order.
    ids = [a.get("id") for t, a, _ in tree.elements if t == "section"]
    assert ids == list(SECTION_TITLES)
    assert not tree.sections_outside_main, "a stray </main> closed the page body early"
    for tag in ("table", "section", "main", "pre", "details"):
        opened = sum(1 for t, _, _ in tree.elements if t == tag)
        assert tree.end_tags.get(tag, 0) == opened, f"stray or missing </{tag}>"
    # Our SVGs are the matplotlib charts only: each starts with matplotlib's own header.
    svgs = [a for t, a, _ in tree.elements if t == "svg"]
    assert svgs and all("xmlns" in a or "viewbox" in {k.lower() for k in a} for a in svgs)
    # And the hostile strings are still there, as visible text.
    text = "".join(tree.text)
    for h in HOSTILE:
        assert h in text, h
    assert EVIL_FILE in text


def test_page_source_has_no_injected_markup(full_run):
    html_text = (full_run / "report" / "report.html").read_text(encoding="utf-8")
    _assert_clean(html_text, full_run / "report")


def test_markdown_does_not_pass_raw_html(full_run):
    md = (full_run / "report" / "report.md").read_text(encoding="utf-8")
    for h in HOSTILE:
        assert h not in md  # GitHub would render raw HTML in Markdown; ours escapes < and >
    assert "&lt;script&gt;" in md


def dump_dom(page: Path, tmp: Path) -> str:
    """The DOM headless Chromium builds for ``page`` (no network, throwaway profile)."""
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}",
           "--dump-dom", page.resolve().as_uri()]
    try:
        res = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("Chromium hung on the page (a script dialog or endless script would do that)")
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.skipif(not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
                    reason="headless Chromium (/usr/bin/chromium) is not installed")
def test_browser_dom_has_no_injected_element(full_run, tmp_path):
    dom = dump_dom(full_run / "report" / "report.html", tmp_path / "profile")
    assert "<main>" in dom and "</html>" in dom
    assert "data-pwned" not in dom, "an injected payload ran in the browser"
    _assert_clean(dom, full_run / "report")
