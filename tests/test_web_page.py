"""The web page (`GET /`) in a real headless Chromium, driven by Selenium.

`python -m stickerchat.serve` runs on a free 127.0.0.1 port; the test picks a
user, types a dialog and checks that the stickers shown (ids, order, scores,
emoji) are exactly `POST /recommend`'s answer for the request the page sent,
that the request carried what was typed and the user's history, and that the
sticker images loaded. A screenshot is saved under the test's tmp_path, and
also to `$STICKERCHAT_WEB_SCREENSHOT` when that is set (how docs/web_page.png
is made:
`STICKERCHAT_WEB_SCREENSHOT=docs/web_page.png pytest tests/test_web_page.py`).

Needs Chromium and its driver (`apt-get install chromium chromium-driver`)
and Selenium (`pip install -e .[test]`); skipped, saying which is missing,
otherwise. Selenium is given the driver's path, so it never tries to
download one.
"""

import io
import json
import os
import shutil
import time
import urllib.request

import pytest
from PIL import Image

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e .[test]")

from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _first(*candidates):
    for c in candidates:
        if c and (os.path.isfile(c) or shutil.which(c)):
            return shutil.which(c) or c
    return None


CHROMIUM = _first(os.environ.get("STICKERCHAT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _first(os.environ.get("STICKERCHAT_CHROMEDRIVER"), "chromedriver", "/usr/lib/chromium/chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "no Chromium / chromedriver (found browser %s, driver %s): apt-get install chromium chromium-driver" % (CHROMIUM, CHROMEDRIVER),
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow

WAIT_SECONDS = 60
MESSAGES = ["hello there", "<b>how</b> are you & <img src=x onerror=alert(1)> today ?"]
DRAFT = "good morning"  # typed, not sent: the page recommends for the draft too


def _get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
        return json.loads(response.read())


def _post(port, path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def web(tiny_service):
    """The port of the session's service on a copy of the tiny model, its recall stage small (conftest.py; test_serve.py uses it too)."""
    return tiny_service.port


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium session for the module's tests."""
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,720", "--no-proxy-server", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    driver.set_script_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium):
    """The module's Chromium on a blank page, its console log emptied: each test loads the page afresh and reads only its own log."""
    chromium.get("about:blank")
    chromium.get_log("browser")
    return chromium


def _shown_request(driver, expected, timeout=WAIT_SECONDS):
    """Waits until the page shows the answer to `expected` (a /recommend body); returns it as the page recorded it."""

    def done(d):
        results = d.find_element(By.ID, "results")
        if results.get_attribute("data-state") != "done":
            return False
        raw = results.get_attribute("data-request")
        return json.loads(raw) if raw and json.loads(raw) == expected else False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(done)
    except TimeoutException:
        results = driver.find_element(By.ID, "results")
        raise AssertionError(
            f"the page did not show the answer to {expected} within {timeout} s: state {results.get_attribute('data-state')!r}, "
            f"request {results.get_attribute('data-request')!r}, note {driver.find_element(By.ID, 'results-note').text!r}"
        ) from None


def _check_cards_equal_the_service(driver, port, request):
    answer = _post(port, "/recommend", request)
    cards = driver.find_elements(By.CSS_SELECTOR, "#stickers li.sticker")
    assert len(cards) == len(answer["stickers"]) == request["top_k"]
    for rank, (card, expected) in enumerate(zip(cards, answer["stickers"]), start=1):
        assert card.get_attribute("data-sticker-id") == expected["sticker_id"]  # the 18-digit string, exactly
        assert float(card.get_attribute("data-score")) == expected["score"]  # the same double, not a rounding of it
        assert card.get_attribute("data-rank") == str(rank)
        assert card.find_element(By.CSS_SELECTOR, ".sticker-id").text == expected["sticker_id"]
        assert card.find_element(By.CSS_SELECTOR, ".emoji").text == (expected["emoji"] or "·")
        assert abs(float(card.find_element(By.CSS_SELECTOR, ".score").text) - expected["score"]) <= 0.0005 + 1e-9
        src = card.find_element(By.TAG_NAME, "img").get_attribute("src")
        assert src == f"http://127.0.0.1:{port}/sticker/{expected['sticker_id']}.png"
    return answer


def _wait_images_loaded(driver, selector):
    def loaded(d):
        sizes = d.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0])).map(i => i.complete ? i.naturalWidth : -1);", selector
        )
        return sizes if sizes and all(s >= 0 for s in sizes) else False

    sizes = WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1).until(loaded)
    assert all(s > 0 for s in sizes), f"{selector}: images that did not load: {sizes}"
    return sizes


