"""The dashboard end to end: headless Chromium against a running ``balupi demo``.

Each test sets up the NAS state it needs through the demo's control channel, then acts and looks
as a person would: it reads what the page shows, never the API answers behind it. Screenshots of
every page, at desktop and phone width, go to ``build/screenshots/``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.web.conftest import ADMIN, Demo, screenshot_path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
LOCALES = {"en": "en-GB", "de": "de-DE"}
PAGES = ("overview", "energy", "devices", "conflicts", "tariffs")
SLOW = 60_000  # ms: a NAS boot, a sync round


@contextmanager
def opened(browser: Any, *, viewport: str = "desktop", lang: str = "en") -> Iterator[Page]:
    """A fresh browser profile (no session) at ``viewport``, speaking ``lang``."""
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale=LOCALES[lang],
        timezone_id="Europe/Berlin",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


def log_in(page: Page, demo: Demo) -> None:
    """Log in through the form, as a person does."""
    page.goto(demo.url)
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    expect(page.get_by_test_id("nas-state")).to_be_visible(timeout=15_000)


def signed_in(page: Page, demo: Demo, username: str = ADMIN[0]) -> None:
    """Open the dashboard with ``username``'s session already in this tab.

    The tests share one login per user (the NAS allows five a minute through the Pi); the form
    itself is tested on its own.
    """
    login = demo.login(username)
    session = json.dumps({"token": login["access_token"], "user": login["user"]})
    page.goto(demo.url)
    page.evaluate("s => sessionStorage.setItem('balupi.session', s)", session)
    page.reload()
    expect(page.get_by_test_id("nas-state")).to_be_visible(timeout=15_000)


def go(page: Page, name: str) -> None:
    page.click(f"nav a[href='{'/' if name == 'overview' else '/' + name}']")
    expect(page.locator(f"main[data-page={name}]")).to_be_visible()


def wake_up(demo: Demo) -> None:
    """Wake the NAS if it sleeps (as the dashboard's button does) and wait until it is online."""
    if demo.nas_state() != "online":
        demo.api("POST", "/api/nas/wol").raise_for_status()
    demo.wait_for_nas("online", timeout=60)


def watts_in(text: str) -> float:
    match = re.search(r"([\d.,]+)\s*(k?)W", text)
    assert match, text
    value = float(match.group(1).replace(",", "."))
    return value * 1000 if match.group(2) else value


def upload(page: Page, tmp_path: Path, name: str, content: bytes, folder: str = "Shared") -> None:
    """Upload ``content`` as ``name`` through the overview's sync card."""
    go(page, "overview")
    source = tmp_path / name
    source.write_bytes(content)
    card = page.get_by_test_id("sync-card")
    card.locator("input[name=folder]").fill(folder)
    card.locator("input[name=file]").set_input_files(str(source))
    card.get_by_role("button", name="Upload").click()
    expect(page.get_by_test_id("upload-done")).to_contain_text(name)


def test_login_works_with_the_nas_awake_and_asleep(browser: Any, demo: Demo) -> None:
    demo.wait_for_nas("online")
    with opened(browser) as page:
        page.goto(demo.url)
        expect(page.get_by_role("heading", name="BaluPi")).to_be_visible()
        log_in(page, demo)  # the NAS is awake: it checks the password
        expect(page.get_by_test_id("nas-state")).to_have_text("Online")
        expect(page.get_by_test_id("user")).to_contain_text("admin")
        page.reload()  # the session lives in the tab (sessionStorage)
        expect(page.get_by_test_id("nas-state")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        expect(page.locator("input[name=password]")).to_be_visible()

        # Asleep, the Pi checks the password itself against what it learned at the last login.
        demo.put_nas_to_sleep()
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", "not-the-password")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("wrong")
        page.fill("input[name=password]", ADMIN[1])
        page.click("button[type=submit]")
        expect(page.get_by_test_id("nas-state")).to_have_text("Sleeping", timeout=15_000)


def test_live_power_refreshes_itself_and_follows_the_nas(browser: Any, demo: Demo) -> None:
    wake_up(demo)
    with opened(browser) as page:
        asked: list[float] = []
        page.on(
            "request",
            lambda r: asked.append(time.monotonic()) if "/api/energy/current" in r.url else None,
        )
        signed_in(page, demo)
        go(page, "energy")
        nas_tile = page.get_by_test_id("live-1").get_by_test_id("live-power")
        expect(nas_tile).to_be_visible()
        assert watts_in(nas_tile.inner_text()) > 20  # awake: idle or busy

        demo.put_nas_to_sleep()  # its plug's draw falls to standby; nobody reloads the page
        expect(nas_tile).to_have_text(re.compile(r"^[0-9][.,]\d W$"), timeout=30_000)
        assert watts_in(nas_tile.inner_text()) < 5
        expect(page.get_by_test_id("live-chart").locator("canvas")).to_be_visible()
        while len(asked) < 3:  # a third reading, to see the pace twice
            page.wait_for_timeout(500)

    gaps = [later - earlier for earlier, later in itertools.pairwise(asked)]
    assert len(gaps) >= 2
    # Never faster than every 5 s. The timestamps are taken when Playwright hands the event
    # to Python, which under load lags by up to a second, now more, now less: one gap may look
    # short by that much, but the lags cancel in the mean (the last time minus the first).
    assert min(gaps) >= 4.0, gaps
    assert sum(gaps) / len(gaps) >= 4.9, gaps


def test_wake_takes_the_nas_from_sleeping_through_waking_to_online(
    browser: Any, demo: Demo
) -> None:
    demo.put_nas_to_sleep()
    with opened(browser) as page:
        log_in(page, demo)  # while the NAS sleeps: the Pi checks the password itself
        state = page.get_by_test_id("nas-state")
        expect(state).to_have_text("Sleeping")
        page.get_by_test_id("wake").click()
        expect(state).to_have_text("Waking up")
        expect(state).to_have_text("Online", timeout=SLOW)
        expect(page.get_by_test_id("wake")).to_have_count(0)  # nothing to wake


def test_an_upload_waits_on_the_pi_then_lands_on_the_nas(
    browser: Any, demo: Demo, tmp_path: Path
) -> None:
    content = b"holiday list\n" * 100
    demo.put_nas_to_sleep()
    with opened(browser) as page:
        signed_in(page, demo)
        upload(page, tmp_path, "packing-list.txt", content)
        expect(page.get_by_test_id("pending-count")).to_have_text("1")
        expect(page.get_by_test_id("safe-to-power-off")).to_contain_text("Not safe")

        page.get_by_test_id("wake").click()
        expect(page.get_by_test_id("pending-count")).to_have_text("0", timeout=SLOW)
        expect(page.get_by_test_id("safe-to-power-off")).to_contain_text("Safe to power off")
        expect(page.get_by_test_id("last-sync")).not_to_have_text("never")
    assert (demo.nas_storage / "Shared" / "packing-list.txt").read_bytes() == content


def test_a_conflict_is_listed_and_resolved(browser: Any, demo: Demo, tmp_path: Path) -> None:
    ask = demo.api("PUT", "/api/sync/policies", json={"folder": "Shared", "policy": "ask"})
    assert ask.status_code == 200
    demo.put_nas_to_sleep()
    try:
        with opened(browser) as page:
            signed_in(page, demo)
            upload(page, tmp_path, "plan.txt", b"the plan, as uploaded from the phone\n")
            # Meanwhile someone changes the same file on the NAS itself.
            (demo.nas_storage / "Shared" / "plan.txt").write_bytes(b"the plan, edited on the NAS\n")
            page.get_by_test_id("wake").click()
            expect(page.get_by_test_id("nas-state")).to_have_text("Online", timeout=SLOW)

            go(page, "conflicts")
            conflict = page.locator("[data-testid^=conflict-]").filter(has_text="Shared/plan.txt")
            expect(conflict).to_be_visible(timeout=SLOW)
            for viewport, size in VIEWPORTS.items():
                page.set_viewport_size(size)
                shot = screenshot_path(f"conflicts-open-{viewport}-en")
                page.screenshot(path=shot, full_page=True)
            page.set_viewport_size(VIEWPORTS["desktop"])

            conflict.get_by_test_id("keep_both").click()
            expect(conflict).to_have_count(0, timeout=15_000)
            settled = page.get_by_test_id("settled-conflicts")
            expect(settled).to_contain_text("Shared/plan.txt")
            expect(settled).to_contain_text("both kept")
    finally:
        demo.api("PUT", "/api/sync/policies", json={"folder": "Shared", "policy": None})

    deadline = time.monotonic() + 30
    while not list((demo.nas_storage / "Shared").glob("plan (conflict *).txt")):
        assert time.monotonic() < deadline, "the uploaded version did not land beside the NAS's"
        time.sleep(0.5)
    nas_version = (demo.nas_storage / "Shared" / "plan.txt").read_bytes()
    assert nas_version == b"the plan, edited on the NAS\n"


def test_plugs_are_renamed_and_switched_with_a_confirmation(browser: Any, demo: Demo) -> None:
    wake_up(demo)
    with opened(browser) as page:
        signed_in(page, demo)
        go(page, "devices")

        # The NAS plug while the NAS runs: a warning, and only an explicit "cut anyway".
        nas_plug = page.get_by_test_id("plug-1")
        nas_plug.get_by_test_id("toggle").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_test_id("nas-warning")).to_contain_text("The NAS is Online")
        expect(dialog.get_by_test_id("confirm")).to_have_count(0)
        expect(dialog.get_by_test_id("confirm-force")).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_have_count(0)
        expect(nas_plug.get_by_test_id("plug-switch")).to_have_text("on")

        monitor = page.get_by_test_id("plug-2")
        monitor.get_by_role("button", name="Rename").click()
        monitor.get_by_label("Name").fill("Desk screen")
        monitor.get_by_role("button", name="Save").click()
        expect(monitor.locator("h3")).to_contain_text("Desk screen")

        monitor.get_by_test_id("toggle").click()
        expect(page.get_by_role("dialog")).to_contain_text("Switch “Desk screen” off?")
        page.get_by_role("dialog").get_by_test_id("confirm").click()
        expect(monitor.get_by_test_id("plug-switch")).to_have_text("off", timeout=15_000)
        monitor.get_by_test_id("toggle").click()
        page.get_by_role("dialog").get_by_test_id("confirm").click()
        expect(monitor.get_by_test_id("plug-switch")).to_have_text("on", timeout=15_000)


def test_changing_a_tariff_changes_the_cost(browser: Any, demo: Demo) -> None:
    tariffs = demo.api("GET", "/api/energy/tariffs").json()
    all_day = next(t for t in tariffs if t["valid_until"] is None and t["starts_at"] is None)
    with opened(browser) as page:
        signed_in(page, demo)
        go(page, "energy")
        page.get_by_role("tab", name="Month").click()
        total = page.get_by_test_id("costs-total")
        expect(total).not_to_have_text("€0.00")
        energy_cost_before = total.inner_text()

        go(page, "tariffs")
        month_cost = page.get_by_test_id("month-cost-value")
        expect(month_cost).to_be_visible()
        before = month_cost.inner_text()
        page.get_by_test_id(f"tariff-{all_day['id']}").get_by_test_id("edit-tariff").click()
        form = page.get_by_test_id("tariff-form")
        form.locator("input[name=price]").fill("0.65")
        form.get_by_test_id("save-tariff").click()
        expect(page.get_by_test_id(f"tariff-{all_day['id']}")).to_contain_text("€0.65")
        expect(month_cost).not_to_have_text(before)
        assert money_in(month_cost.inner_text()) > money_in(before)

        go(page, "energy")
        page.get_by_role("tab", name="Month").click()
        expect(total).not_to_have_text(energy_cost_before)
        assert money_in(total.inner_text()) > money_in(energy_cost_before)


def test_a_user_sees_plugs_and_tariffs_but_only_an_admin_changes_them(
    browser: Any, demo: Demo
) -> None:
    with opened(browser) as page:
        signed_in(page, demo, "alice")
        expect(page.get_by_test_id("user")).to_have_text("alice")
        go(page, "devices")
        expect(page.get_by_text("Only admins can change plugs.")).to_be_visible()
        expect(page.get_by_test_id("plug-1")).to_be_visible()
        expect(page.get_by_test_id("toggle")).to_have_count(0)
        expect(page.get_by_role("button", name="Rename")).to_have_count(0)
        expect(page.get_by_test_id("plug-1").locator("select")).to_be_disabled()
        expect(page.get_by_test_id("add-plug")).to_have_count(0)
        go(page, "tariffs")
        expect(page.get_by_text("Only admins can change tariffs.")).to_be_visible()
        expect(page.get_by_test_id("month-cost-value")).to_be_visible()
        expect(page.get_by_test_id("edit-tariff")).to_have_count(0)
        expect(page.get_by_test_id("add-tariff")).to_have_count(0)


def money_in(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text))


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("viewport", "lang"), [("desktop", "en"), ("desktop", "de"), ("phone", "en"), ("phone", "de")]
)
def test_screenshots_of_every_page(browser: Any, demo: Demo, viewport: str, lang: str) -> None:
    wake_up(demo)
    browse_photos(demo)
    with opened(browser, viewport=viewport, lang=lang) as page:
        page.goto(demo.url)
        expect(page.locator("input[name=password]")).to_be_visible()
        page.screenshot(path=screenshot_path(f"login-{viewport}-{lang}"))
        signed_in(page, demo)
        if lang == "de":
            expect(page.locator("nav")).to_contain_text("Übersicht")
        for name in PAGES:
            go(page, name)
            ready(page, name)
            page.screenshot(path=screenshot_path(f"{name}-{viewport}-{lang}"), full_page=True)
            if name == "energy" and viewport == "desktop" and lang == "en":
                for tab, says in (("Week", "Average power"), ("Year", "Energy per month")):
                    page.get_by_role("tab", name=tab).click()
                    expect(page.get_by_test_id("history-card")).to_contain_text(says)
                    expect(page.get_by_test_id("history-chart").locator("canvas")).to_be_visible()
                    expect(page.get_by_test_id("saved-energy")).to_be_visible(timeout=15_000)
                    card = page.get_by_test_id("history-card")
                    card.screenshot(
                        path=screenshot_path(f"energy-{tab.lower()}-chart-{viewport}-{lang}")
                    )


