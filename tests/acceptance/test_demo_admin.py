"""The demo project's admin, served by ``manage.py runserver``, comes with its styles and scripts."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url):
    """(status, content type, body) of a GET; an HTTP error status is an answer too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get_content_type(), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), ""


@pytest.fixture
def demo_server(tmp_path):
    """The demo project under ``runserver --noreload`` on a free port, with a database of its own."""
    env = dict(
        os.environ,
        # pytest-django points DJANGO_SETTINGS_MODULE at the test settings; the demo has its own.
        DJANGO_SETTINGS_MODULE="demo_project.settings",
        STEADY_QUEUE_DEMO_DATABASE=str(tmp_path / "demo.sqlite3"),
        PYTHONUNBUFFERED="1",
    )
    manage = [sys.executable, str(EXAMPLE / "manage.py")]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, cwd=EXAMPLE, check=True, timeout=120)
    port = free_port()
    log_path = tmp_path / "runserver.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=EXAMPLE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"runserver did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_admin_login_page_gets_its_css_and_javascript(demo_server):
    login = f"{demo_server}/admin/login/"
    status, content_type, page = get(login)
    assert (status, content_type) == (200, "text/html")

    # What a browser fetches: each link resolved against the page's own address.
    stylesheets = [urljoin(login, href) for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)]
    scripts = [urljoin(login, src) for src in re.findall(r'<script src="([^"]+)"', page)]
    assert f"{demo_server}/static/admin/css/base.css" in stylesheets
    assert scripts

    assert {url: get(url)[:2] for url in stylesheets} == {url: (200, "text/css") for url in stylesheets}
    assert {url: get(url)[:2] for url in scripts} == {url: (200, "text/javascript") for url in scripts}


def test_the_demo_mounts_the_operator_console_behind_the_admin_login(demo_server):
    request = urllib.request.Request(f"{demo_server}/admin/steady-queue/")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(request, timeout=10)
    with redirect.value as response:
        assert response.code == 302
        assert response.headers["Location"] == "/admin/login/?next=/admin/steady-queue/"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Lets a test read a redirect instead of following it."""

    def redirect_request(self, *args, **kwargs):
        return None
