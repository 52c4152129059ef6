"""The directory and deadlines pages and their API over HTTP: who may see and change what, CSRF, the audit trail,
invites, sources' tokens, settlements that change recognition, and the auto-rules with their «Проверить» box."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.directory import link_staff, watch_chat
from handlers.incidents import ingest_message
from handlers.users import create_user
from storage.models import AuditEntry, AutoRule, Sector, SourceKind, Staff
from tests.admin.conftest import PASSWORD, login
from tests.admin.test_pages import form_token, log_in_page
from tests.conftest import Clock
from tests.factories import citizen


async def users(session: AsyncSession) -> None:
    await create_user(session, login="admin", password=PASSWORD, role="admin")
    await create_user(session, login="volkova", password=PASSWORD, role="curator", staff_id=1)
    await create_user(session, login="surkova", password=PASSWORD, role="officer", staff_id=3)
    await create_user(session, login="erokhina", password=PASSWORD, role="sector_head", staff_id=5)


async def audit_actions(session: AsyncSession) -> list[str]:
    session.expire_all()
    return list(await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))))


async def page_login(client: httpx.AsyncClient, name: str) -> str:
    """Log in through the form; returns the CSRF token the pages carry."""
    assert (await log_in_page(client, name, PASSWORD)).status_code == 303
    return form_token((await client.get("/directory")).text)


async def test_roles_officer_reads_sector_head_is_refused(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await users(session)
    officer = await login(client, "surkova")
    for tab in ("sectors", "staff", "sources", "settlements", "rules"):
        page = await client.get(f"/directory?tab={tab}", headers=officer)
        assert page.status_code == 200, tab
        assert "Только просмотр" in page.text
    assert "Ерохина" in (await client.get("/directory?tab=staff", headers=officer)).text
    assert (await client.get("/api/directory/staff", headers=officer)).status_code == 200
    change = {"head_id": 3, "chat_id": None}
    assert (await client.put("/api/directory/sectors/roads", json=change, headers=officer)).status_code == 403
    assert (await client.post("/directory/sectors/roads", data={"head_id": "3"}, headers=officer)).status_code == 403
    assert (await client.get("/deadlines", headers=officer)).status_code == 403

    head = await login(client, "erokhina")
    for path in ("/directory", "/deadlines", "/users", "/audit"):
        refused = await client.get(path, headers=head)
        assert refused.status_code == 403 and "закрыта" in refused.text and 'lang="ru"' in refused.text, path
    assert (await client.get("/api/directory/sectors", headers=head)).status_code == 403
    assert (await client.get("/api/directory/sectors", headers=await login(client, "volkova"))).status_code == 200
    assert await audit_actions(session) == []


async def test_sector_head_and_chat_change_by_form_with_csrf_and_audit(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await users(session)
    csrf = await page_login(client, "volkova")
    forged = await client.post("/directory/sectors/roads", data={"head_id": "6", "csrf_token": "forged"})
    assert forged.status_code == 403
    done = await client.post(
        "/directory/sectors/roads", data={"head_id": "6", "chat_id": "-100500", "csrf_token": csrf}
    )
    assert done.status_code == 303 and done.headers["location"] == "/directory?tab=sectors&done=sector"
    assert "Блок сохранён" in (await client.get(done.headers["location"])).text
    session.expire_all()
    roads = await session.get(Sector, "roads")
    assert roads is not None and (roads.head_id, roads.chat_id) == (6, -100500)

    wrong = await client.post("/directory/sectors/roads", data={"head_id": "99", "csrf_token": csrf})
    assert wrong.status_code == 422 and "Сотрудник с номером 99 не найден" in wrong.text
    bad = await client.post("/directory/sectors/roads", data={"chat_id": "чат", "csrf_token": csrf})
    assert bad.status_code == 422 and "нужно целое число" in bad.text
    entries = (await session.exec(select(AuditEntry))).all()
    assert [(e.action, e.target, e.login, e.data) for e in entries] == [
        ("sector_changed", "sector:roads", "volkova", {"head_id": 6, "chat_id": -100500})
    ]


async def test_staff_added_invited_linked_and_deactivated(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await users(session)
    csrf = await page_login(client, "volkova")
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "")
    no_bot = await client.post("/directory/staff/3/invite", data={"csrf_token": csrf})
    assert no_bot.status_code == 422 and "TELEGRAM_BOT_USERNAME" in no_bot.text

    added = await client.post(
        "/directory/staff",
        data={"full_name": "Петров Пётр Петрович", "position": "специалист", "roles": ["officer"], "csrf_token": csrf},
    )
    assert added.status_code == 303
    person = (await session.exec(select(Staff).where(Staff.full_name == "Петров Пётр Петрович"))).one()
    assert person.roles == ["officer"] and person.active
    no_roles = await client.post("/directory/staff", data={"full_name": "Без ролей", "csrf_token": csrf})
    assert no_roles.status_code == 422 and "хотя бы одну роль" in no_roles.text

    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@mcu_test_bot")
    page = await client.post(f"/directory/staff/{person.id}/invite", data={"csrf_token": csrf})
    assert page.status_code == 200
    found = re.search(r"https://t\.me/mcu_test_bot\?start=([\w-]+)", page.text)
    assert found is not None
    staff_page = (await client.get("/directory?tab=staff")).text
    assert found.group(1) not in staff_page and "ссылка действует до" in staff_page
    assert person.id is not None
    await link_staff(session, token=found.group(1), telegram_id=777, username="petrov", now=clock())
    assert "@petrov" in (await client.get("/directory?tab=staff")).text
    api = (await client.get("/api/directory/staff")).json()
    assert next(s for s in api if s["id"] == person.id)["linked"] is True

    head = await client.post("/directory/staff/5/active", data={"csrf_token": csrf})
    assert head.status_code == 422 and "другого руководителя блока «Образование»" in head.text
    gone = await client.post(f"/directory/staff/{person.id}/active", data={"csrf_token": csrf})
    assert gone.status_code == 303
    pid = person.id
    session.expire_all()
    assert (await session.get(Staff, pid)).active is False  # type: ignore[union-attr]
    assert await audit_actions(session) == ["staff_created", "staff_invited", "staff_deactivated"]


async def test_sources_show_token_state_never_the_token_and_toggle(
    session: AsyncSession, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await users(session)
    group = await watch_chat(session, staff=None, chat_id=-2001, kind=SourceKind.TG_GROUP, title="Тросна онлайн")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:secret-token-value")
    monkeypatch.setenv("VK_USER_TOKEN", "")
    admin = await login(client, "admin")
    sources = (await client.get("/api/directory/sources", headers=admin)).json()
    assert [(s["title"], s["token_name"], s["token_configured"]) for s in sources] == [
        ("Тросна онлайн", "TELEGRAM_BOT_TOKEN", True)
    ]
    page = await client.get("/directory?tab=sources", headers=admin)
    assert "TELEGRAM_BOT_TOKEN задан" in page.text and "secret-token-value" not in page.text
    assert "secret-token-value" not in str(sources)

    changed = await client.patch(f"/api/directory/sources/{group.source.id}", json={"ack": True}, headers=admin)
    assert changed.status_code == 200 and changed.json()["ack"] is True and changed.json()["active"] is True
    off = await client.patch(f"/api/directory/sources/{group.source.id}", json={"active": False}, headers=admin)
    assert off.json()["active"] is False and off.json()["ack"] is True
    assert await audit_actions(session) == ["source_changed", "source_changed"]


async def test_settlement_edits_change_recognition_of_new_incidents(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await users(session)
    admin = await login(client, "admin")
    listed = (await client.get("/api/directory/settlements", headers=admin)).json()
    assert len(listed) >= 14 and {"Тросна", "Жерновец"} <= {s["name"] for s in listed}

    new = {"name": "Кукуевка", "kind": "деревня", "rural_settlement": "Троснянское сельское поселение"}
    far = await client.post("/api/directory/settlements", json={**new, "lat": 55.75, "lon": 37.6}, headers=admin)
    assert far.status_code == 422 and "Координаты вне района" in far.json()["detail"]
    twin = await client.post(
        "/api/directory/settlements", json={**new, "name": "тросна", "lat": 52.4, "lon": 35.8}, headers=admin
    )
    assert twin.status_code == 422 and "«Тросна»" in twin.json()["detail"]
    made = await client.post("/api/directory/settlements", json={**new, "lat": 52.41, "lon": 35.71}, headers=admin)
    assert made.status_code == 201

    first = await ingest_message(session, message=citizen("В Кукуевке нет света", at=clock(), user=601), now=clock())
    assert first.incident is not None and first.incident.settlement == "Кукуевка"

    csrf = await page_login(client, "volkova")
    sid = made.json()["id"]
    form = {
        "name": "Кукуевка",
        "kind": "деревня",
        "lat": "52,41",
        "lon": "35,71",
        "aliases": "Кукуи",
        "csrf_token": csrf,
    }
    saved = await client.post(f"/directory/settlements/{sid}", data=form)  # no «active» box: switched off
    assert saved.status_code == 303
    second = await ingest_message(session, message=citizen("В Кукуевке нет воды", at=clock(), user=602), now=clock())
    assert second.incident is not None and second.incident.settlement is None
    detect = await client.get("/api/directory/settlements/detect", params={"text": "в Жерновце яма"}, headers=admin)
    assert detect.json() == {"settlement": "Жерновец"}
    assert await audit_actions(session) == ["settlement_created", "settlement_changed"]


async def test_rules_are_tested_added_moved_and_disabled(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await users(session)
    api = (
        await client.post(
            "/api/directory/rules/test",
            json={"keywords": "колонк", "pattern": None, "text": "Вывоз ТКО не производится третью неделю"},
            headers=await login(client, "surkova"),
        )
    ).json()
    assert api["matches"] is False  # the draft does not match…
    assert api["routing"]["classified_by"] == "rule" and api["routing"]["sector_code"] == "waste"  # …a saved rule does
    waste = (await session.exec(select(AutoRule).where(AutoRule.sector_code == "waste"))).first()
    assert waste is not None and waste.hits == 0  # a test counts no hit

    csrf = await page_login(client, "volkova")
    rule = {"name": "Колонки", "keywords": "колонк\nводоразборн", "sector_code": "zhkh", "csrf_token": csrf}

    checked = await client.post("/directory/rules/test", data={**rule, "sample": "Сломалась колонка на Садовой"})
    assert checked.status_code == 200 and "Правило сработает на этом тексте" in checked.text
    assert "Маршрутизация сейчас" in checked.text and "колонк" in checked.text  # the form keeps what was typed
    missed = await client.post("/directory/rules/test", data={**rule, "sample": "Яма на дороге"})
    assert "Правило на этом тексте не сработает" in missed.text
    broken = await client.post("/directory/rules/test", data={**rule, "pattern": "(", "sample": "текст"})
    assert broken.status_code == 422 and "Регулярное выражение не разбирается" in broken.text

    assert (await client.post("/directory/rules", data={**rule, "sector_code": ""})).status_code == 422
    added = await client.post("/directory/rules", data=rule)
    assert added.status_code == 303
    rules = (await client.get("/api/directory/rules")).json()
    assert rules[-1]["name"] == "Колонки" and rules[-1]["keywords"] == "колонк\nводоразборн"
    new_id, before = rules[-1]["id"], rules[-2]["id"]
    edit = await client.get(f"/directory?tab=rules&edit={new_id}")
    assert "Правило «Колонки»" in edit.text

    assert (
        await client.post(f"/directory/rules/{new_id}/move", data={"direction": "up", "csrf_token": csrf})
    ).is_redirect
    order = [r["id"] for r in (await client.get("/api/directory/rules")).json()]
    assert order.index(new_id) == order.index(before) - 1
    assert (await client.post(f"/directory/rules/{new_id}/active", data={"csrf_token": csrf})).is_redirect
    session.expire_all()
    assert (await session.get(AutoRule, new_id)).active is False  # type: ignore[union-attr]
    assert await audit_actions(session) == ["rule_created", "rule_moved", "rule_disabled"]


async def test_deadlines_page_edits_policies_hours_and_calendar(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await users(session)
    csrf = await page_login(client, "volkova")
    page = await client.get("/deadlines")
    assert page.status_code == 200 and "Политики сроков" in page.text and "50%, 2h, 0" in page.text
    policies = (await client.get("/api/deadlines/policies")).json()
    social = next(p for p in policies if p["track"] == "social")
    form = {
        "track": "social",
        "reaction_hours": "4,5",
        "reaction_working": "true",
        "answer_hours": "56",
        "answer_working": "true",
        "csrf_token": csrf,
    }
    assert (await client.post(f"/deadlines/policies/{social['id']}", data=form)).status_code == 303
    policies = (await client.get("/api/deadlines/policies")).json()
    assert next(p for p in policies if p["id"] == social["id"])["reaction_minutes"] == 270
    no_answer = await client.post(f"/deadlines/policies/{social['id']}", data={**form, "answer_hours": ""})
    assert no_answer.status_code == 422 and "Срок ответа" in no_answer.text

    hours = {"tz": "Europe/Moscow", "start": "08:00", "end": "17:00", "lunch_start": "12:00", "lunch_end": "13:00"}
    wrong = await client.post("/deadlines/settings", data={**hours, "reminder_points": "скоро", "digest_time": "09:00"})
    assert wrong.status_code == 403  # no CSRF token
    wrong = await client.post(
        "/deadlines/settings", data={**hours, "reminder_points": "скоро", "digest_time": "09:00", "csrf_token": csrf}
    )
    assert wrong.status_code == 422 and "точку напоминания" in wrong.text
    good = {**hours, "reminder_points": "50%, 1h", "digest_time": "08:30", "csrf_token": csrf}
    assert (await client.post("/deadlines/settings", data=good)).status_code == 303
    assert "50%, 1h" in (await client.get("/deadlines")).text

    day = {"day": "2026-12-30", "working": "true", "start": "09:00", "end": "16:00", "note": "предпраздничный"}
    assert (await client.post("/deadlines/days", data={**day, "csrf_token": csrf})).status_code == 303
    assert "30.12.2026" in (await client.get("/deadlines")).text
    assert (await client.post("/deadlines/days/2026-12-30/delete", data={"csrf_token": csrf})).status_code == 303
    assert await audit_actions(session) == [
        "policy_changed",
        "deadline_settings_changed",
        "calendar_day_set",
        "calendar_day_removed",
    ]
