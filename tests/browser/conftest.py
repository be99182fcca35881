"""The browser tests' machinery: a live server with the admin's styles, a headless Chromium, logged-in pages.

They run when Chromium (``apt-get install chromium``, or STEADY_QUEUE_CHROMIUM naming a binary) and
Playwright for Python (requirements-dev.txt) are there, and are skipped with the reason otherwise
(failed instead with STEADY_QUEUE_BROWSER_TESTS=required, as in CI).
STEADY_QUEUE_SCREENSHOTS=docs/_static/console makes them save the pages that docs/console.rst shows.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from .console_data import fill_console

CHROMIUM = os.environ.get("STEADY_QUEUE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# The size of the documentation's screenshots: wide enough for the lists' columns, short enough to stay small.
VIEWPORT = {"width": 1280, "height": 800}
# A picture that must show more than a window (a task's traceback) still stops here.
MAX_SCREENSHOT_HEIGHT = 1600
PASSWORD = "browser-test-password"


@pytest.fixture(scope="package")
def browser():
    from .pages import sync_api, unavailable

    if not CHROMIUM or not Path(CHROMIUM).exists():
        unavailable("no Chromium: apt-get install chromium (or set STEADY_QUEUE_CHROMIUM to its binary)")
    # Playwright's synchronous API keeps an asyncio loop running on this thread between its calls, and
    # Django refuses ORM calls where a loop runs (they would block it). Here the loop only serves the
    # browser while the test waits, so the tests' own queries are safe: allowed for this package only.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
        with sync_api.sync_playwright() as playwright:
            # Chromium's sandbox cannot start as root (CI runs as root).
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture(scope="package")
def console_url(browser):
    """The console's address on a live server that also serves the admin's CSS, as runserver would."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread
    from django.test.utils import override_settings

    # pytest-django's live_server serves static files only with django.contrib.staticfiles installed
    # and STATIC_URL set; the test settings have neither, so the pages would be unstyled. The fast
    # hasher: each test logs in through the form, and the hash's cost is not what it tests.
    fast_hasher = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with override_settings(STATIC_URL="/static/", ALLOWED_HOSTS=["127.0.0.1"], PASSWORD_HASHERS=fast_hasher):
        server = LiveServerThread("127.0.0.1", static_handler=StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield f"http://127.0.0.1:{server.port}/admin/steady-queue/"
        finally:
            server.terminate()


@pytest.fixture
def new_page(browser):
    """``new_page()``: a page in a browser context of its own (its own cookies), closed after the test."""
    contexts = []

    def make():
        context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
        # Long enough for a slow shared machine; a hang still ends the test instead of the suite.
        context.set_default_timeout(20_000)
        # The admin's sidebar folded, as its toggle leaves it: the screenshots show the console, not the sidebar.
        context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def make_user(username, codenames):
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="steady_queue", codename__in=codenames)
    )
    return user


def log_in(page, console_url, username):
    """Open the console, be sent to the admin's login form, fill it in and land on the console."""
    page.goto(console_url)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit][value='Log in']")
    page.wait_for_url(console_url)
    return page


@pytest.fixture
def operator(console_url, new_page, transactional_db):
    """A page logged in as staff holding every permission of the console (not a superuser)."""
    codenames = Permission.objects.filter(content_type__app_label="steady_queue").values_list("codename", flat=True)
    make_user("operator", list(codenames))
    return log_in(new_page(), console_url, "operator")


@pytest.fixture
def viewer(console_url, new_page, transactional_db):
    """A page logged in as staff who may see every page of the console and do nothing."""
    make_user("viewer", ["view_job", "view_process", "view_recurringtask"])
    return log_in(new_page(), console_url, "viewer")


@pytest.fixture
def console_data(run_tasks, transactional_db):
    """Tasks in every state, on several queues, with workers and recurring tasks (see console_data.py)."""
    return fill_console(run_tasks)


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` saves the page as name.png in STEADY_QUEUE_SCREENSHOTS, when it is set."""
    folder = os.environ.get("STEADY_QUEUE_SCREENSHOTS")

    def save(page, name, down_to=None):
        """``down_to``: a selector whose last match the picture must reach, past the window's height if need be."""
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            # Cut below the content: a short page (a confirmation) is not followed by a screen of white.
            bottom = page.evaluate("document.querySelector('#content').getBoundingClientRect().bottom")
            height = min(VIEWPORT["height"], int(bottom) + 24)
            if down_to:
                below = page.locator(down_to).last.evaluate("element => element.getBoundingClientRect().bottom")
                height = max(height, min(int(below) + 24, MAX_SCREENSHOT_HEIGHT))
            # full_page: the clip may reach below the window.
            clip = {**VIEWPORT, "x": 0, "y": 0, "height": height}
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True, clip=clip)

    return save
