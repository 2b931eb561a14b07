"""The web console at /ui in headless Chromium: what a user sees and can do on each screen.

The tests run in order on one browser and one server (a session of the console): sign in, the
overview, a bucket and a collection made through the forms, a document created, edited with a
CAS conflict and deleted, queries, users, and a user without write roles refused. Each screen is
saved as a screenshot in the test output."""

import json
from urllib import request

from conftest import ADMIN, VIEWER, rest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

COLL = "#/documents?b=console&s=app&c=items"
DOCS = "/pools/default/buckets/console/scopes/app/collections/items/docs"


def test_sign_in(page, metrics, base):
    page.open("/ui/")
    page.el("form.login")
    assert page.d.title == "Sign in · divan console"
    page.shot("login")
    page.fill("form.login", username="Administrator", password="wrong")
    page.el("form.login").submit()
    assert "Wrong username or password." in page.text_in("form.login .form-msg", "Wrong")
    # No browser dialog came up: the page is still the console's own form.
    page.fill("form.login", username=ADMIN[0], password=ADMIN[1])
    page.el("form.login").submit()
    page.text_in("#who-name", "Administrator (admin)")

    # A fresh load of the signed-in console: the time to the browser's load event and to the
    # overview's first data, and the bytes served.
    page.d.get(base + "/ui/index.html#/overview")
    page.el("#version")
    nav = page.d.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return {load: n.loadEventEnd, dom: n.domContentLoadedEventEnd, ready: performance.now()};")
    metrics["page_load_ms"] = round(nav["load"], 1)
    metrics["dom_content_loaded_ms"] = round(nav["dom"], 1)
    metrics["overview_ready_ms"] = round(nav["ready"], 1)
    sizes = {}
    for name in ("index.html", "app.js", "app.css", "icon.svg"):
        with request.urlopen(base + "/ui/" + name, timeout=10) as r:
            sizes[name] = len(r.read())
    metrics["served_bytes"] = sizes
    metrics["served_bytes_total"] = sum(sizes.values())


def test_overview(page):
    page.go("#/overview")
    assert page.el("#version").text.startswith(("7.", "8."))
    page.text_in("main", "Data (KV)")
    page.text_in("main", "Query")
    page.wait(lambda d: any(r.text.startswith("default")
                            for r in d.find_elements(By.CSS_SELECTOR, "main table tbody tr")))
    # The live chart draws once two samples are in, and shows writes made meanwhile by another
    # client (each poll of the wait writes a few more documents until a sample has seen them).
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#ops-chart polyline"))
    written = [0]

    def busy(d):
        for _ in range(10):
            rest(page.base, "POST", "/pools/default/buckets/default/scopes/_default/collections/"
                 "_default/docs/load%d" % written[0], {"value": '{"n": %d}' % written[0]})
            written[0] += 1
        return float(d.find_element(By.ID, "ops-rate").text) > 0

    page.wait(busy, timeout=30)
    page.wait(lambda d: any(r.text.startswith("default") and " %d " % written[0] in " " + r.text + " "
                            for r in d.find_elements(By.CSS_SELECTOR, "main table tbody tr")))
    page.shot("overview")
    page.d.set_window_size(390, 844)
    page.el("#version")
    page.shot("overview-phone")
    page.d.set_window_size(1280, 900)


