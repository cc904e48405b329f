"""The live view in a real browser: JupyterLab driven by headless Chromium through Playwright.

Starts JupyterLab on 127.0.0.1 (a free port, a token, temporary folders), opens
a notebook, runs all its cells and reads the page while the network runs: the
result panels must grow before the run ends, then hold the expected results,
and the diagram must be an SVG. Screenshots go to ``test-output/``.

Skipped when DISSYSLAB_NO_BROWSER=1, or when Chromium, Playwright or
JupyterLab is missing. Uses the system Chromium (never ``playwright install``).
"""

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FIXTURE = REPO / "tests" / "browser" / "live_fanout.ipynb"
SLOW_SINK = REPO / "tests" / "browser" / "live_slow_sink.ipynb"
LESSON = REPO / "notebooks" / "03_fanout.ipynb"
WORDS = ["hello", "world", "python", "thread", "queue", "graph", "merge", "split",
         "fanout", "batch", "stream", "kernel", "widget", "panel", "sink", "source",
         "node", "edge", "path", "copy", "order", "message", "channel", "result"]


def _why_skip():
    if os.environ.get("DISSYSLAB_NO_BROWSER") == "1":
        return "DISSYSLAB_NO_BROWSER=1: browser tests are turned off"
    if not os.path.exists(CHROMIUM):
        return "Chromium is not installed (Debian: apt-get install chromium)"
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab"),
                            ("ipywidgets", "ipywidgets")):
        if importlib.util.find_spec(module) is None:
            return f"the {package} package is not installed (pip install {package})"
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server started for these tests, and what is needed to reach it."""

    def __init__(self, url, token, root, log):
        self.url, self.token, self.root, self.log = url, token, root, log

    def notebook_url(self, name):
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def log_tail(self):
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = _why_skip()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    root.mkdir()
    shutil.copy(FIXTURE, root / FIXTURE.name)
    shutil.copy(SLOW_SINK, root / SLOW_SINK.name)
    if LESSON.exists():
        shutil.copy(LESSON, root / LESSON.name)
    settings = base / "settings"
    # no news or update check pop-ups over the notebook
    notes = settings / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True)
    (notes / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["JUPYTER_CONFIG_DIR"] = str(base / "config")
    env["JUPYTER_RUNTIME_DIR"] = str(base / "runtime")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={base / 'ws'}",
           "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "jupyterlab.log"
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {server.returncode}:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {url} within 90 s:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield Lab(url, token, root, log)
    finally:
        _stop(server)


def _stop(server):
    """Stop the server we started and everything it started (its kernels): they share its group."""
    if server.poll() is None:
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(server.pid, signal.SIGKILL)  # kernels left in the group, if any
    except ProcessLookupError:
        pass
    server.wait()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def open_and_run_all(page, lab, name):
    """Open notebook ``name`` in JupyterLab, wait for its kernel, and start running all cells."""
    page.goto(lab.notebook_url(name))
    page.wait_for_function(
        """() => {
            const app = window.jupyterapp;
            const nb = app && app.shell.currentWidget;
            const kernel = nb && nb.sessionContext && nb.sessionContext.session
                           && nb.sessionContext.session.kernel;
            return kernel && kernel.status === 'idle' && nb.content && nb.content.widgets.length;
        }""", timeout=90_000)
    # not awaited: the command's promise settles only when every cell has run
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def read_views(page):
    """Every live view on the page: its outcome and, per panel, sink, count, state and results."""
    return page.evaluate("""() => [...document.querySelectorAll('.dsl-live')].map(v => ({
        outcome: v.querySelector('.dsl-status').dataset.outcome,
        svg: !!v.querySelector('.dsl-diagram svg'),
        diagram: (v.querySelector('.dsl-diagram') || {}).textContent || '',
        panels: [...v.querySelectorAll('.dsl-panel')].map(p => ({
            sink: p.dataset.sink, count: +p.dataset.count, state: p.dataset.state,
            title: p.querySelector('.dsl-title').textContent,
            results: [...p.querySelectorAll('.dsl-results li')]
                .sort((a, b) => a.dataset.index - b.dataset.index)
                .map(li => li.querySelector('.dsl-v').textContent),
            errors: [...p.querySelectorAll('.dsl-error')].map(x => x.textContent),
        })),
    }))""")


def cell_outputs(page):
    """Per cell: the text of its outputs, and how many outputs it has."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c => ({
        text: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText),
        live: c.querySelectorAll('.dsl-live').length,
    }))""")


def save_screenshot(page, name, view_only=False):
    """Screenshot the page with the first live view's cell at the top (or just the view)."""
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    # the widget's own element: its content is replaced at every update, the element stays
    view = page.locator(".dissyslab-live").first
    if view_only:
        view.screenshot(path=str(path))
        return path
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    view.evaluate("el => el.closest('.jp-Cell').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    return path


def test_panels_grow_while_the_run_lasts_and_keep_the_final_results(lab, page):
    open_and_run_all(page, lab, FIXTURE.name)
    readings, deadline = [], time.monotonic() + 60
    shot_taken = False
    while time.monotonic() < deadline:
        views = read_views(page)
        if views:
            view = views[0]
            readings.append((view["outcome"], {p["sink"]: p["count"] for p in view["panels"]}))
            if view["outcome"] != "running":
                break
            if not shot_taken and view["panels"][0]["count"] >= 8:
                save_screenshot(page, "live_view_running.png", view_only=True)
                shot_taken = True
        time.sleep(0.2)
    else:
        pytest.fail(f"the run did not finish within 60 s; readings: {readings[-5:]}\n"
                    f"{lab.log_tail()}")

    during = [counts for outcome, counts in readings if outcome == "running"]
    growing = sorted({c["collector_upper"] for c in during if 0 < c["collector_upper"] < 24})
    assert len(growing) >= 2, (
        f"the upper panel should have been seen with at least two different partial counts "
        f"while running, but the readings were {readings}")
    assert all(a["collector_upper"] <= b["collector_upper"] for a, b in pairwise(during))

    view = read_views(page)[0]
    assert view["outcome"] == "finished"
    assert view["svg"], "the diagram should be drawn as an SVG"
    for name in ("word_source", "uppercase", "reverse", "collector_upper", "collector_reverse"):
        assert name in view["diagram"]
    panels = {p["sink"]: p for p in view["panels"]}
    assert panels["collector_upper"]["title"] == "word_source → uppercase → collector_upper"
    assert panels["collector_reverse"]["title"] == "word_source → reverse → collector_reverse"
    assert panels["collector_upper"]["results"] == [repr(w.upper()) for w in WORDS]
    assert panels["collector_reverse"]["results"] == [repr(w[::-1]) for w in WORDS]
    for p in panels.values():
        assert (p["count"], p["state"], p["errors"]) == (24, "done", [])

    # The next cell runs after the run: it shows its own output and nothing of the live view.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
        ".some(o => o.innerText.includes('24 RESULT'))", timeout=30_000)
    cells = cell_outputs(page)
    assert [c["live"] for c in cells] == [0, 0, 1, 0]
    assert cells[2]["text"] and len(cells[2]["text"]) == 1
    assert [t.strip() for t in cells[3]["text"]] == ["24 RESULT\n24 tluser"]

    path = save_screenshot(page, "live_view.png")
    assert path.stat().st_size > 10_000


