"""The widget and the site pages as axe-core judges them (WCAG 2.1 A and AA), in every state the
widget can show, and the keyboard staying inside the panel while it covers a phone's screen.

axe-core is vendored in tests/browser/vendor/ (see its README) and injected into each page before
the page's own scripts run; nothing is fetched from the network.
"""

from pathlib import Path

import pytest

from tests.assistant.helpers import add_articles
from tests.browser.conftest import MISSING
from tests.factories import StaffFactory, UserFactory
from tickets.models import Ticket

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Page, Route, expect

from tests.browser.test_widget import (
    assistant,
    launcher,
    log_in,
    log_in_to_admin,
    message_box,
    open_chat,
    panel,
    say,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# WCAG 2.1 A and AA, plus the best practices (one banner landmark, unique landmarks, …).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# Single characters (the unread count) are judged too: axe-core leaves them undecided by default.
# configure() replaces a check's options, so these are 4.14.1's defaults with ignoreLength turned on.
CONTRAST_OPTIONS = {
    "ignoreUnicode": True,
    "ignoreLength": True,
    "ignorePseudo": False,
    "boldValue": 700,
    "boldTextPt": 14,
    "largeTextPt": 18,
    "contrastRatio": {"normal": {"expected": 4.5}, "large": {"expected": 3}},
    "pseudoSizeThreshold": 0.25,
    "shadowOutlineEmMax": 0.2,
    "textStrokeEmMin": 0.03,
}
RUN_AXE = """async ([tags, contrast]) => {
    axe.configure({ checks: [{ id: "color-contrast", options: contrast }] });
    const results = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\\s+/g, " ")),
    }));
}"""


def accessible_page(new_page, **options) -> Page:
    page = new_page(**options)
    page.context.add_init_script(path=str(AXE))
    return page


def assert_accessible(page: Page, state: str) -> None:
    violations = page.evaluate(RUN_AXE, [AXE_TAGS, CONTRAST_OPTIONS])
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n" + "\n".join(f"    {node}" for node in v["nodes"])
        for v in violations
    )
    assert not violations, f"axe-core found violations with {state}:\n{report}"


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two computed colours ("rgb(r, g, b)")."""

    def luminance(colour: str) -> float:
        channels = [int(part) / 255 for part in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# axe-core does not judge non-text contrast (WCAG 1.4.11): a field's border against what is around it.
FIELD_EDGE = """field => {
    let around = field.parentElement;
    while (around && getComputedStyle(around).backgroundColor === "rgba(0, 0, 0, 0)") around = around.parentElement;
    const background = around ? getComputedStyle(around).backgroundColor : "rgb(255, 255, 255)";
    return [getComputedStyle(field).borderTopColor, background];
}"""


def assert_field_edges_show(page: Page, selector: str) -> None:
    for field in page.locator(selector).all():
        border, around = field.evaluate(FIELD_EDGE)
        ratio = contrast(border, around)
        assert ratio >= 3, f"{selector}: its border {border} on {around} is {ratio:.2f}:1, below 3:1"


def focused_inside(page: Page, selector: str) -> bool:
    return page.evaluate("sel => Boolean(document.activeElement && document.activeElement.closest(sel))", selector)


def test_axe_finds_nothing_in_any_state_of_the_widget(new_page, server):
    add_articles()
    customer = UserFactory()
    staff = StaffFactory()
    page = accessible_page(new_page)
    log_in(page, customer.email)
    expect(launcher(page)).to_be_visible()
    assert_accessible(page, "the chat button (panel closed)")

    chat = open_chat(page)
    expect(page.locator("#lw-log")).to_be_attached()
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "the open, empty panel")
    assert_field_edges_show(page, "#lw-input")

    held: list[Route] = []
    page.route("**/chat/conversations/*/messages/", lambda route: held.append(route))
    message_box(page).fill("how do I reset my password?")
    message_box(page).press("Enter")
    expect(page.locator("#lw-log .lw-pending")).to_have_count(1)
    assert_accessible(page, "a message still sending")
    for route in held:
        route.continue_()
    page.unroute("**/chat/conversations/*/messages/")
    expect(assistant(page)).to_have_count(1)
    assert_accessible(page, "an answer shown")

    say(page, "I want a refund for my annual plan")
    expect(chat.get_by_role("button", name="Yes, open a ticket")).to_be_visible()
    assert_accessible(page, "a ticket offered (Yes/No)")

    chat.get_by_role("button", name="Yes, open a ticket").click()
    expect(page.locator("#lw-ticket-card")).to_be_visible()
    ticket = Ticket.objects.get(customer=customer)
    chat.get_by_role("button", name="Close chat").click()

    admin = new_page()
    log_in_to_admin(admin, staff.email, f"/admin/tickets/ticket/{ticket.pk}/change/")
    admin.locator("textarea[name=reply]").fill("Hi, this is Sam from the Loophole team.")
    with admin.expect_navigation():
        admin.locator("input[name=_continue]").click()
    expect(page.locator("#lw-unread")).to_have_text("1")
    assert_accessible(page, "the unread badge on the chat button")

    open_chat(page)
    expect(page.locator("#lw-log .lw-msg-staff")).to_contain_text("Sam from the Loophole team")
    expect(page.locator("#lw-ticket-card")).to_contain_text("In Progress")
    assert_accessible(page, "the hand-off: ticket card, banner and a staff reply")

    chat.get_by_role("tab", name="My tickets").click()
    expect(chat.locator(".lw-ticket-item").filter(has_text=ticket.reference)).to_contain_text("Sam from the Loophole")
    assert_accessible(page, "the My tickets list")


def test_axe_finds_nothing_when_the_widget_shows_an_error(new_page, server):
    customer = UserFactory()
    page = accessible_page(new_page)
    log_in(page, customer.email)
    open_chat(page)
    page.evaluate("box => { box.removeAttribute('maxlength'); }", message_box(page).element_handle())
    message_box(page).fill("x" * 4001)
    message_box(page).press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("too long")
    assert_accessible(page, "an error shown in the panel")


def test_on_a_phone_the_open_panel_is_modal_and_accessible(new_page, server):
    add_articles()
    customer = UserFactory()
    page = accessible_page(new_page, width=390, height=844)
    log_in(page, customer.email)
    button = launcher(page)
    assert_accessible(page, "the chat button on a phone")
    button.focus()
    page.keyboard.press("Enter")
    expect(panel(page)).to_be_visible()
    expect(panel(page)).to_have_attribute("aria-modal", "true")
    expect(message_box(page)).to_be_focused()
    say(page, "how do I reset my password?")
    expect(assistant(page)).to_have_count(1)
    assert_accessible(page, "the open panel on a phone")

    focusable = page.evaluate(
        "() => document.querySelectorAll('a[href], button, input, textarea, select, [tabindex]').length"
    )
    for key in ("Tab", "Shift+Tab"):
        for step in range(focusable + 5):
            page.keyboard.press(key)
            assert focused_inside(page, "#lw-panel"), f"{key} #{step + 1} left the panel for the page behind it"

    page.keyboard.press("Escape")
    expect(panel(page)).to_be_hidden()
    expect(button).to_be_focused()
    page.keyboard.press("Tab")
    assert not focused_inside(page, "#lw-panel")

    page.set_viewport_size({"width": 1180, "height": 800})  # a rotated tablet: the panel floats beside the page
    open_chat(page)
    expect(panel(page)).not_to_have_attribute("aria-modal", "true")
    for _ in range(focusable):
        page.keyboard.press("Shift+Tab")
        if not focused_inside(page, "#lw-panel"):
            break
    else:
        pytest.fail("Shift+Tab never left the panel on a wide screen")


# Every rectangle of text on the page that the fixed chat button's rectangle overlaps.
TEXT_UNDER_LAUNCHER = """launcher => {
    const b = launcher.getBoundingClientRect();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const covered = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.textContent.trim() || node.parentElement.closest("#lw")) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        for (const r of range.getClientRects()) {
            if (r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top) {
                covered.push(node.textContent.trim().slice(0, 40));
            }
        }
    }
    return covered;
}"""


def test_on_a_phone_the_chat_button_covers_no_text_at_the_end_of_the_page(new_page, server):
    add_articles()
    customer = UserFactory()
    page = new_page(width=390, height=844)
    log_in(page, customer.email)
    for path in ("/", "/help/reset-password/"):
        page.goto(path)
        expect(launcher(page)).to_be_visible()
        page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        covered = launcher(page).evaluate(TEXT_UNDER_LAUNCHER)
        assert covered == [], f"the chat button covers {covered} on {path}"


@pytest.mark.parametrize("path", ["/", "/help/reset-password/", "/accounts/login/"], ids=["home", "article", "login"])
def test_axe_finds_nothing_on_the_site_pages(new_page, server, path):
    add_articles()
    page = accessible_page(new_page)
    assert page.goto(path).ok
    expect(page.locator("main")).to_be_visible()
    assert_accessible(page, f"the page {path}")
    assert_field_edges_show(page, "main input:not([type=hidden])")
    icon = page.locator("link[rel=icon]")
    expect(icon).to_have_attribute("type", "image/svg+xml")
    response = page.request.get(icon.evaluate("link => link.href"))
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    assert page.evaluate("() => fetch(document.querySelector('link[rel=icon]').href).then(r => r.ok)")  # CSP allows it
