"""The report page in a real browser: headless Chromium loads index.html, every image must load, the first screen
holds each dataset's headline figure and table, and screenshots at 1400 px and at a phone width are not blank.
Chromium comes from Debian's packages, installed by `.ci/run` (apt-get); outside CI a machine without it skips
these tests with that reason, in CI (CI=true) its absence fails them."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixture import fabricate_sweep

from mca_platform.report import build_report

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]
IMAGE_CHECK = """<script>
window.addEventListener("load", () => {
  const found = Array.from(document.images).map(i => ({src: i.getAttribute("src"),
                                                       ok: i.complete && i.naturalWidth > 0}));
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; skipped outside CI when it is not installed, a failure in CI."""
    found = shutil.which("chromium") or (Path("/usr/bin/chromium").is_file() and "/usr/bin/chromium")
    if not found:
        message = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60)
    if version.returncode != 0:
        pytest.fail(f"{found} --version failed: {version.stderr.strip()[-300:]}")
    return found


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-800:]}"
    return done


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    return build_report(fabricate_sweep(root), root / "dashboards", formats=("png",), log_to_mlflow=False)


def images_on_page(chromium: str, page: Path, profile: Path) -> list[dict]:
    """[{src, ok}] for every image of `page` as headless Chromium loaded it (ok: naturalWidth > 0)."""
    # A copy of the page next to it (same relative links) with a script recording each image's natural width.
    check = page.parent / "image-check.html"
    check.write_text(page.read_text().replace("</body>", IMAGE_CHECK + "</body>"))
    dom = run_chromium(chromium, profile, "--virtual-time-budget=10000", "--dump-dom", check.as_uri()).stdout
    check.unlink()
    match = re.search(r"<pre id=\"image-check\">(.*?)</pre>", dom, re.S)
    assert match, f"the image check did not run; DOM starts {dom[:300]!r}"
    return json.loads(html.unescape(match.group(1)))


def test_every_image_loads_in_chromium(chromium, page, tmp_path):
    images = images_on_page(chromium, page, tmp_path / "profile")
    assert len(images) == 12, images
    broken = [image["src"] for image in images if not image["ok"]]
    assert not broken, f"images that did not load: {broken}"


def screenshot(chromium: str, page: Path, profile: Path, shot: Path, width: int, height: int):
    """A PNG of the page's first `height` pixels at `width`, as an (H, W, channels) array."""
    run_chromium(chromium, profile, f"--screenshot={shot}", f"--window-size={width},{height}",
                 "--virtual-time-budget=10000", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, "the screenshot is missing or blank"
    from matplotlib.image import imread

    return imread(shot)


@pytest.mark.parametrize(("width", "height"), [(1400, 1000), (390, 844)])
def test_screenshot_is_not_blank(chromium, page, tmp_path, width, height):
    pixels = screenshot(chromium, page, tmp_path / "profile", tmp_path / "report.png", width, height)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.05, "the screenshot is a single colour"


def headline_sections(chromium: str, page: Path, profile: Path) -> list[dict]:
    """The DOM Chromium built for `page` at 1400 x 1000: per headline section, its id, top, images (loaded
    width), table rows, and whether it comes before the navigation."""
    check = page.parent / "layout-check.html"
    script = """<script>
window.addEventListener("load", () => {
  const found = Array.from(document.querySelectorAll("section.headline")).map(s => ({
    id: s.id, top: s.getBoundingClientRect().top,
    img: Array.from(s.querySelectorAll("img")).map(i => ({src: i.getAttribute("src"), w: i.naturalWidth})),
    rows: s.querySelectorAll("table.headline tbody tr").length,
    beforeNav: !!(s.compareDocumentPosition(document.querySelector("nav")) & Node.DOCUMENT_POSITION_FOLLOWING)}));
  const out = document.createElement("pre");
  out.id = "layout-check";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""
    check.write_text(page.read_text().replace("</body>", script + "</body>"))
    dom = run_chromium(chromium, profile, "--window-size=1400,1000", "--virtual-time-budget=10000",
                       "--dump-dom", check.as_uri()).stdout
    check.unlink()
    match = re.search(r"<pre id=\"layout-check\">(.*?)</pre>", dom, re.S)
    assert match, f"the layout check did not run; DOM starts {dom[:300]!r}"
    return json.loads(html.unescape(match.group(1)))


def test_first_screen_in_the_browser_has_the_headline_figure_and_table(chromium, page, tmp_path):
    """Per dataset, before the navigation, the headline figure (loaded) and table; and the headline section
    starts within the first 1000 px of a 1400 px wide window."""
    sections = headline_sections(chromium, page, tmp_path / "profile")
    assert [s["id"] for s in sections] == ["headline-mosei", "headline-tcga"]
    for section in sections:
        dataset = section["id"].removeprefix("headline-")
        assert section["beforeNav"] and section["rows"] == 10, section
        assert [i["src"] for i in section["img"]] == [f"figures/fig1_headline_{dataset}.png"]
        assert section["img"][0]["w"] > 0, "the headline figure did not load"
    assert sections[0]["top"] < 1000, "the first headline is not on the first screen"