def test_messages_waiting_for_a_slow_sink_grow_then_drain_on_screen(lab, page):
    open_and_run_all(page, lab, SLOW_SINK.name)
    readings, deadline, shot = [], time.monotonic() + 60, False
    while time.monotonic() < deadline:
        views = read_views(page)
        if views:
            view = views[0]
            found = re.findall(r"\+(\d+) waiting", view["diagram"])
            if view["svg"]:  # not the placeholder shown before the first drawing
                readings.append((view["outcome"], int(found[0]) if found else 0))
            if view["outcome"] != "running":
                break
            if found and int(found[0]) >= 10 and not shot:
                save_screenshot(page, "live_view_waiting.png", view_only=True)
                shot = True
        time.sleep(0.1)
    else:
        pytest.fail(f"the run did not finish within 60 s; readings: {readings[-5:]}\n"
                    f"{lab.log_tail()}")
    during = [w for outcome, w in readings if outcome == "running"]
    top = max(during, default=0)
    assert top > 0, f"no messages were seen waiting on the edge; readings: {readings}"
    peak = during.index(top)
    assert any(w < top for w in during[:peak + 1]), f"never seen growing: {readings}"
    assert any(w < top for w in during[peak:]), f"never seen draining: {readings}"
    assert readings[-1] == ("finished", 0)  # at the end, nothing waits


@pytest.mark.skipif(not LESSON.exists(), reason="the fanout lesson notebook is not written yet")
def test_the_fanout_lesson_shows_its_two_paths_live(lab, page):
    open_and_run_all(page, lab, LESSON.name)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dsl-status')]"
        ".some(s => s.dataset.outcome === 'finished')", timeout=60_000)
    view = read_views(page)[0]
    assert view["svg"]
    panels = {p["title"]: p for p in view["panels"]}
    upper = panels["word_source → uppercase → collector_upper"]
    reverse = panels["word_source → reverse → collector_reverse"]
    assert upper["results"] == ["'HELLO'", "'WORLD'", "'PYTHON'"]
    assert reverse["results"] == ["'olleh'", "'dlrow'", "'nohtyp'"]
    assert upper["state"] == reverse["state"] == "done"
    save_screenshot(page, "live_view_lesson_03.png")


