"""Opens a report in headless Chromium: do its images and players load, and how does it look."""

from __future__ import annotations

import shutil
from pathlib import Path

# Waits until each <img> has loaded or failed and each <audio> has its metadata
# or an error (a per-element deadline keeps one stuck element from eating the
# whole script timeout), then says how each one ended up.
_MEDIA_SCRIPT = """
const done = arguments[arguments.length - 1];
const deadlineMs = arguments[0];
function settle(element, ready, events) {
  return new Promise(resolve => {
    if (ready()) { resolve(); return; }
    for (const name of events) element.addEventListener(name, resolve, {once: true});
    setTimeout(resolve, deadlineMs);
  });
}
const images = Array.from(document.images);
const players = Array.from(document.querySelectorAll('audio'));
const waits = images.map(img => settle(img, () => img.complete, ['load', 'error']))
  .concat(players.map(audio => {
    const wait = settle(audio, () => audio.readyState >= 1 || audio.error !== null,
                        ['loadedmetadata', 'error']);
    // preload="none" or a browser that deferred loading: ask for the metadata.
    if (audio.readyState === 0 && audio.networkState === HTMLMediaElement.NETWORK_EMPTY) {
      audio.load();
    }
    return wait;
  }));
Promise.all(waits).then(() => done({
  images: images.map(img => ({alt: img.alt, complete: img.complete, width: img.naturalWidth})),
  audio: players.map(audio => ({readyState: audio.readyState, duration: audio.duration,
                                error: audio.error ? audio.error.code : null})),
}));
"""


class BrowserUnavailableError(RuntimeError):
    """chromium, chromedriver or selenium is not installed."""


def check_in_browser(
    html_path: str | Path,
    screenshot_path: str | Path,
    *,
    timeout_s: float = 30.0,
    width: int = 1280,
    max_height: int = 10000,
) -> dict:
    """Loads `html_path` in headless Chromium and saves a full-page screenshot.

    Returns {"images": n, "audio": n, "errors": [messages]}: an image that did not
    decode, a player without metadata, or a SEVERE console message each add one.
    """
    driver = _start_driver()
    try:
        driver.set_script_timeout(timeout_s)
        driver.get(Path(html_path).resolve().as_uri())
        media = driver.execute_async_script(_MEDIA_SCRIPT, int(timeout_s * 1000 / 2))
        errors = _media_errors(media) + _console_errors(driver.get_log("browser"))
        _screenshot(driver, Path(screenshot_path), width, max_height)
    finally:
        driver.quit()
    return {"images": len(media["images"]), "audio": len(media["audio"]), "errors": errors}


def _binaries() -> tuple[str, str]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    missing = [
        name
        for name, path in [("chromium", chromium), ("chromedriver", chromedriver)]
        if path is None
    ]
    if missing:
        raise BrowserUnavailableError(
            f"{' and '.join(missing)} not on PATH "
            "(on Debian: apt-get install chromium chromium-driver)"
        )
    return chromium, chromedriver


def _start_driver():
    chromium, chromedriver = _binaries()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserUnavailableError("selenium is not installed: pip install selenium") from error
    options = webdriver.ChromeOptions()
    # Both paths given explicitly, so Selenium Manager never tries to download a browser.
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def _media_errors(media: dict) -> list[str]:
    errors = [
        f"image {i} ({image['alt'] or 'no alt'}) did not load"
        for i, image in enumerate(media["images"])
        if not (image["complete"] and image["width"] > 0)
    ]
    errors += [
        f"audio {i} did not load: readyState {audio['readyState']}, error code {audio['error']}"
        for i, audio in enumerate(media["audio"])
        if not (audio["readyState"] >= 1 or (audio["duration"] or 0) > 0)
    ]
    return errors


def _console_errors(entries: list[dict]) -> list[str]:
    return [f"console: {e['message']}" for e in entries if e.get("level") == "SEVERE"]


def _screenshot(driver, path: Path, width: int, max_height: int) -> None:
    # The page's height depends on its width, and the window's size includes the
    # browser's own frame: so set the width, measure both, then fit the height to all
    # of the page.
    driver.set_window_size(width, 600)
    page, frame = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    driver.set_window_size(width, min(int(page) + int(frame), max_height))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not driver.save_screenshot(str(path)):
        raise RuntimeError(f"Chromium could not save a screenshot to {path}")