def test_the_page_shows_the_services_answer(web, browser, tmp_path):
    port = web
    driver = browser
    users = _get(port, "/users")
    user = users["users"][0]
    history = _get(port, f"/users/{user['user_id']}/history")["history"]
    assert history and len(history) == users["history_len"]

    driver.get(f"http://127.0.0.1:{port}/")
    assert driver.title == "stickerchat"
    # The user list arrives, ids as strings.
    WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#user option")) == 1 + len(users["users"]))
    Select(driver.find_element(By.ID, "user")).select_by_value(user["user_id"])
    WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history-items li")) == len(history))

    draft = driver.find_element(By.ID, "draft")
    for message in MESSAGES:
        draft.send_keys(message, Keys.ENTER)
    draft.send_keys(DRAFT)  # no Enter: the debounced fetch still asks for it
    request = {"dialog": MESSAGES + [DRAFT], "history": history, "top_k": 5}
    _shown_request(driver, request)
    answer = _check_cards_equal_the_service(driver, port, request)
    assert answer["mode"] == "recall+rerank"

    # Typed text is shown as text: the markup in a message made no element.
    bubbles = driver.find_elements(By.CSS_SELECTOR, "#messages li .text")
    assert [b.text for b in bubbles] == MESSAGES
    assert driver.find_elements(By.CSS_SELECTOR, "#messages b, #messages img") == []
    # The images came from the server, at the stored size.
    image_size = driver.execute_script("return document.querySelector('#stickers img').naturalWidth;")
    assert _wait_images_loaded(driver, "#stickers img") == [image_size] * 5
    _wait_images_loaded(driver, "#history-items img")
    assert (image_size, image_size) == _png_size(port, answer["stickers"][0]["sticker_id"])

    shot = tmp_path / "web_page.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    target = os.environ.get("STICKERCHAT_WEB_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)

    # More typing updates the answer; "no history" sends none; a smaller top-k shows fewer.
    draft.send_keys(" friend")
    Select(driver.find_element(By.ID, "user")).select_by_value("")
    top_k = driver.find_element(By.ID, "top-k")
    top_k.clear()
    top_k.send_keys("3", Keys.TAB)
    request = {"dialog": MESSAGES + [DRAFT + " friend"], "history": [], "top_k": 3}
    _shown_request(driver, request)
    _check_cards_equal_the_service(driver, port, request)
    assert driver.find_element(By.ID, "history").is_displayed() is False
    _wait_images_loaded(driver, "#stickers img")

    # Clearing the dialog clears the answer.
    driver.find_element(By.ID, "clear").click()
    WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1).until(lambda d: d.find_element(By.ID, "results").get_attribute("data-state") == "idle")
    assert driver.find_elements(By.CSS_SELECTOR, "#stickers li") == []

    # No script errors and no blocked resources (the page's Content-Security-Policy included).
    problems = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert problems == []


def _png_size(port, sticker_id):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/sticker/{sticker_id}.png", timeout=60) as response:
        image = Image.open(io.BytesIO(response.read()))
        image.load()
    return image.size


def test_the_page_reports_an_error_from_the_service(web, browser):
    """A request the service refuses shows its one-line error, as text, and no stickers."""
    port = web
    driver = browser
    driver.get(f"http://127.0.0.1:{port}/")
    draft = driver.find_element(By.ID, "draft")
    # One utterance over the body limit (64 KiB): the service answers 413.
    driver.execute_script("arguments[0].removeAttribute('maxlength');", draft)
    driver.execute_script("arguments[0].value = 'x '.repeat(40000); arguments[0].dispatchEvent(new Event('input'));", draft)
    deadline = time.time() + WAIT_SECONDS
    results = driver.find_element(By.ID, "results")
    while results.get_attribute("data-state") != "error" and time.time() < deadline:
        time.sleep(0.1)
    assert results.get_attribute("data-state") == "error"
    note = driver.find_element(By.ID, "results-note")
    assert "at most 65536" in note.text and "error" in note.get_attribute("class")
    assert driver.find_elements(By.CSS_SELECTOR, "#stickers li") == []
