"""The SK as a browser shows it: headless Chromium at the width of an A4 landscape page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from app.models import Decree

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A4 landscape at 96 dpi: 297 mm x 210 mm.
WIDTH, HEIGHT = 1123, 794
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
)
MEASURE = """<script>
window.addEventListener("load", () => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll("table")].filter(
    (t) => t.getBoundingClientRect().right > root.clientWidth + 0.5);
  const mark = document.createElement("div");
  mark.id = "measure";
  mark.textContent = `scroll=${root.scrollWidth} client=${root.clientWidth} wide=${wide.length}`;
  document.body.appendChild(mark);
});
</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed (make test installs it)"
)
def test_the_sk_fits_an_a4_landscape_page_in_chromium(client, session, reader, tmp_path):
    decree = session.exec(select(Decree)).one()
    page = client.get(f"/api/v1/decrees/{decree.id}/document", headers=reader)
    assert page.status_code == 200
    html = tmp_path / "sk.html"
    html.write_text(page.text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")

    dom = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="measure"' in dom.stdout, dom.stdout[-2000:]
    measured = dom.stdout.split('id="measure">', 1)[1].split("<", 1)[0]
    numbers = dict(part.split("=") for part in measured.split())
    assert int(numbers["scroll"]) <= int(numbers["client"]), measured
    assert numbers["wide"] == "0", measured

    shot = tmp_path / "sk.png"
    taken = _chromium(tmp_path, f"--screenshot={shot}", html.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (WIDTH, HEIGHT)
    # Not blank: the letterhead and text put dark pixels on the page ...
    dark = sum(image.histogram()[:128])
    assert dark > WIDTH * HEIGHT * 0.005
    # ... and nothing runs off its right edge: the last columns stay white.
    edge = image.crop((WIDTH - 8, 0, WIDTH, HEIGHT))
    assert edge.getextrema()[0] > 200
