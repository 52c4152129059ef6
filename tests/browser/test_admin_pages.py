"""The admin's pages in a real headless Chromium against the real `mcu run` process: log in, filter incidents,
open a card, answer, reassign, watch the dashboard's figures move, log out; screenshots of the main pages.

The tests of this module share one server and its database (see tests/browser/seed.py for the incidents):
each changes only incidents the others do not look at, and reads figures before and after its own change.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, OFFICER, PHONE, log_in, shoot

# The seeded incidents by number (tests/browser/seed.py, in that order).
POTHOLE, NO_WATER, SCHOOL_BUS, STREET_LIGHTS, GRADER, THANKS = range(1, 7)


def shown_numbers(page: Page) -> list[int]:
    """The incident numbers of the list's rows, top to bottom."""
    cells = page.locator("table.incidents tbody tr td:first-child").all_inner_texts()
    return [int(re.sub(r"\D", "", cell)) for cell in cells]


def expect_numbers(page: Page, numbers: set[int]) -> None:
    expect(page.get_by_text(re.compile(r"^Найдено: \d+"))).to_have_text(re.compile(rf"^Найдено: {len(numbers)}\b"))
    assert set(shown_numbers(page)) == numbers


def unreadable_buttons(page: Page) -> list[str]:
    """Visible buttons whose text has the colour of their background."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll("button")]
            .filter((b) => b.offsetParent !== null)
            .filter((b) => { const s = getComputedStyle(b); return s.color === s.backgroundColor; })
            .map((b) => b.textContent.trim())"""
    )
    return found


def figure(page: Page, name: str) -> int:
    """A figure of the dashboard (data-figure=NAME) as a number."""
    return int(re.sub(r"\D", "", page.locator(f"[data-figure={name}]").inner_text()))


def test_a_page_leads_to_login_a_wrong_password_is_refused_and_login_comes_back(page: Page) -> None:
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))
    expect(page.get_by_role("heading", name="Вход в МЦУ")).to_be_visible()
    shoot(page, "login")

    page.get_by_label("Логин").fill(ADMIN)
    page.get_by_label("Пароль").fill("не тот пароль")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_have_text("Неверный логин или пароль.")
    expect(page.get_by_label("Пароль")).to_have_value("")

    log_in(page, ADMIN, path="/dashboard")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name="Сводка", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()


def test_logout_ends_the_session(page: Page) -> None:
    log_in(page, ADMIN)
    expect(page).to_have_url(re.compile(r"/incidents$"))
    page.get_by_role("button", name="Выйти").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/incidents")
    expect(page).to_have_url(re.compile(r"/login\?next=/incidents$"))


def test_the_filter_form_narrows_the_list(page: Page) -> None:
    log_in(page, OFFICER)
    expect(page.get_by_role("heading", name="Инциденты")).to_be_visible()
    expect_numbers(page, {POTHOLE, NO_WATER, SCHOOL_BUS, STREET_LIGHTS, GRADER, THANKS})
    expect(page.locator("table.incidents")).to_contain_text("Яма на дороге у школы в Тросне")
    shoot(page, "incidents")

    # A select applies at once (the form submits itself on change).
    page.get_by_label("Блок").select_option(label="Дороги")
    expect(page).to_have_url(re.compile(r"[?&]sector=roads\b"))
    expect_numbers(page, {POTHOLE, GRADER})
    page.get_by_label("Населённый пункт").select_option(label="Ломовец")
    expect(page).to_have_url(re.compile(r"settlement="))
    expect_numbers(page, {GRADER})

    page.get_by_role("link", name="Сбросить").click()
    expect(page).to_have_url(re.compile(r"/incidents$"))
    page.get_by_label("Поиск").fill("водокачка")
    page.get_by_label("Поиск").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=%D0%B2"))
    expect_numbers(page, {NO_WATER})

    page.get_by_role("link", name="Сбросить").click()
    page.get_by_label("только просроченные").check()
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"[?&]overdue=1\b"))
    expect_numbers(page, {GRADER})
    expect(page.locator("table.incidents tbody tr").first).to_contain_text("просрочен")

    page.get_by_role("link", name="Сбросить").click()
    page.get_by_label("Статус").select_option(label="в работе")
    expect(page).to_have_url(re.compile(r"[?&]status=in_progress\b"))
    expect_numbers(page, {STREET_LIGHTS})


