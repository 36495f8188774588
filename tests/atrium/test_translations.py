"""English translations: compiled without GNU gettext, complete for every page people use."""

import ast
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils.translation import trans_real

from tests.conftest import BASE, host_of
from tests.web import Browser, text

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
# Everything the four surfaces render: their templates, views and forms, and the labels of the
# choices and refusals they show.
SURFACE_TEMPLATES = (
    "platform/atrium/templates",
    "platform/provider/templates",
    "apps/console/templates",
)
SURFACE_PYTHON = (
    "platform/atrium/web.py",
    "platform/provider/views.py",
    "platform/provider/forms.py",
    "apps/console",
    "apps/accounts/choices.py",
    "apps/members/choices.py",
    "apps/loyalty/choices.py",
    "apps/sales/choices.py",
    "apps/imports/choices.py",
    "apps/clearing/choices.py",
    "apps/reconciliation/choices.py",
    "apps/merchants/choices.py",
    "apps/settlement/choices.py",
    "apps/settlement/statement_choices.py",
    "apps/settlement/rendering.py",
    "tenants/choices.py",
    "tenants/middleware.py",
)

_TRANSLATE = re.compile(r"""\{%\s*(?:translate|trans)\s+(?:"([^"]*)"|'([^']*)')""")
_BLOCK = re.compile(
    r"\{%\s*blocktrans(?:late)?\b[^%]*%\}(.*?)\{%\s*endblocktrans(?:late)?\s*%\}", re.S
)
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_GETTEXT = {"_", "gettext", "gettext_lazy", "pgettext", "ngettext"}


def _template_msgids(source: str) -> set[str]:
    found = {m.group(1) or m.group(2) for m in _TRANSLATE.finditer(source)}
    for match in _BLOCK.finditer(source):
        singular = re.split(r"\{%\s*plural\s*%\}", match.group(1))[0]
        found.add(_VARIABLE.sub(lambda v: f"%({v.group(1)})s", singular))
    return found


def _python_msgids(source: str) -> set[str]:
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _GETTEXT
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def surface_msgids() -> set[str]:
    msgids: set[str] = set()
    for folder in SURFACE_TEMPLATES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".html", ".svg"}:
                msgids |= _template_msgids(path.read_text())
    for entry in SURFACE_PYTHON:
        target = ROOT / entry
        for path in [target] if target.is_file() else target.rglob("*.py"):
            msgids |= _python_msgids(path.read_text())
    return msgids


@pytest.fixture(scope="module")
def english(django_db_blocker):
    """The catalogue compiled now, and Django's translation cache reloaded from it."""
    call_command("compile_translations")
    trans_real._translations = {}
    trans_real._default = None
    yield
    trans_real._translations = {}
    trans_real._default = None


def test_every_string_of_the_pages_has_an_english_translation():
    catalogue = {entry.msgid: entry for entry in polib.pofile(str(CATALOGUE))}

    used = surface_msgids()
    untranslated = sorted(
        msgid
        for msgid in used
        if msgid not in catalogue
        or catalogue[msgid].fuzzy
        or not (catalogue[msgid].msgstr or all(catalogue[msgid].msgstr_plural.values()))
    )

    assert len(used) > 200  # the scan found the pages' strings at all
    assert untranslated == []


def test_compile_translations_writes_mo_files_without_gettext(tmp_path):
    target = tmp_path / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(CATALOGUE, target / "django.po")
    catalogue = polib.pofile(str(target / "django.po"))
    catalogue.append(polib.POEntry(msgid="模糊", msgstr="Fuzzy", flags=["fuzzy"]))
    catalogue.save()

    call_command("compile_translations", locale_dir=[str(tmp_path)])

    compiled = {entry.msgid: entry.msgstr for entry in polib.mofile(str(target / "django.mo"))}
    assert compiled["用户名或密码错误。"] == "Wrong username or password."
    assert "模糊" not in compiled


def test_compile_translations_fails_without_catalogues(tmp_path):
    with pytest.raises(CommandError, match=r"no \.po files"):
        call_command("compile_translations", locale_dir=[str(tmp_path)])


def test_the_console_speaks_english_when_asked(english, mall_a):
    browser = Browser(host_of("mall-a"))
    browser.use_language("en")

    body = text(browser.get("/console/login/"))

    assert '<html lang="en">' in body
    assert "Operator console · for mall staff" in body
    assert "Sign in" in body
    assert "登录" not in body


def test_the_language_switch_reaches_every_surface(english, mall_a, provider_admin):
    tenant = Browser(host_of("mall-a"))
    tenant.post("/i18n/setlang/", {"language": "en", "next": "/m/"})
    provider = Browser(BASE)
    provider.post("/i18n/setlang/", {"language": "en", "next": "/login/"})

    member = text(tenant.get("/m/"))
    merchant = text(tenant.get("/merchant/login/"))
    provider_login = text(provider.get("/login/"))

    assert "Tiers and benefits" in member
    assert "Points per ¥1 spent: 1<" in member
    assert "Merchant portal · for store managers and cashiers" in merchant
    assert "Atrium provider console" in provider_login


def test_a_refusal_speaks_the_visitors_language_not_the_previous_requests(english, mall_a):
    from tenants import services as tenant_services

    tenant_services.suspend_tenant(tenant=mall_a)
    english_visitor = Browser(host_of("mall-a"))
    english_visitor.use_language("en")
    assert "service is suspended. Please contact" in text(english_visitor.get("/console/"))

    # The same thread now serves a visitor with no language preference: Chinese.
    body = text(Browser(host_of("mall-a")).get("/console/"))

    assert "该商场的服务已暂停，请联系平台服务商。" in body
