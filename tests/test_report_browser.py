"""The report page in a real browser: headless Chromium loads index.html, every image must load, and a screenshot
is taken. Chromium comes from Debian's packages and is installed when missing; a failed install fails the test
(nothing is skipped)."""

from __future__ import annotations

import html
import json
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


def _apt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, timeout=900,
                          env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary, installed from Debian's packages (`apt-get install -y chromium`) when missing."""
    found = shutil.which("chromium") or (Path("/usr/bin/chromium").is_file() and "/usr/bin/chromium")
    if not found:
        if shutil.which("apt-get") is None:
            pytest.fail("chromium is not installed and apt-get is not available to install it")
        done = _apt("install", "-y", "chromium")
        if done.returncode != 0:
            update = _apt("update")
            done = _apt("install", "-y", "chromium") if update.returncode == 0 else update
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            pytest.fail(f"could not install chromium with apt-get (exit {done.returncode}): {' | '.join(tail)}")
        found = shutil.which("chromium") or "/usr/bin/chromium"
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
    assert len(images) == 10, images
    broken = [image["src"] for image in images if not image["ok"]]
    assert not broken, f"images that did not load: {broken}"


def test_screenshot(chromium, page, tmp_path):
    shot = tmp_path / "report.png"
    run_chromium(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,2600",
                 "--virtual-time-budget=10000", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1300
    assert pixels[..., :3].std() > 0.05, "the screenshot is a single colour"
