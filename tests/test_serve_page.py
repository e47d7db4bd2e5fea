"""`ganprint serve`'s web page in a real headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium with the system driver: nothing is downloaded), against the real server
started by the command on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from serve_fixtures import UNKNOWN_IMAGE, good_images, train_model

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`ganprint serve` in a subprocess; yields its base URL."""
    model = train_model(tmp_path_factory.mktemp("page") / "model")
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganprint", "serve", "--model", str(model), "--port", str(port),
                             "--device", "cpu", "--threads", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ganprint serve did not start:\n{proc.stdout.read().decode()}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = (f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver "
                   "(.ci/run installs them)")
        if os.environ.get("CI"):  # CI must run the page test, never skip it
            pytest.fail(message)
        pytest.skip(message)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1500", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("uploads")
    chosen = {name: data for name, data in good_images().items() if name in ("good_0.png", "good_5.png", UNKNOWN_IMAGE)}
    chosen["broken.png"] = b"not an image at all"
    paths = []
    for name, data in chosen.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def _card(driver, name: str):
    for card in driver.find_elements(By.CSS_SELECTOR, "article.card"):
        if card.find_element(By.TAG_NAME, "h3").text == name:
            return card
    return None


def test_page_scores_uploaded_images(server, browser, images, tmp_path):
    browser.get(server + "/")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: "gan_a, gan_b, real" in d.find_element(By.ID, "model-summary").text)
    picker = browser.find_element(By.ID, "file-input")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=file-input]").text == "pick files"
    picker.send_keys("\n".join(str(p) for p in images))
    wait.until(lambda d: "Scored 4 of 4" in d.find_element(By.ID, "status").text)
    # every scored image gets its heatmap
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "img.heatmap")) == 3)
    wait.until(lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
                             for img in d.find_elements(By.CSS_SELECTOR, "img.heatmap")))

    known = _card(browser, "good_5.png")
    assert known.find_element(By.CSS_SELECTOR, ".answer .label").text in ("gan_a", "gan_b", "real")
    assert known.find_element(By.CSS_SELECTOR, ".pfake").text.startswith("p_fake: 0.")
    bars = known.find_elements(By.CSS_SELECTOR, ".bars li")
    assert [b.find_element(By.CSS_SELECTOR, ".name").text for b in bars] == ["gan_a", "gan_b", "real"]
    shares = [float(b.find_element(By.CSS_SELECTOR, "[role=meter]").get_attribute("aria-valuenow")) for b in bars]
    assert sum(shares) == pytest.approx(1, abs=1e-3)
    widest = max(bars, key=lambda b: b.find_element(By.CSS_SELECTOR, ".fill").size["width"])
    assert widest.get_attribute("class") == "top"

    unknown = _card(browser, UNKNOWN_IMAGE)
    assert unknown.find_element(By.CSS_SELECTOR, ".answer").get_attribute("class") == "answer unknown"
    assert unknown.find_element(By.CSS_SELECTOR, ".answer .label").text == "unknown"
    assert "looks like none of the sources" in unknown.find_element(By.CSS_SELECTOR, ".unknown-note").text

    broken = _card(browser, "broken.png")
    assert "Could not be scored: broken.png: not an image" in broken.find_element(By.CSS_SELECTOR, ".error").text
    assert not broken.find_elements(By.CSS_SELECTOR, "img.heatmap")

    for img in browser.find_elements(By.TAG_NAME, "img"):  # every picture says what it is
        assert img.get_attribute("alt")
    assert broken.find_element(By.CSS_SELECTOR, ".no-preview").get_attribute("aria-label") == "No preview of broken.png"
    names = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "article.card h3")]
    assert names == [p.name for p in images]  # in upload order
    heat = known.find_element(By.CSS_SELECTOR, "img.heatmap")
    assert heat.get_attribute("alt").startswith("Heatmap of good_5.png") and heat.size["width"] > 100
    # no script error; the only failed load is the 422 that answers a batch holding a broken file
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and not ("/v1/predict" in e["message"] and "422" in e["message"])]
    assert errors == []
    shot = Path(os.environ.get("GANPRINT_SCREENSHOT_DIR", tmp_path)) / "serve_page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
