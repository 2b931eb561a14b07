"""Fixtures of the console's browser tests: a divan-server on free ports and Debian's headless
Chromium, driven by selenium through Debian's chromedriver (/usr/bin/chromedriver; selenium is
told both paths, so it never looks for or downloads a browser or a driver of its own).

BROWSER_OUT (default build/browser) receives a screenshot of each screen and metrics.json (page
load time, served sizes)."""

import json
import os
import shutil
from base64 import b64encode
from pathlib import Path
from urllib import request
from urllib.error import HTTPError

import pytest
from divan.server import DivanServer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ADMIN = ("Administrator", "password")
VIEWER = ("viewer", "viewer-pw")  # reads every bucket, writes nothing
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("BROWSER_OUT", ROOT / "build" / "browser"))

METRICS = {}


@pytest.fixture(scope="session")
def server():
    srv = DivanServer(*ADMIN, users=["%s:%s:ro_admin,data_reader[*],query_select[*]" % VIEWER])
    srv.start()
    yield srv
    assert srv.running(), "divan-server died during the browser tests"
    srv.stop()


@pytest.fixture(scope="session")
def base(server):
    return "http://127.0.0.1:%d" % server.http_port


@pytest.fixture(scope="session")
def out():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    yield OUT
    (OUT / "metrics.json").write_text(json.dumps(METRICS, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def metrics():
    return METRICS


@pytest.fixture(scope="session")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail("%s is missing: scripts/install-deps installs chromium and chromium-driver" % path)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--lang=en-US", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


class Page:
    """The browser on the console, with the waits the tests use: each waits for a condition of
    the page (an element, a text), polling, never for a fixed time."""

    def __init__(self, drv, base, out):
        self.d, self.base, self.out = drv, base, out

    def open(self, path="/ui/"):
        self.d.get(self.base + path)

    def wait(self, cond, timeout=15):
        # A live screen (the overview's table refreshes every few seconds) may replace an element
        # between finding it and reading it: that poll is retried, as a missing element is.
        return WebDriverWait(self.d, timeout,
                             ignored_exceptions=(StaleElementReferenceException,)).until(cond)

    def el(self, css, timeout=15):
        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout)

    def els(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text_in(self, css, text, timeout=15):
        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), timeout)
        return self.d.find_element(By.CSS_SELECTOR, css).text

    def go(self, hash_):
        """Navigate within the console and wait until the new screen has its data."""
        want = self.d.execute_script("location.hash = arguments[0]; return location.hash", hash_)
        self.wait(lambda d: d.execute_script(
            "const m = document.getElementById('main');"
            "return m.getAttribute('data-view') === arguments[0] && !m.hasAttribute('aria-busy')",
            want))

    def fill(self, form_css, **fields):
        form = self.el(form_css)
        for name, value in fields.items():
            e = form.find_element(By.NAME, name)
            e.clear()
            e.send_keys(value)
        return form

    def button(self, text, within=None):
        root = within or self.d
        for b in root.find_elements(By.CSS_SELECTOR, "button, a.button"):
            if b.text.strip() == text and b.is_displayed():
                return b
        raise AssertionError("no button %r" % text)

    def shot(self, name):
        """The whole page (the window grown to its height for the shot), as <name>.png."""
        w, h = self.d.get_window_size()["width"], self.d.get_window_size()["height"]
        full = self.d.execute_script("return document.documentElement.scrollHeight")
        self.d.execute_script("window.scrollTo(0, 0)")
        if full > h:
            self.d.set_window_size(w, min(full + 140, 3000))
        self.d.save_screenshot(str(self.out / (name + ".png")))
        if full > h:
            self.d.set_window_size(w, h)

    def login(self, user, password):
        self.open("/ui/")
        form = self.el("form.login")
        self.fill("form.login", username=user, password=password)
        form.submit()
        self.text_in("#who-name", user)


@pytest.fixture(scope="session")
def page(browser, base, out):
    return Page(browser, base, out)


def rest(base, method, path, form=None, auth=ADMIN):
    """A REST call beside the browser (what another client does meanwhile)."""
    data = None
    req = request.Request(base + path, method=method)
    if form is not None:
        from urllib.parse import urlencode
        data = urlencode(form).encode()
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    token = b64encode(("%s:%s" % auth).encode()).decode()
    req.add_header("Authorization", "Basic " + token)
    try:
        with request.urlopen(req, data, timeout=10) as r:
            body = r.read()
            return r.status, json.loads(body) if body else None
    except HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body.decode(errors="replace")