def test_an_html_export_read_offline_shows_each_live_view_final_state(browser, tmp_path):
    """A lesson exported with jupyter nbconvert --to html (the project's settings, which
    scripts/setup.sh puts in .venv) shows its live views' final states with no network:
    the widget's code would come from the internet, the static copies need nothing."""
    lesson = REPO / "notebooks" / "08_concurrency_in_practice.ipynb"
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html",
         "--config", str(REPO / "scripts" / "jupyter_nbconvert_config.json"),
         "--output-dir", str(tmp_path), str(lesson)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    stored = json.loads(lesson.read_text(encoding="utf-8"))
    views = [o for c in stored["cells"] for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.goto((tmp_path / f"{lesson.stem}.html").as_uri())
        shown = page.locator(".dsl-live")
        assert shown.count() == len(views) >= 3
        for i in range(shown.count()):
            view = shown.nth(i)
            assert view.locator(".dsl-diagram svg").first.is_visible()
            assert view.locator(".dsl-panel").first.is_visible()
            assert view.locator(".dsl-status").get_attribute("data-outcome") in ("finished",
                                                                                  "timeout")
        OUTPUT.mkdir(exist_ok=True)
        shown.nth(1).screenshot(path=str(OUTPUT / "offline_export_08.png"))
    finally:
        context.close()


WIDE = REPO / "tests" / "browser" / "wide_pictures.ipynb"


def test_wide_diagrams_and_timelines_fit_a_laptops_page_or_scroll_with_readable_text(lab, page):
    """At 1,280 px, a picture wider than the page is scaled down to the page's width, but no
    further than keeps its smallest text diagram.MIN_TEXT_PX high; past that it scrolls within
    its output. Nothing is cut off with no way to see it."""
    from dissyslab.diagram import MIN_TEXT_PX

    shutil.copy(WIDE, lab.root / WIDE.name)
    open_and_run_all(page, lab, WIDE.name)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dsl-status')]"
        ".some(s => s.dataset.outcome === 'finished')", timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('.dsl-picture svg').length === 3",
                           timeout=30_000)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    page.wait_for_timeout(500)
    pictures = page.evaluate("""() => [...document.querySelectorAll(
            '.dsl-picture, .dsl-live .dsl-diagram')].map(box => {
        const svg = box.querySelector('svg');
        const w = svg.getAttribute('width');
        const natural = parseFloat(w) * (w.endsWith('pt') ? 4 / 3 : 1);
        const shown = svg.getBoundingClientRect();
        const area = box.closest('.jp-OutputArea-output').getBoundingClientRect();
        return {natural, shown: shown.width, least: parseFloat(svg.style.minWidth),
                font: Math.min(...[...svg.querySelectorAll('text')]
                    .map(t => t.getBoundingClientRect().height).filter(h => h > 0)),
                scrolls: box.scrollWidth > box.clientWidth + 1, width: box.clientWidth,
                overflow: getComputedStyle(box).overflowX,
                boxRight: box.getBoundingClientRect().right, areaRight: area.right,
                live: box.classList.contains('dsl-diagram')};
    })""")
    assert len(pictures) == 4, pictures   # two diagrams, a timeline, a live view's diagram
    for p in pictures:
        assert p["shown"] >= p["least"] - 1, p                  # never shrunk past readable
        assert p["font"] >= MIN_TEXT_PX, p                      # its smallest text, in px
        assert p["boxRight"] <= p["areaRight"] + 1, p          # the picture's box fits the page
        if p["least"] + 1 < p["shown"] < p["natural"] - 1:
            assert not p["scrolls"], p                          # shrunk to fit: all of it shown
        if p["least"] > p["width"] + 1:
            assert p["scrolls"] and p["overflow"] == "auto", p  # too wide even shrunk: it scrolls
    eight, fourteen, timeline, live = pictures
    assert eight["natural"] > 1280 and not eight["scrolls"], pictures   # wider than the page, all shown
    assert fourteen["scrolls"] and timeline["scrolls"]
    assert live["live"] and live["shown"] < live["natural"], live   # scaled down as far as it may
    OUTPUT.mkdir(exist_ok=True)
    page.locator(".jp-Cell").nth(1).scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "wide_pictures_1280.png"))


OPENED = ["01_basics.ipynb", "11_feedback_loops.ipynb", "13_threads_processes_machines.ipynb"]


@pytest.mark.timeout(600)
def test_opening_a_lesson_in_jupyterlab_leaves_it_unmodified(lab, page):
    """JupyterLab marks a notebook modified when what it would save differs from the file:
    an nbformat upgrade, other formatting, or the kernel's language_info (its Python version)."""
    import platform

    stored = json.loads((REPO / "notebooks" / OPENED[0]).read_text(encoding="utf-8"))
    version = stored["metadata"]["language_info"]["version"]
    if platform.python_version() != version:
        pytest.skip(f"the lessons were stored by Python {version} and this is Python "
                    f"{platform.python_version()}: JupyterLab records the kernel's version")
    modified = {}
    for name in OPENED:
        shutil.copy(REPO / "notebooks" / name, lab.root / name)
        page.goto(lab.notebook_url(name))
        page.wait_for_function(
            """() => {
                const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const kernel = nb && nb.sessionContext && nb.sessionContext.session
                               && nb.sessionContext.session.kernel;
                return nb && nb.context && nb.context.isReady && kernel
                       && kernel.status === 'idle';
            }""", timeout=90_000)
        page.wait_for_timeout(1500)   # the kernel's info has reached the notebook's metadata
        modified[name] = page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.context.model.dirty")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:close-and-shutdown')")
    assert not any(modified.values()), modified