def test_create_bucket_and_collection(page):
    page.go("#/buckets")
    form = page.el('form[aria-label="Create a bucket"]')
    page.button("Create bucket", form).click()
    # The REST API's own message, beside the field it is about.
    err = page.text_in('form[aria-label="Create a bucket"] .field-error[data-for="name"]', "Bucket name")
    assert err == "Bucket name cannot be empty"
    assert form.find_element(By.NAME, "name").get_attribute("aria-invalid") == "true"
    page.fill('form[aria-label="Create a bucket"]', name="console", ramQuota="100")
    form.find_element(By.NAME, "flushEnabled").click()
    page.button("Create bucket", form).click()
    page.text_in("#status", "Bucket console created.")
    page.text_in("main table", "console")
    page.shot("buckets")

    page.go("#/buckets/console")
    scope_form = page.el('form[aria-label="Create a scope"]')
    page.fill('form[aria-label="Create a scope"]', name="app")
    page.button("Create scope", scope_form).click()
    page.text_in("#status", "Scope app created.")
    coll_form = page.el('form[aria-label="Create a collection in app"]')
    page.fill('form[aria-label="Create a collection in app"]', name="bad name!")
    page.button("Create collection", coll_form).click()
    page.text_in('form[aria-label="Create a collection in app"] .field-error[data-for="name"]',
                 "Can only contain")
    page.fill('form[aria-label="Create a collection in app"]', name="items")
    page.button("Create collection", page.el('form[aria-label="Create a collection in app"]')).click()
    page.text_in("#status", "Collection app.items created.")
    page.text_in("main", "items")
    page.shot("bucket")
    status, manifest = rest(page.base, "GET", "/pools/default/buckets/console/scopes")
    assert status == 200
    app = [s for s in manifest["scopes"] if s["name"] == "app"][0]
    assert [c["name"] for c in app["collections"]] == ["items"]


def test_bucket_settings_flush_and_drop(page):
    rest(page.base, "POST", "/pools/default/buckets", {"name": "scratch", "ramQuota": "100", "flushEnabled": "1"})
    rest(page.base, "POST", "/pools/default/buckets/scratch/scopes/_default/collections/_default/docs/k",
         {"value": "{}"})
    page.go("#/buckets/scratch")
    form = page.el('form[aria-label="Bucket settings"]')
    page.fill('form[aria-label="Bucket settings"]', ramQuota="1")
    page.button("Save settings", form).click()
    assert page.text_in('form[aria-label="Bucket settings"] .field-error[data-for="ramQuota"]',
                        "RAM quota") == "RAM quota cannot be less than 100 MiB"
    page.fill('form[aria-label="Bucket settings"]', ramQuota="128")
    page.button("Save settings", page.el('form[aria-label="Bucket settings"]')).click()
    page.text_in("#status", "Settings of scratch saved.")
    assert rest(page.base, "GET", "/pools/default/buckets/scratch")[1]["quota"]["rawRAM"] == 128 << 20
    flush = page.button("Flush")
    flush.click()
    flush.click()
    page.text_in("#status", "Bucket scratch flushed.")
    assert rest(page.base, "GET", DOCS.replace("console/scopes/app/collections/items",
                                               "scratch/scopes/_default/collections/_default"))[1]["total_rows"] == 0
    drop = page.button("Drop bucket")
    drop.click()
    drop.click()
    page.text_in("#status", "Bucket scratch dropped.")
    assert rest(page.base, "GET", "/pools/default/buckets/scratch")[0] == 404
    assert "scratch" not in page.el("main").text


def editor_value(page):
    return page.el('.doc-editor textarea[name="value"]').get_attribute("value")


def set_editor(page, text):
    ta = page.el('.doc-editor textarea[name="value"]')
    ta.send_keys(Keys.CONTROL, "a")
    ta.send_keys(Keys.DELETE)
    ta.send_keys(text)


