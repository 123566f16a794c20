"""The HTML report in a real headless Chromium, driven over the DevTools protocol.

The page must load with no console error, make no request other than ``file:`` and
``data:``, sort on real mouse clicks, filter, and show a model named
``<script>alert(1)</script>`` as text (no dialog opens). Control pages prove that the
checks do catch a console error, an ``alert`` and a network request.
"""

from __future__ import annotations

import pytest
from _cdp_pipe import Browser, file_url, find_chromium
from _leaderboard_records import XSS, write_results

from visionbench.leaderboard.html import render_html
from visionbench.leaderboard.table import load_long

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: run .ci/chromium.sh (apt-get install chromium) "
    "or set VISIONBENCH_CHROMIUM",
)

CLS = 'section[data-task="classification"]'


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    write_results(root)
    path = root / "report.html"
    path.write_text(render_html(load_long(root), results=root), encoding="utf-8")
    return path


@pytest.fixture()
def page(browser, report_file):
    browser.events.clear()
    browser.open(file_url(report_file))
    return browser


def _models(b, section=CLS):
    return b.evaluate(
        f"Array.from(document.querySelectorAll('{section} table.lb tbody tr'))"
        ".filter(tr => !tr.hidden).map(tr => tr.querySelector('td.model').textContent)"
    )


def _click(b, selector):
    """A real mouse click in the middle of the element."""
    x, y = b.evaluate(
        f"(() => {{ const e = document.querySelector('{selector}'); e.scrollIntoView({{block: 'center'}}); "
        "const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        b.page("Input.dispatchMouseEvent",
               {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})  # fmt: skip


def _header(key):
    return f'{CLS} thead th[data-key="{key}"]'


def test_loads_without_errors_or_network(page):
    page.drain(0.5)
    assert page.problems() == []
    urls = page.requests()
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls
    assert page.evaluate("document.querySelectorAll('section.group').length") == 2
    assert page.evaluate("document.getElementById('vb-count').textContent") == "6 of 6 rows shown"
    assert page.evaluate("document.querySelectorAll('img').length") == 1  # the PR curves PNG
    # SVG charts: 4 confusion heatmaps, 1 AP per class (both detectors), 2 headline-metric
    # charts (one per group) and the efficiency scatter plots: classification vs GFLOPs,
    # latency and throughput, detection vs throughput
    assert page.evaluate("document.querySelectorAll('svg.chart').length") == 4 + 1 + 2 + 4
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def test_sorting_by_clicks(page):
    assert _models(page) == ["beta", "gamma", "alpha", XSS]  # ranked by top1
    _click(page, _header("model"))
    assert _models(page) == [XSS, "alpha", "beta", "gamma"]  # "<" sorts before letters
    _click(page, _header("model"))
    assert _models(page) == ["gamma", "beta", "alpha", XSS]
    _click(page, _header("gflops"))  # lower is better: ascending first
    assert _models(page) == [XSS, "alpha", "gamma", "beta"]
    _click(page, _header("top1"))  # higher is better: descending first
    assert _models(page) == ["beta", "gamma", "alpha", XSS]
    _click(page, _header("top1"))
    assert _models(page) == [XSS, "alpha", "gamma", "beta"]
    assert (
        page.evaluate(f"document.querySelector('{_header('top1')}').getAttribute('aria-sort')")
        == "ascending"
    )
    page.drain(0.2)
    assert page.problems() == []


def test_filter_by_name_and_task(page):
    page.evaluate("document.getElementById('vb-filter').focus()")
    page.page("Input.insertText", {"text": "et"})
    assert _models(page) == ["beta"]
    assert _models(page, 'section[data-task="detection"]') == ["det-b", "det-a"]
    assert page.evaluate("document.getElementById('vb-count').textContent") == "3 of 6 rows shown"
    page.evaluate(
        "(() => { const s = document.getElementById('vb-task'); s.value = 'detection'; "
        "s.dispatchEvent(new Event('change')); })()"
    )
    assert page.evaluate(f"document.querySelector('{CLS}').hidden") is True
    assert page.evaluate("document.getElementById('vb-count').textContent") == "2 of 6 rows shown"


