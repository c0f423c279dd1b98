"""What the browser tests share: serving an app on a free port and a logged-in Chromium page.
(A module of its own: ``from test_browser import ...`` would import another test module.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from werkzeug.serving import make_server

from web.demo_data import DEMO_PASSWORD


def serve(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def open_as(browser, base: str, username: str, width: int = 1360):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page
