"""The paper list issues a fixed number of SQL statements, whatever the page size."""

from sqlalchemy import event


def count_statements(engine, fn) -> int:
    n = 0

    def before(*_args, **_kw):
        nonlocal n
        n += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return n


def test_paper_list_statement_count_does_not_grow_with_page_size(shipped_client):
    app = shipped_client.app
    engine = app.state.engine
    counts = {}
    for per_page in (5, 50, 200):

        def fetch(pp=per_page):
            r = shipped_client.get(f"/papers?per_page={pp}")
            assert r.status_code == 200
            api = shipped_client.get(f"/api/v1/papers?per_page={pp}")
            assert len(api.json()["items"]) == pp

        counts[per_page] = count_statements(engine, fetch)
    assert counts[5] == counts[50] == counts[200], counts
