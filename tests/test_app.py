"""The try-it app (har/tools/app.py): a real Gradio server on 127.0.0.1 driven by headless Chromium through Selenium.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and skips
without them. Gradio's analytics are off: the test machine has no internet.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import error_lines, run_cli

from har.bundle import bundle_metadata, save_bundle
from har.demo import _group_look, render_clip, write_video
from har.errors import HarError

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NO_BROWSER = "needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
CLASSES = ["Grow", "Shrink", "Flatten", "Stretch"]
T = 8
CHROME_ARGUMENTS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1000",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_app_with_a_missing_model_fails_in_one_line(tmp_path):
    result = run_cli("app", "missing.keras", cwd=tmp_path)
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "missing.keras" in lines[0]


def test_importing_the_app_module_loads_neither_gradio_nor_tensorflow():
    code = "import sys, har.tools.app; print(sorted({'gradio', 'tensorflow'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_gradio_the_app_fails_in_one_line(monkeypatch):
    from har.tools import app

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` raises ImportError
    with pytest.raises(HarError, match=r"^the app needs gradio: pip install gradio$"):
        app.build_app("whatever.keras")


@pytest.mark.parametrize(
    ("url", "message"),
    [("", "upload a video file or paste a video URL first"), ("/etc/passwd", "is not an http(s) URL"),
     ("0", "is not an http(s) URL")],
)  # fmt: skip
def test_the_app_takes_an_upload_or_an_http_url_only(tmp_path, url, message):
    from har.tools.app import label_video

    with pytest.raises(HarError, match=re.escape(message)):
        label_video(None, None, url, tmp_path)  # no server file nor webcam is read, no model is needed


def test_a_url_that_does_not_download_is_one_line(tmp_path):
    from har.tools.app import label_video

    with pytest.raises(HarError) as caught:
        label_video(None, None, f"http://127.0.0.1:{_free_port()}/clip.mp4", tmp_path)  # nothing listens there
    assert "could not download" in str(caught.value) and "\n" not in str(caught.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing half-downloaded is left


@pytest.fixture
def chrome(tmp_path):
    """Headless Chromium driven by Debian's chromedriver (no Selenium Manager download: there is no internet)."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(NO_BROWSER)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in [*CHROME_ARGUMENTS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def app_url(tmp_path, monkeypatch):
    """The app on a free port of 127.0.0.1, serving a tiny untrained LRCN bundle; closed at the end."""
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # uploads and outputs: not in /tmp/gradio
    from har.models import lrcn
    from har.tools.app import launch

    bundle = save_bundle(lrcn(4, T, (64, 64)), tmp_path / "tiny.keras", bundle_metadata(CLASSES, T, (64, 64)))
    blocks = launch(bundle, server_port=_free_port(), prevent_thread_lock=True)
    try:
        yield blocks.local_url
    finally:
        blocks.close(verbose=False)


@pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # Gradio's own use of pandas, nothing of ours
def test_the_app_labels_an_uploaded_clip_in_a_real_browser(chrome, app_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    look = _group_look(0, 1, 96, 72, 2)
    clip = write_video(tmp_path / "grow.avi", render_clip("Grow", look, np.random.default_rng(0), 40, 96, 72), 25)
    chrome.get(app_url)
    wait = WebDriverWait(chrome, 120)
    run = wait.until(lambda d: d.find_element(By.ID, "har-run"))

    # a text that is not a URL: a one-line error in the page
    chrome.find_element(By.CSS_SELECTOR, "#har-url textarea").send_keys("not a url")
    run.click()
    toast = wait.until(lambda d: _text(d, "[data-testid='toast-text']"))  # the element comes before its text
    assert "is not an http(s) URL" in toast and "\n" not in toast.strip()
    assert "Traceback" not in chrome.page_source

    chrome.find_element(By.CSS_SELECTOR, "#har-video-in input[type=file]").send_keys(str(clip))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#har-video-in video[src]"))  # uploaded: the upload wins
    run.click()
    video = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#har-video-out video[src]"))
    top = wait.until(lambda d: _text(d, "#har-top3") if set(CLASSES) & set(_text(d, "#har-top3").split()) else None)
    shown = {word for word in top.split() if word in CLASSES}
    assert len(shown) == 3, top  # the top label, then the top 3 with their confidences
    assert chrome.find_elements(By.CSS_SELECTOR, "#har-timeline img")  # the label timeline, as an image
    src = video.get_attribute("src")
    assert src.endswith(".annotated.mp4")
    with urllib.request.urlopen(src, timeout=30) as response:  # the labelled video is served, and is an MP4
        assert response.read(12)[4:8] == b"ftyp"


def _text(driver, css: str) -> str:
    """The text of the elements that ``css`` selects, joined by spaces ("" while there are none)."""
    from selenium.webdriver.common.by import By

    return " ".join(element.text for element in driver.find_elements(By.CSS_SELECTOR, css))