def test_state_in_the_url_hash(browser, report_file):
    browser.open(file_url(report_file) + "#sort=gflops&q=a")
    assert _models(browser) == [XSS, "alpha", "gamma", "beta"]  # "alert" holds an "a"
    assert _models(browser, 'section[data-task="detection"]') == ["det-a"]  # no a in det-b
    browser.open(file_url(report_file) + "#sort=top1&dir=asc&task=detection&dataset=nope")
    assert _models(browser) == [XSS, "alpha", "gamma", "beta"]
    assert browser.evaluate(f"document.querySelector('{CLS}').hidden") is True
    assert browser.evaluate("document.getElementById('vb-dataset').value") == ""  # unknown
    _click(browser, 'section[data-task="detection"] thead th[data-key="model"]')
    assert browser.evaluate("location.hash") == "#task=detection&sort=model&dir=asc"
    browser.drain(0.2)
    assert browser.problems() == []


def test_script_model_name_is_text(page):
    cells = page.evaluate(
        "Array.from(document.querySelectorAll('td.model')).map(td => td.textContent)"
    )
    assert XSS in cells
    assert page.evaluate(
        "Array.from(document.querySelectorAll('td.model')).some(td => td.children.length > 0)"
    ) is False  # fmt: skip
    assert page.evaluate("document.scripts.length") == 2
    page.drain(0.3)
    assert not [p for p in page.problems() if p.startswith("dialog")]


def test_csp_blocks_an_injected_script(browser, report_file, tmp_path):
    html = report_file.read_text().replace(
        "</body>", "<script>document.title = 'pwned'; alert(2)</script></body>"
    )
    path = tmp_path / "injected.html"
    path.write_text(html)
    browser.events.clear()
    browser.open(file_url(path))
    browser.drain(0.5)
    assert browser.evaluate("document.title") == "visionbench leaderboard"
    problems = browser.problems()
    assert any("Content Security Policy" in p for p in problems), problems
    assert not [p for p in problems if p.startswith("dialog")]


def test_checks_catch_errors_dialogs_and_requests(browser, tmp_path):
    """Control: the same checks on a bad page do fail."""
    path = tmp_path / "bad.html"
    path.write_text(
        "<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('boom'); alert('hi'); undefinedFunction();</script>"
        "</body></html>"
    )
    browser.events.clear()
    browser.open(file_url(path))
    browser.drain(0.5)
    problems = browser.problems()
    assert "console.error: boom" in problems
    assert "dialog alert: hi" in problems
    assert any(p.startswith("exception: ReferenceError: undefinedFunction") for p in problems)
    assert "http://127.0.0.1:9/x.png" in browser.requests()


@pytest.mark.slow
def test_report_of_a_real_demo_run(browser, tmp_path):
    """End to end: `bench run` (the demo), `write_report`, then the page in the browser."""
    import json
    import os
    import subprocess
    import sys

    from visionbench.leaderboard.report import write_report

    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path))
    subprocess.run([sys.executable, "-m", "visionbench", "run", "--model", "demo-cnn", "--dataset", "imagenet-mini", "--workers", "0"], env=env,
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    results = tmp_path / "results"
    (record,) = [json.loads(p.read_text()) for p in (results / "records").glob("*.json")]
    path = write_report("html", tmp_path / "report.html", results=results)
    browser.events.clear()
    browser.open(file_url(path))
    browser.drain(0.5)
    assert browser.problems() == []
    assert _models(browser) == ["demo-cnn"]
    # columns: rank, model, weights, samples, top1 (%)
    top1 = browser.evaluate(f"document.querySelector('{CLS} td[data-v]:nth-child(5)').dataset.v")
    assert float(top1) == record["metrics"]["top1"]["value"]
    # the headline metrics with their intervals as error bars, the confusion heatmap and
    # the reliability diagram of record["analysis"]["calibration"]
    assert "calibration" in record["analysis"]
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 3
    errs = browser.evaluate("document.querySelectorAll('svg.chart line.err').length")
    assert errs == sum("ci" in m for m in record["metrics"].values() if m.get("ci"))