def test_answer_from_the_card(page: Page) -> None:
    log_in(page, OFFICER)
    page.get_by_role("link", name=f"№\u00a0{POTHOLE}", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/incidents/{POTHOLE}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Инцидент № {POTHOLE}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("назначен")
    expect(page.locator(".facts")).to_contain_text("Дороги")
    expect(page.locator(".facts")).to_contain_text("Тросна")
    expect(page.locator(".facts")).to_contain_text("Иван Петров")
    shoot(page, "incident")

    answer = "Яму засыплют щебнем до пятницы, дорожная служба предупреждена."
    page.get_by_label("Ответ жителю").fill(answer)
    page.get_by_role("button", name="Опубликовать как окончательный").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{POTHOLE}\?done=answer$"))
    expect(page.get_by_role("status")).to_contain_text("Окончательный ответ принят")
    expect(page.get_by_role("heading", level=1)).to_contain_text("дан ответ")
    expect(page.locator(".reply")).to_contain_text(answer)
    expect(page.locator(".timeline")).to_contain_text("подготовлен ответ: окончательный")
    shoot(page, "incident-answered")


def test_reassign_from_the_card(page: Page) -> None:
    log_in(page, OFFICER, path=f"/login?next=/incidents/{SCHOOL_BUS}")
    expect(page.locator(".facts")).to_contain_text("Образование")
    page.get_by_label("Передать в другой блок").select_option(label="Транспорт")
    page.get_by_role("button", name="Передать", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Инцидент передан в другой блок.")
    expect(page.locator(".facts")).to_contain_text("Транспорт")
    expect(page.locator(".facts")).not_to_contain_text("Образование")
    expect(page.locator(".timeline")).to_contain_text("передано в другой блок: Образование → Транспорт")

    page.goto("/incidents?sector=transport")
    expect_numbers(page, {SCHOOL_BUS})


def test_the_dashboard_figures_follow_an_action(page: Page) -> None:
    log_in(page, OFFICER, path="/login?next=/dashboard")
    in_work, overdue = figure(page, "in-work"), figure(page, "overdue")
    assert overdue >= 1
    shoot(page, "dashboard")

    # The figure leads to its incidents.
    page.locator("a.kpi", has=page.locator("[data-figure=overdue]")).click()
    expect(page).to_have_url(re.compile(r"/incidents\?.*overdue=1"))
    expect_numbers(page, {GRADER})

    page.get_by_role("link", name=f"№\u00a0{GRADER}", exact=True).click()
    page.get_by_label("Ответ жителю").fill("Грейдер выйдет на дорогу на Ломовец завтра утром.")
    page.get_by_role("button", name="Опубликовать как окончательный").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("дан ответ")

    page.get_by_role("link", name="Сводка").click()
    expect(page.locator("[data-figure=in-work]")).to_have_text(str(in_work - 1))
    expect(page.locator("[data-figure=overdue]")).to_have_text(str(overdue - 1))


def test_the_directory_and_the_admins_pages_open(page: Page) -> None:
    log_in(page, ADMIN, path="/login?next=/directory")
    expect(page).to_have_url(re.compile(r"/directory$"))
    expect(page.get_by_role("heading", name="Справочник", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Жилищно-коммунальное хозяйство")
    shoot(page, "directory")
    for path, name in (("/deadlines", "deadlines"), ("/users", "users"), ("/audit", "audit")):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shoot(page, name)


def test_every_button_is_readable(page: Page) -> None:
    """No button's text has the colour of its background, on the pages with the most buttons."""
    log_in(page, OFFICER)
    unreadable = {}
    for path in ("/incidents", f"/incidents/{NO_WATER}", "/dashboard", "/directory"):
        page.goto(path)
        if found := unreadable_buttons(page):
            unreadable[path] = found
    assert not unreadable, f"кнопки, чей текст цвета их фона: {unreadable}"


def test_the_incident_list_fits_a_phone(page: Page) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, OFFICER)
    expect(page.locator("table.incidents")).to_be_visible()
    shoot(page, "incidents-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"
