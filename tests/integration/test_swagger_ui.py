"""Swagger UI of the running local stack in headless Chromium (Debian's `chromium`, driven by Playwright):
the page loads only from the stack, lists every operation of the OpenAPI document, and a call made from it
with the stack's token succeeds."""

from __future__ import annotations

import shutil

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page():
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: install it with `apt-get update && apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_swagger_ui_lists_every_operation_and_calls_the_api_with_a_token(local_stack, page):
    document = httpx.get(f"{local_stack.url}/api/openapi.json", timeout=30).json()
    expected = {(method, path) for path, operations in document["paths"].items() for method in operations}
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{local_stack.url}/api/docs")
    page.wait_for_selector(".opblock .opblock-summary-path", timeout=30_000)
    listed = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(block => [
               block.querySelector('.opblock-summary-method').textContent.trim().toLowerCase(),
               block.querySelector('.opblock-summary-path').getAttribute('data-path')])""",
    )
    assert {tuple(item) for item in listed} == expected and len(listed) == len(expected)

    page.click("button.authorize")
    page.fill(".auth-container input", f"Token {local_stack.token}")
    page.click(".auth-container .auth-btn-wrapper button.authorize")
    page.click(".auth-container .auth-btn-wrapper button.btn-done")

    operation = page.locator('.opblock-get:has(.opblock-summary-path[data-path="/api/data_sets"])')
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table td.response-col_status:not(.col_header)")
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip() == "200"
    body = operation.locator(".live-responses-table .response-col_description pre").first.inner_text()
    assert '"results"' in body

    assert requested and all(url.startswith(local_stack.url + "/") for url in requested), requested
