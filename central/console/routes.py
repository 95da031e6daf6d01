"""The fleet console's routes: the sign-in page, the fleet page (one HTML page whose script
polls ``/console/api/fleet`` every few seconds and redraws: live without a reload), and the
JSON API the page calls. Every route but the sign-in page and the static files needs a
session; every route that changes something needs the session's CSRF token and a role."""

from __future__ import annotations

import html
import json
import logging
import re
import secrets
import time
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from central.console import auth, texts, views
from central.console.auth import Admin, AnyChanging, Operator, Viewer
from central.guard import Access, Policy
from central.store import CentralStore, Refused
from central.store.fleet import ACTIONS

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
KIOSK_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
LANG_COOKIE = "console_lang"
FORM = "application/x-www-form-urlencoded"
HEADERS = {
    # Scripts and styles from the console's own files only; never framed.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_PAGE = Policy(Access.CONSOLE, max_body=0, body_type=None)
_JSON = Policy(Access.CONSOLE, max_body=4096)
CONSOLE_POLICIES: dict[tuple[str, str], Policy] = {
    ("GET", "/console"): _PAGE,
    ("GET", "/console/login"): _PAGE,
    ("POST", "/console/login"): Policy(Access.CONSOLE, max_body=4096, body_type=FORM),
    ("POST", "/console/logout"): Policy(Access.CONSOLE, max_body=0, body_type=None),
    ("GET", "/console/fleet"): _PAGE,
    ("GET", "/console/static/{name}"): _PAGE,
    ("GET", "/console/api/fleet"): _PAGE,
    ("GET", "/console/api/alerts"): _PAGE,
    ("GET", "/console/api/audit"): _PAGE,
    ("POST", "/console/api/alerts/{alert_id}/ack"): _JSON,
    ("POST", "/console/api/kiosks/{kiosk_id}/commands"): _JSON,
    ("POST", "/console/api/kiosks/{kiosk_id}/replenished"): _JSON,
    ("PUT", "/console/api/settings"): _JSON,
}


def store_of(request: Request) -> CentralStore:
    store: CentralStore = request.scope["state"]["store"]
    return store


Store = Annotated[CentralStore, Depends(store_of)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AckRequest(_Body):
    note: str = Field(min_length=1, max_length=500)


class CommandRequest(_Body):
    action: Literal["out_of_service", "in_service", "send_now", "test_print"]


class ReplenishedRequest(_Body):
    consumable: Literal["paper", "bin"]


class SettingsRequest(_Body):
    lead_h: float = Field(ge=1, le=168, allow_inf_nan=False)


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    return texts.language(asked or request.cookies.get(LANG_COOKIE))


def _page(body: str, lang: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _render(name: str, lang: str, **values: str) -> str:
    template = Template((HERE / "templates" / name).read_text(encoding="utf-8"))
    labels = texts.LABELS[lang]
    escaped = {f"t_{k}": html.escape(v) for k, v in labels.items()}
    return template.substitute(escaped, lang=lang, **values)


def add_console(api: FastAPI) -> None:
    """The console's routes on the gateway's application. Added to it directly rather than
    through an included ``APIRouter``: the guard finds each request's policy among the
    application's own routes."""
    _pages(api)
    _api(api)


def _pages(api: FastAPI) -> None:
    @api.get("/console", tags=["console"], response_class=HTMLResponse)
    def home(request: Request) -> Response:
        return RedirectResponse("/console/fleet", status_code=303, headers=HEADERS)

    @api.get("/console/login", tags=["console"], response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return _login(request, _lang(request), "")

    @api.post("/console/login", tags=["console"], response_class=HTMLResponse)
    def login(request: Request, store: Store) -> Response:
        lang = _lang(request)
        if not auth.transport_ok(request):
            return _login(request, lang, texts.LABELS[lang]["https_only"], status=403)
        form = parse_qs(request.scope["state"]["body"].decode("utf-8", "replace"))
        sent = form.get("csrf", [""])[0]
        cookie = request.cookies.get(auth.LOGIN_COOKIE, "")
        if not cookie or not secrets.compare_digest(sent.encode(), cookie.encode()):
            return _login(request, lang, texts.LABELS[lang]["bad_login"], status=403)
        username = form.get("username", [""])[0].strip()
        password = form.get("password", [""])[0]
        now = time.time()
        result = auth.sign_in(store, username, password[:1024], now)
        if not result.token:
            key = "locked" if result.locked_until > now else "bad_login"
            return _login(request, lang, texts.LABELS[lang][key], status=401)
        response = RedirectResponse("/console/fleet", status_code=303, headers=HEADERS)
        response.set_cookie(
            auth.SESSION_COOKIE,
            result.token,
            max_age=int(auth.MAX_AGE_S),
            path="/console",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        response.delete_cookie(auth.LOGIN_COOKIE, path="/console")
        return response

    @api.post("/console/logout", tags=["console"])
    def logout(request: Request, store: Store, staff: AnyChanging) -> Response:
        store.fleet.close_session(staff.token_hash, staff.username)
        response = JSONResponse({"ok": True}, headers=HEADERS)
        response.delete_cookie(auth.SESSION_COOKIE, path="/console")
        return response

    @api.get("/console/fleet", tags=["console"], response_class=HTMLResponse)
    def fleet_page(request: Request) -> Response:
        lang = _lang(request)
        staff = auth.current_staff(request)
        if staff is None:
            return RedirectResponse("/console/login", status_code=303, headers=HEADERS)
        labels = json.dumps(texts.LABELS[lang], ensure_ascii=False).replace("<", "\\u003c")
        body = _render(
            "fleet.html",
            lang,
            csrf=html.escape(staff.csrf),
            username=html.escape(staff.username),
            role=html.escape(staff.role),
            labels=labels,
            other="en" if lang == "zh" else "zh",
            lead_h=f"{views.lead_hours(store_of(request)):g}",
        )
        response = _page(body, lang)
        response.set_cookie(LANG_COOKIE, lang, path="/console", samesite="strict")
        return response

    @api.get("/console/static/{name}", tags=["console"])
    def static(name: str) -> Response:
        media = STATIC.get(name)
        if media is None:
            raise Refused(404, "no such file")
        data = (HERE / "static" / name).read_bytes()
        return Response(data, media_type=media, headers={"Cache-Control": "no-cache"})


def _login(request: Request, lang: str, message: str, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    body = _render(
        "login.html",
        lang,
        csrf=token,
        message=html.escape(message),
        message_class="error" if message else "hidden",
        other="en" if lang == "zh" else "zh",
    )
    response = _page(body, lang, status)
    response.set_cookie(
        auth.LOGIN_COOKIE,
        token,
        max_age=1800,
        path="/console",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(LANG_COOKIE, lang, path="/console", samesite="strict")
    return response


def _kiosk(kiosk_id: str, store: CentralStore) -> str:
    if not KIOSK_ID.match(kiosk_id) or kiosk_id not in store.fleet.kiosks():
        raise Refused(404, "no such machine")
    return kiosk_id


def _api(api: FastAPI) -> None:
    @api.get("/console/api/fleet", tags=["console"])
    def fleet(request: Request, store: Store, staff: Viewer) -> Any:
        data = views.fleet(store, _lang(request))
        data["me"] = {"username": staff.username, "role": staff.role}
        return JSONResponse(data, headers={"Cache-Control": "no-store"})

    @api.get("/console/api/alerts", tags=["console"])
    def alert_history(request: Request, store: Store, staff: Viewer) -> Any:
        return views.alerts(store, _lang(request), open_only=False)

    @api.get("/console/api/audit", tags=["console"])
    def audit(store: Store, staff: Viewer) -> Any:
        return store.fleet.audit_log()

    @api.post("/console/api/alerts/{alert_id}/ack", tags=["console"])
    def acknowledge(alert_id: int, body: AckRequest, store: Store, staff: Operator) -> Any:
        if not store.fleet.acknowledge(alert_id, staff.username, body.note.strip()):
            raise Refused(409, "no such alert, or acknowledged already")
        return {"ok": True}

    @api.post("/console/api/kiosks/{kiosk_id}/commands", tags=["console"], status_code=201)
    def command(kiosk_id: str, body: CommandRequest, store: Store, staff: Operator) -> Any:
        assert body.action in ACTIONS
        command_id = store.fleet.request_command(
            _kiosk(kiosk_id, store), body.action, staff.username
        )
        log.info("console: %s asked %s to %s", staff.username, kiosk_id, body.action)
        return {"id": command_id, "state": "waiting"}

    @api.post("/console/api/kiosks/{kiosk_id}/replenished", tags=["console"])
    def replenished(kiosk_id: str, body: ReplenishedRequest, store: Store, staff: Operator) -> Any:
        if not store.fleet.replenished(_kiosk(kiosk_id, store), body.consumable, staff.username):
            raise Refused(409, "the machine has reported no usage yet")
        return {"ok": True}

    @api.put("/console/api/settings", tags=["console"])
    def settings(body: SettingsRequest, store: Store, staff: Admin) -> Any:
        store.fleet.set_setting(views.LEAD_H, f"{body.lead_h:g}", staff.username)
        return {"lead_h": body.lead_h}