def browse_photos(demo: Demo) -> None:
    """Someone looks at the holiday photos (some twice): the cache has files, hits and misses."""
    for number, times in ((1, 3), (2, 2), (3, 1)):
        for _ in range(times):
            path = f"Shared/Photos/holiday-{number}.jpg"
            answer = demo.api("GET", "/api/files/download", params={"path": path})
            assert answer.status_code == 200, answer.text


def ready(page: Page, name: str) -> None:
    """Wait until ``name`` shows its data, charts included."""
    if name == "overview":
        for card in ("nas-card", "sync-card", "pi-card", "cache-card", "alerts-card"):
            expect(page.get_by_test_id(card).locator(".stat, .empty, .gauge").first).to_be_visible()
    elif name == "energy":
        # The chart, or (just after midnight) that nothing is counted yet today.
        expect(page.get_by_test_id("history-card").locator("canvas, .empty").first).to_be_visible()
        expect(page.get_by_test_id("live-chart").locator("canvas")).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("nas-timeline")).to_be_visible()
        # The savings, or why they cannot be told yet (today, before the NAS was awake a whole
        # counted slot).
        savings = page.get_by_test_id("savings-card").locator(".stat, .empty").first
        expect(savings).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("costs-total")).to_be_visible()
    elif name == "devices":
        expect(page.get_by_test_id("plug-1")).to_be_visible()
    elif name == "conflicts":
        listed = page.get_by_test_id("open-conflicts").locator(".empty, .conflict")
        expect(listed.first).to_be_visible()
    elif name == "tariffs":
        expect(page.get_by_test_id("month-cost-value")).to_be_visible()
