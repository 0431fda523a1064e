"""The UI's pages in real headless Chromium (Debian's, driven by selenium with Debian's
chromedriver; no name resolves, so any fetch beyond the loopback server would fail), against a
real ``sparktrack ui`` process. Each page loads with no JavaScript error; the tests type a filter,
open a chart, compare two runs and move an alias with the token. Screenshots are kept as test
artifacts in tests/artifacts/ui_*.png (ignored by git)."""

from __future__ import annotations

import pathlib

import pytest

from _ui import TOKEN, build_store, serve

ARTIFACTS = pathlib.Path(__file__).parent / "artifacts"
TRACES = ".js-plotly-plot .main-svg .trace, .js-plotly-plot .gl-container canvas"


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui-pages")
    store, ids, loss = build_store(tmp)
    with serve(tmp, store) as server:
        yield server, ids


def _open(driver, url: str, name: str) -> str:
    """Load ``url``, wait until its script drew the page, check it logged no error and fetched
    nothing but the server; save a screenshot; the page's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") is not None)
    assert driver.execute_script("return document.body.dataset.ready") == "true", \
        driver.find_element(By.ID, "error").text
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"ui_{name}.png"))
    return driver.find_element(By.TAG_NAME, "main").text


def _wait(driver, script: str, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def test_the_runs_table_filters_with_mlflows_grammar_and_shows_the_caret_of_a_bad_filter(ui, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    server, ids = ui
    text = _open(browser, server.url + "/", "experiments")
    assert "ui" in text and "Default" in text
    browser.find_element(By.LINK_TEXT, "ui").click()
    _wait(browser, "return document.querySelectorAll('#runs tbody tr').length >= 5")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr td:nth-child(2) a")]
    assert set(names) == {f"run-{i}" for i in range(5)}  # the child runs are folded under run-3
    toggle = browser.find_element(By.CSS_SELECTOR, "tr[data-run-id='%s'] .toggle" % ids[3])
    toggle.click()
    _wait(browser, "return [...document.querySelectorAll('#runs tbody tr.child a')].map(a => a.textContent).sort()"
                   ".join() === 'child-0,child-1'")
    browser.save_screenshot(str(ARTIFACTS / "ui_runs.png"))
    box = browser.find_element(By.ID, "filter")
    box.send_keys("metrics.acc >= 0.3", Keys.ENTER)
    _wait(browser, "return document.querySelectorAll('#runs tbody tr').length === 3")
    browser.find_element(By.XPATH, "//th[text()='metrics.acc']").click()  # sort ascending, then descending
    _wait(browser, "return document.querySelector('#runs th.sorted') !== null")
    browser.find_element(By.XPATH, "//th[text()='metrics.acc']").click()
    _wait(browser, "return document.querySelector('#runs tbody tr td:nth-child(2) a').textContent === 'run-4'")
    box.clear()
    box.send_keys("metrics.acc >>> 1", Keys.ENTER)
    message = _wait(browser, "const e = document.getElementById('error'); return !e.hidden && e.textContent")
    assert message.startswith("400:") and "^" in message and "at position" in message
    browser.save_screenshot(str(ARTIFACTS / "ui_runs_bad_filter.png"))


def test_a_run_page_shows_metrics_params_and_previews_artifacts(ui, browser):
    from selenium.webdriver.common.by import By

    server, ids = ui
    text = _open(browser, f"{server.url}/runs/{ids[4]}", "run")
    assert "run-4" in text and "loss" in text and "30000" in text
    metrics = browser.find_element(By.ID, "metrics").text
    assert "50" in metrics  # the max of the loss
    browser.find_element(By.CSS_SELECTOR, "#artifacts li[data-path='notes']").click()
    _wait(browser, "return document.querySelector(\"#artifacts li[data-path='notes/readme.txt']\") !== null")
    browser.find_element(By.CSS_SELECTOR, "#artifacts li[data-path='notes/readme.txt']").click()
    assert _wait(browser, "const p = document.getElementById('text-preview'); return p && p.textContent") == "hello\n"
    browser.find_element(By.CSS_SELECTOR, "#artifacts li[data-path='data']").click()
    _wait(browser, "return document.querySelector(\"#artifacts li[data-path='data/sample.csv']\") !== null")
    browser.find_element(By.CSS_SELECTOR, "#artifacts li[data-path='data/sample.csv']").click()
    assert _wait(browser, "const t = document.getElementById('csv-preview'); return t && t.textContent") == "ab12"


def test_a_chart_of_a_long_history_draws_its_traces_and_switches_to_log_scale(ui, browser):
    from selenium.webdriver.common.by import By

    server, ids = ui
    _open(browser, f"{server.url}/charts?run_ids={ids[3]},{ids[4]}&keys=loss,acc", "charts")
    assert _wait(browser, "return document.querySelectorAll('.js-plotly-plot').length") == 2
    traces = browser.execute_script(
        "return [...document.querySelectorAll('.js-plotly-plot')].map(c => c.data.length)")
    assert traces == [1, 2]  # loss: run-4 only; acc: both runs
    points = browser.execute_script("return document.querySelector(\".chart[data-key='loss']\").data[0].y.length")
    assert 600 < points <= 2000
    browser.find_element(By.ID, "log-scale").click()
    assert _wait(browser, "return document.querySelector(\".chart[data-key='loss']\").layout.yaxis.type") == "log"
    browser.save_screenshot(str(ARTIFACTS / "ui_charts_log.png"))


def test_compare_shows_only_the_differences_a_parallel_coordinates_plot_and_a_scatter(ui, browser):
    from selenium.webdriver.common.by import By

    server, ids = ui
    _open(browser, f"{server.url}/compare?run_ids={ids[1]},{ids[2]}", "compare")
    shown = browser.find_element(By.ID, "comparison").text
    assert "params.depth" in shown and "metrics.acc" in shown and "metrics.odd" not in shown  # odd is 1.0 in both
    browser.find_element(By.ID, "only-differences").click()
    assert "metrics.odd" in browser.find_element(By.ID, "comparison").text
    assert browser.execute_script("return document.getElementById('parallel').data[0].type") == "parcoords"
    assert browser.execute_script("return document.getElementById('scatter').data[0].x.length") == 2


def test_moving_an_alias_needs_the_token_and_is_in_the_audit_log(ui, browser):
    from selenium.webdriver.common.by import By

    server, _ = ui
    text = _open(browser, f"{server.url}/models/churn", "model")
    assert "Champion" in text and "Challenger" in text
    browser.find_element(By.ID, "alias-name").send_keys("Champion")
    browser.find_element(By.ID, "alias-version").send_keys("2")
    browser.find_element(By.ID, "move-alias").click()
    message = _wait(browser, "const e = document.getElementById('error'); return !e.hidden && e.textContent")
    assert message.startswith("401:")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "move-alias").click()
    _wait(browser, "return document.body.dataset.ready === 'true' && "
                   "[...document.querySelectorAll('#aliases tr')].some(r => r.textContent === 'Champion2')")
    assert "set_alias" in browser.find_element(By.ID, "audit").text
    browser.save_screenshot(str(ARTIFACTS / "ui_model_alias_moved.png"))
    text = _open(browser, f"{server.url}/models/churn/versions/2", "lineage")
    assert "churn version 2" in text and "Training data" in text
    assert "churn" in _open(browser, f"{server.url}/models", "registry")


@pytest.mark.parametrize("path, message", [
    ("/runs/0123456789abcdef0123456789abcdef", "404: No run with id '0123456789abcdef0123456789abcdef'"),
    ("/models/nope", "404: Registered model 'nope'"),
    ("/runs?filter=metrics.acc%20%3E", "400:"),
    ("/no/such/page", "404: No route '/no/such/page'"),
])
def test_a_bad_page_request_is_a_readable_page_with_the_error(ui, browser, path, message):
    from selenium.webdriver.common.by import By

    server, _ = ui
    browser.get(server.url + path)
    shown = _wait(browser, "const e = document.getElementById('error'); return e && !e.hidden && e.textContent")
    assert shown.startswith(message), shown
    assert browser.find_element(By.CSS_SELECTOR, "nav a.brand").text == "sparktrack"
