"""The web page of `stackrules serve` in a real headless browser (Debian's chromium, driven by
Playwright) against a real server process on a free local port.

A registrar's flows, as a person does them: paste a record and read the audit (an earned
credential, what remains, transfer credit); load a sample, add planned courses (what-if),
plan a target by term, list the nearest credentials, open the pathway map; upload a record
file with and without JavaScript. axe-core checks the home page, an audit, a plan and the
nearest credentials against the WCAG 2.1 A and AA rules; the keyboard reaches the record and
the submit button, and the skip link moves to the content; print media hides the forms and
leaves the audit in black on white. Screenshots (and a PDF of the printed audit) are kept in
`test-artifacts/` (gitignored) and their paths printed.

Skipped, with the reason, when chromium is not installed; in CI (`CI=true`) its absence is a
failure, as in `test_browser.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serveproc import Server
from test_browser import FLAGS, _chromium

if os.environ.get("CI", "").lower() == "true":  # CI installs the dev extra: never skip there
    import axe_playwright_python.sync_playwright as axe_api
    import playwright.sync_api as playwright_api
else:
    playwright_api = pytest.importorskip("playwright.sync_api")
    axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
AS_OF = "2026-11-22"
LEARNERS = {x["learner"]: x for x in json.loads((ROOT / "examples/learners.json").read_text())}
# chromium's flags as the flowchart's browser test starts it, but `--headless` (Playwright's)
ARGS = [flag for flag in FLAGS if flag != "--headless"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _chromium()  # skip (or fail in CI) before starting anything
    # the real server, as `make serve` starts it (the package as the tests import it,
    # installed or on the caller's PYTHONPATH)
    log = tmp_path_factory.mktemp("browser") / "server.log"
    running = Server("rules/", log, log_level="warning")
    try:
        yield running.url
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=_chromium(), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def p(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(p: Any, name: str, *, full: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"serve-{name}.png"
    p.screenshot(path=str(path), full_page=full)
    print(f"screenshot: {path}")
    return path


def no_violations(p: Any, what: str) -> None:
    results = axe_api.Axe().run(
        p, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    )
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def paste_and_audit(p: Any, server: str, learner: str) -> None:
    p.goto(server + "/")
    p.fill("#record", json.dumps(LEARNERS[learner], indent=2))
    p.fill("#as_of", AS_OF)
    p.get_by_role("button", name="Show the audit").click()
    p.wait_for_selector("h1:has-text('Audit of learner')")


def test_paste_a_record_and_read_the_audit(p: Any, server: str) -> None:
    paste_and_audit(p, server, "L-1002")
    assert p.locator("h1").inner_text() == "Audit of learner L-1002"
    earned = p.locator("section[aria-labelledby=earned]")
    assert "UFV:MEDIA-FOUNDATIONS" in earned.inner_text()
    assert "rules/ufv/digital-marketing.stack:105" in earned.inner_text()
    progress = p.locator("section[aria-labelledby=in-progress]")
    remains = progress.locator("table.remaining").first.inner_text()
    assert "6 more items" in remains and "UFV:DM107" in remains
    transfers = p.locator("section[aria-labelledby=transfers]").inner_text()
    assert "UFV:DM101 + UFV:DM102 + UFV:DM103" in transfers and "UFV:GD157" in transfers
    shot(p, "audit")


def test_what_if_plan_and_map(p: Any, server: str) -> None:
    p.goto(server + "/")
    p.select_option("#sample", "L-1011")
    p.get_by_role("button", name="Load the sample").click()
    assert '"learner": "L-1011"' in p.input_value("#record")
    shot(p, "home", full=False)
    p.get_by_role("button", name="Show the audit").click()
    earned = p.locator("section[aria-labelledby=earned]")
    assert "DSGN:GRAPHIC" not in earned.inner_text()
    # what-if: the two graphic courses complete Graphic Design
    p.fill("#act-adds", "DSGN:FONTS DSGN:COLOUR:B")
    p.get_by_role("button", name="Show the audit with these courses").click()
    p.wait_for_selector("dt:has-text('What-if')")
    assert "DSGN:GRAPHIC Graphic Design" in earned.inner_text()
    assert "Met on 2026-11-22" in earned.inner_text()
    # the cheapest plan for the specialist credential, two items a term
    p.fill("#act-adds", "")
    p.get_by_role("button", name="Show the audit with these courses").click()
    p.select_option("#act-target", "DSGN:DIGITAL")
    p.fill("#act-per-term", "2")
    p.get_by_role("button", name="Plan").click()
    p.wait_for_selector("h1:has-text('Plan for')")
    terms = p.locator("section.term")
    assert terms.count() == 2
    assert "Term 1" in terms.nth(0).inner_text()
    planned = p.locator("main").inner_text()
    for item in ("DSGN:FONTS", "DSGN:COLOUR", "DSGN:PORTFOLIO"):
        assert item in planned
    no_violations(p, "plan")
    shot(p, "plan")
    # back to the audit, then the map in a new tab
    p.get_by_role("button", name="Back to the audit").click()
    p.select_option("#act-map", "DSGN:DIGITAL")
    with p.context.expect_page() as opened:
        p.get_by_role("button", name="Open the map").click()
    chart = opened.value
    chart.wait_for_load_state()
    assert chart.locator("figure svg").count() == 1
    assert "learner L-1011 as of 2026-11-22" in chart.locator("header").inner_text()
    shot(chart, "map", full=False)


def test_axe_finds_no_wcag_violations(p: Any, server: str) -> None:
    p.goto(server + "/?sample=L-1003")
    no_violations(p, "home page")
    # an error message on the form
    p.fill("#targets", "UVIC:BAX")
    p.get_by_role("button", name="Show the audit").click()
    p.wait_for_selector(".error-summary")
    no_violations(p, "error message")
    p.fill("#targets", "")
    p.get_by_role("button", name="Show the audit").click()
    p.wait_for_selector("h1:has-text('Audit of learner L-1003')")
    no_violations(p, "audit")
    p.locator("details.options summary").first.click()  # an open list of options
    p.get_by_text("Change the record or the options").click()  # the form again, open
    no_violations(p, "audit, folded parts open")


def test_keyboard(p: Any, server: str) -> None:
    p.goto(server + "/")
    p.keyboard.press("Tab")
    focused = p.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    box = p.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0  # shown while focused
    outline = p.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    p.keyboard.press("Enter")
    assert p.evaluate("location.hash") == "#main"
    assert p.evaluate("document.activeElement.id") == "main"
    order = []
    for _ in range(40):
        p.keyboard.press("Tab")
        ident = p.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        order.append(ident)
        if ident == "Show the audit":
            break
    assert "record" in order and order[-1] == "Show the audit", order
    assert order.index("sample") < order.index("record") < order.index("as_of"), order
    outline = p.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_print_shows_the_audit_alone(p: Any, server: str) -> None:
    paste_and_audit(p, server, "L-1003")
    assert p.locator("form").first.is_visible()
    p.emulate_media(media="print")
    forms = p.locator("form")
    assert forms.count() >= 3
    for n in range(forms.count()):
        assert not forms.nth(n).is_visible()
    assert not p.locator("nav").is_visible() and not p.locator(".skip-link").is_visible()
    assert p.locator("h1").is_visible()
    assert p.locator("section[aria-labelledby=transfers] table").is_visible()
    colour = p.evaluate("getComputedStyle(document.body).color")
    background = p.evaluate("getComputedStyle(document.body).backgroundColor")
    assert colour == "rgb(0, 0, 0)" and background == "rgb(255, 255, 255)"
    # the options folded away on screen are printed
    assert p.locator("details.options li").first.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / "serve-audit-print.pdf"
    p.pdf(path=str(pdf), format="A4")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    print(f"printed: {pdf}")


def test_upload_a_record_file(p: Any, server: str) -> None:
    p.goto(server + "/")
    p.set_input_files("#file", str(ROOT / "examples" / "learners.csv"))
    p.wait_for_function("document.getElementById('record').value.startsWith('learner,item')")
    assert p.input_value("#format") == "csv"
    p.fill("#learner", "L-1009")
    p.fill("#as_of", AS_OF)
    p.get_by_role("button", name="Show the audit").click()
    p.wait_for_selector("h1:has-text('Audit of learner L-1009')")
    facts = p.locator("dl.facts").inner_text()
    assert "learners.csv, read as CSV (4 learners)" in facts


def test_the_main_flow_needs_no_javascript(browser: Any, server: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        p = context.new_page()
        p.goto(server + "/?sample=L-1002")
        p.get_by_role("button", name="Show the audit").click()
        assert p.locator("h1").inner_text() == "Audit of learner L-1002"
        p.fill("#act-adds", "UFV:DM107 UFV:DM108 UFV:DM109 UFV:DM110 UFV:DM111 UFV:DM115")
        p.get_by_role("button", name="Show the audit with these courses").click()
        earned = p.locator("section[aria-labelledby=earned]").inner_text()
        assert "UFV:DIGMKT" in earned
    finally:
        context.close()


def test_upload_a_record_file_without_javascript(browser: Any, server: str) -> None:
    # the file itself is sent (multipart/form-data) and read by the server
    context = browser.new_context(java_script_enabled=False)
    try:
        p = context.new_page()
        p.goto(server + "/")
        assert p.locator("#file").is_visible()
        p.set_input_files("#file", str(ROOT / "examples" / "learners.csv"))
        assert p.input_value("#record") == ""  # no script read it into the box
        p.fill("#learner", "L-1009")
        p.fill("#as_of", AS_OF)
        p.get_by_role("button", name="Show the audit").click()
        p.wait_for_selector("h1:has-text('Audit of learner L-1009')")
        facts = p.locator("dl.facts").inner_text()
        assert "learners.csv, read as CSV (4 learners)" in facts
        # the record carried on: another learner of the same file, still without a script
        p.select_option("select[name=learner]", "L-1004")
        p.get_by_role("button", name="Show that learner").click()
        p.wait_for_selector("h1:has-text('Audit of learner L-1004')")
    finally:
        context.close()


def test_the_nearest_credentials(p: Any, server: str) -> None:
    p.goto(server + "/?sample=L-1003")
    p.get_by_role("button", name="Show the audit").click()
    p.wait_for_selector("h1:has-text('Audit of learner L-1003')")
    p.fill("#act-top", "3")
    p.get_by_role("button", name="Show the nearest").click()
    p.wait_for_selector("h1:has-text('Nearest credentials for learner L-1003')", timeout=60_000)
    table = p.get_by_role("table", name="The nearest credentials and the work each needs")
    rows = table.locator("tbody tr")
    assert rows.count() == 3
    first = rows.first.inner_text()
    assert "In progress" in first or "Not started" in first
    assert table.locator("th[scope=row]").count() == 3
    no_violations(p, "nearest")
    shot(p, "nearest")
    p.get_by_role("button", name="Back to the audit").click()
    p.wait_for_selector("h1:has-text('Audit of learner L-1003')")