def test_document_create_edit_conflict_delete(page):
    page.go(COLL)
    page.text_in("#doc-count", "No documents")
    page.el("#new-doc").click()
    page.fill('form[aria-label="New document"]', key="doc1")
    set_editor(page, '{"name": "first", "n": 1}')
    page.button("Create", page.el('form[aria-label="New document"]')).click()
    page.text_in("#status", "Document doc1 created.")
    page.text_in("#doc-key", "doc1")
    assert json.loads(editor_value(page)) == {"name": "first", "n": 1}
    cas_read = page.el("#doc-cas").text
    _, doc = rest(page.base, "GET", DOCS + "/doc1")
    assert doc["meta"]["cas"] == cas_read

    # Not JSON: refused before it is sent.
    set_editor(page, '{"name": ')
    page.el("#save-doc").click()
    page.text_in('.doc-editor .field-error[data-for="value"]', "Not valid JSON")

    # Someone else changes the document; the user's save then conflicts and keeps the edit.
    set_editor(page, '{"name": "mine"}')
    assert rest(page.base, "POST", DOCS + "/doc1", {"value": '{"name":"theirs"}'})[0] == 200
    page.el("#save-doc").click()
    msg = page.text_in(".doc-editor .form-msg", "CAS mismatch")
    assert "Your edit is kept" in msg
    assert json.loads(editor_value(page)) == {"name": "mine"}
    page.shot("document-conflict")
    assert rest(page.base, "GET", DOCS + "/doc1")[1]["json"] == {"name": "theirs"}

    # Reload shows theirs; an edit of that version saves.
    page.el("#reload-doc").click()
    page.wait(lambda d: json.loads(editor_value(page)) == {"name": "theirs"})
    set_editor(page, '{"name": "mine", "merged": true}')
    page.el("#save-doc").click()
    page.text_in(".doc-editor .form-msg", "Saved.")
    assert page.el("#doc-cas").text != cas_read
    assert rest(page.base, "GET", DOCS + "/doc1")[1]["json"] == {"name": "mine", "merged": True}
    page.shot("document")

    # Pages and the prefix filter over more documents.
    for i in range(25):
        rest(page.base, "POST", DOCS + "/item%02d" % i, {"value": json.dumps({"name": "item %d" % i, "i": i})})
    page.go(COLL + "&prefix=item")
    assert page.text_in("#doc-count", "of 25") == "1–20 of 25"
    page.d.find_element(By.CSS_SELECTOR, 'a[rel="next"]').click()
    assert page.text_in("#doc-count", "21–25") == "21–25 of 25"
    assert [a.text for a in page.els(".keys a")] == ["item%02d" % i for i in range(20, 25)]
    page.shot("documents")

    # Delete asks once more, then the document is gone.
    page.go(COLL + "&key=doc1")
    page.text_in("#doc-key", "doc1")
    delete = page.button("Delete", page.el(".doc-editor"))
    delete.click()
    assert delete.text == "Confirm: delete"
    delete.click()
    page.text_in("#status", "Document doc1 deleted.")
    assert rest(page.base, "GET", DOCS + "/doc1")[0] == 404
    assert "doc1" not in [a.text for a in page.els(".keys a")]


def run_query(page, statement):
    ta = page.el('textarea[name="statement"]')
    ta.send_keys(Keys.CONTROL, "a")
    ta.send_keys(Keys.DELETE)
    ta.send_keys(statement)
    ta.send_keys(Keys.CONTROL, Keys.ENTER)  # the keyboard shortcut runs it
    page.wait(lambda d: d.find_element(By.ID, "run-query").is_enabled()
              and d.find_elements(By.ID, "query-outcome"))


def test_query_workbench(page):
    page.go("#/query")
    run_query(page, "SELECT i.name FROM `console`.`app`.`items` AS i")
    page.text_in("#query-outcome", "fatal")
    assert "4000" in page.text_in("#query-errors", "No index available")
    page.shot("query-error")

    run_query(page, "CREATE PRIMARY INDEX ON `console`.`app`.`items`")
    page.text_in("#query-outcome", "success")
    run_query(page, "SELECT i.name, i.i FROM `console`.`app`.`items` AS i WHERE i.i < 3 ORDER BY i.i")
    page.text_in("#query-outcome", "success")
    rows = json.loads(page.el("#result-json").text)
    assert rows == [{"name": "item 0", "i": 0}, {"name": "item 1", "i": 1}, {"name": "item 2", "i": 2}]
    assert "resultCount" in page.el(".metrics").text
    page.el("#as-table").click()
    headers = [th.text.lower() for th in page.els("table.results-table thead th")]
    assert sorted(headers) == ["i", "name"]
    cells = [dict(zip(headers, [td.text for td in tr.find_elements(By.TAG_NAME, "td")]))
             for tr in page.els("table.results-table tbody tr")]
    assert cells == [{"name": "item %d" % i, "i": str(i)} for i in range(3)]
    page.shot("query")
    # The history keeps what ran, newest first, across a reload.
    page.d.refresh()
    first = page.el(".history li button")
    assert first.text.startswith("SELECT i.name, i.i")
    first.click()
    assert page.el('textarea[name="statement"]').get_attribute("value").startswith("SELECT i.name, i.i")


def test_users(page):
    page.go("#/users")
    page.text_in("main table", "viewer")
    form = page.el("#user-form")
    page.fill("#user-form", username="dev", password="devpass1", roles="data_reader[nosuch]")
    page.button("Create user", form).click()
    err = page.text_in('#user-form .field-error[data-for="roles"]', "Cannot assign roles")
    assert "[data_reader[nosuch]]" in err
    page.fill("#user-form", roles="data_reader[console], query_select[console]")
    page.button("Create user", page.el("#user-form")).click()
    page.text_in("#status", "User dev saved.")
    row = [r for r in page.els("main table tbody tr") if r.text.startswith("dev")][0]
    assert "data_reader[console]" in row.text
    status, user = rest(page.base, "GET", "/settings/rbac/users/local/dev")
    assert status == 200 and {r["role"] for r in user["roles"]} == {"data_reader", "query_select"}

    # A group whose roles its members get.
    gform = page.el('form[aria-label="Create a group"]')
    page.fill('form[aria-label="Create a group"]', name="writers", description="write console",
              roles="data_writer[console]")
    page.button("Save group", gform).click()
    page.text_in("#status", "Group writers saved.")
    page.text_in("main", "data_writer[console]")
    page.shot("users")

    # Edit: other roles, a group; the password stays.
    row = [r for r in page.els("main table tbody tr") if r.text.startswith("dev")][0]
    page.button("Edit", row).click()
    form = page.el('form[aria-label="Edit user dev"]')
    assert form.find_element(By.NAME, "username").get_attribute("readonly") is not None
    page.fill('form[aria-label="Edit user dev"]', roles="data_reader[console]", groups="writers")
    page.button("Save user", form).click()
    page.text_in("#status", "User dev saved.")
    _, user = rest(page.base, "GET", "/settings/rbac/users/local/dev")
    assert user["groups"] == ["writers"]
    assert sorted((r["role"], r["origins"][0]["type"]) for r in user["roles"]) == [
        ("data_reader", "user"), ("data_writer", "group")]
    assert rest(page.base, "POST", DOCS + "/by-dev", {"value": "{}"}, auth=("dev", "devpass1"))[0] == 200

    # Delete asks once more.
    row = [r for r in page.els("main table tbody tr") if r.text.startswith("dev")][0]
    delete = page.button("Delete", row)
    delete.click()
    delete.click()
    page.text_in("#status", "User dev deleted.")
    assert rest(page.base, "GET", "/settings/rbac/users/local/dev")[0] == 404


def test_read_only_user_is_refused(page):
    page.el("#logout").click()
    page.el("form.login")
    page.login(*VIEWER)
    # Reading works...
    page.go(COLL + "&key=item00")
    assert json.loads(editor_value(page)) == {"name": "item 0", "i": 0}
    # ...writing is refused with the server's reason, and nothing changes.
    set_editor(page, '{"name": "changed"}')
    page.el("#save-doc").click()
    msg = page.text_in(".doc-editor .form-msg", "Not allowed for your roles")
    assert "cluster.collection[console:app:items].data.docs!upsert" in msg
    assert json.loads(editor_value(page)) == {"name": "changed"}  # the edit stays on screen
    assert rest(page.base, "GET", DOCS + "/item00")[1]["json"] == {"name": "item 0", "i": 0}
    page.shot("read-only")
    page.go("#/buckets")
    form = page.el('form[aria-label="Create a bucket"]')
    page.fill('form[aria-label="Create a bucket"]', name="nope")
    page.button("Create bucket", form).click()
    page.text_in('form[aria-label="Create a bucket"] .form-msg', "Not allowed for your roles")
    assert rest(page.base, "GET", "/pools/default/buckets/nope")[0] == 404
