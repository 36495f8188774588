"""The member app at /m/: joining with a phone and an SMS code, the home with the member code,
points, check-in, history, receipts, profile and consents, and its refusals."""

import re

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.loyalty.models import JournalEntry
from apps.loyalty.services import adjust_points
from apps.members.auth import authenticate_member_token
from apps.members.models import Member, MemberConsent
from apps.members.services import join_member, resolve_member_code
from apps.sales.models import Receipt
from apps.sales.services import PaymentLine, record_sale
from atrium.models import AuthSession
from integrations.sms.client import memory_outbox
from tests.conftest import host_of
from tests.web import Browser, text

PHONE = "13800138000"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    memory_outbox.clear()
    yield
    memory_outbox.clear()


def last_code(phone=PHONE):
    return memory_outbox.to(phone)[-1].params["code"]


def in_schema(mall, fn):
    with tenant_context(mall):
        result = fn()
    connection.set_schema_to_public()
    return result


def join(browser, phone=PHONE, *, marketing=True, path="/m/join/"):
    data = {"action": "send", "phone": phone, "agree": "on"}
    if marketing:
        data["marketing"] = "on"
    sent = browser.post(path, data)
    assert (sent.status_code, sent["Location"]) == (302, path), text(sent)
    return browser.post(path, {"action": "verify", "otp": last_code(phone)})


@pytest.fixture
def member_browser(mall_a):
    browser = Browser(host_of("mall-a"))
    response = join(browser)
    assert (response.status_code, response["Location"]) == (302, "/m/home/")
    return browser


def the_member(mall):
    return in_schema(mall, lambda: Member.objects.get(identities__kind="phone"))


# --- joining and signing in ------------------------------------------------------------------


def test_a_shopper_joins_with_phone_code_and_consents(mall_a):
    browser = Browser(host_of("mall-a"))

    form = text(browser.get("/m/join/"))
    sent = browser.post("/m/join/", {"action": "send", "phone": "138 0013 8000", "agree": "on"})
    code_step = text(browser.get("/m/join/"))
    joined = browser.post("/m/join/", {"action": "verify", "otp": last_code()})

    assert 'name="phone"' in form
    assert 'name="marketing"' in form
    assert sent.status_code == 302
    assert '验证码已发送至 <strong class="num">138****8000</strong>' in code_step
    assert (joined.status_code, joined["Location"]) == (302, "/m/home/")
    member = the_member(mall_a)
    consents = in_schema(
        mall_a,
        lambda: sorted(
            MemberConsent.objects.filter(member=member).values_list("kind", "granted", "source")
        ),
    )
    assert consents == [("data_processing", True, "app"), ("marketing", False, "app")]
    assert member.registration_channel == "app"


def test_joining_needs_the_agreement_and_sends_nothing_without_it(mall_a):
    browser = Browser(host_of("mall-a"))

    response = browser.post("/m/join/", {"action": "send", "phone": PHONE})

    assert response.status_code == 400
    assert "请先阅读并同意会员服务协议和个人信息处理规则。" in text(response)
    assert memory_outbox.to(PHONE) == []


def test_a_bad_phone_is_refused_before_any_text(mall_a):
    browser = Browser(host_of("mall-a"))

    response = browser.post("/m/join/", {"action": "send", "phone": "12345", "agree": "on"})

    assert response.status_code == 400
    assert "请输入有效的 11 位中国大陆手机号。" in text(response)
    assert memory_outbox.messages == []


def test_a_wrong_code_is_refused_and_signs_nobody_in(mall_a):
    browser = Browser(host_of("mall-a"))
    browser.post("/m/login/", {"action": "send", "phone": PHONE, "agree": "on"})
    wrong = "000000" if last_code() != "000000" else "111111"

    response = browser.post("/m/login/", {"action": "verify", "otp": wrong})

    assert response.status_code == 400
    assert "验证码不正确，请重新输入。" in text(response)
    assert browser.get("/m/home/").status_code == 302
    assert in_schema(mall_a, lambda: Member.objects.count()) == 0


def test_an_existing_member_signs_in_and_keeps_their_marketing_choice(mall_a):
    in_schema(
        mall_a,
        lambda: join_member(
            channel="till", phone=PHONE, consents={"marketing": True}, consent_source="till"
        ),
    )
    browser = Browser(host_of("mall-a"))

    response = join(browser, path="/m/login/", marketing=False)

    assert (response.status_code, response["Location"]) == (302, "/m/home/")
    assert "欢迎回来。" in text(browser.get("/m/home/"))
    member = the_member(mall_a)
    assert in_schema(mall_a, lambda: Member.objects.count()) == 1
    latest = in_schema(
        mall_a, lambda: MemberConsent.objects.filter(member=member, kind="marketing").first()
    )
    assert latest.granted is True


def test_the_landing_offers_join_and_login_and_sends_members_home(member_browser, mall_a):
    anonymous = text(Browser(host_of("mall-a")).get("/m/"))

    assert 'href="/m/join/"' in anonymous
    assert 'href="/m/login/"' in anonymous
    assert member_browser.get("/m/")["Location"] == "/m/home/"


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/m/home/", "/m/points/", "/m/receipts/", "/m/profile/"])
def test_member_pages_without_a_session_go_to_sign_in(mall_a, path):
    response = Browser(host_of("mall-a")).get(path)

    assert (response.status_code, response["Location"]) == (302, f"/m/login/?next={path}")


@pytest.mark.parametrize("path", ["/m/code.json", "/m/token.json", "/m/summary.json"])
def test_member_json_without_a_session_is_401(mall_a, path):
    response = Browser(host_of("mall-a")).get(path)

    assert (response.status_code, response.json()) == (401, {"code": "auth.required"})


def test_a_check_in_without_a_session_awards_nothing(mall_a):
    response = Browser(host_of("mall-a")).post("/m/check-in/")

    assert response.status_code == 302
    assert in_schema(mall_a, lambda: JournalEntry.objects.count()) == 0


def test_a_member_session_of_mall_a_is_signed_out_on_mall_b(member_browser, mall_a, mall_b):
    on_b = Browser(host_of("mall-b"))
    on_b.client.cookies["sessionid"] = member_browser.session_cookie

    assert on_b.get("/m/home/")["Location"] == "/m/login/?next=/m/home/"
    assert on_b.get("/m/code.json").status_code == 401
    assert member_browser.get("/m/home/").status_code == 200


def test_a_revoked_api_session_signs_the_page_out(member_browser, mall_a):
    member = the_member(mall_a)
    in_schema(
        mall_a,
        lambda: AuthSession.objects.filter(subject_id=str(member.pk)).update(
            revoked_at=timezone.now()
        ),
    )

    assert member_browser.get("/m/home/").status_code == 302


def test_logout_ends_the_page_and_its_api_session(member_browser, mall_a):
    member = the_member(mall_a)

    response = member_browser.post("/m/logout/")

    assert response["Location"] == "/m/"
    assert member_browser.get("/m/home/").status_code == 302
    live = in_schema(
        mall_a,
        lambda: AuthSession.objects.filter(
            subject_id=str(member.pk), revoked_at__isnull=True
        ).count(),
    )
    assert live == 0


# --- home, code, token ------------------------------------------------------------------------


def test_home_shows_the_member_code_as_qr_and_barcode_and_the_points(member_browser, mall_a):
    member = the_member(mall_a)
    in_schema(
        mall_a,
        lambda: adjust_points(
            member=member, points=120, reason="welcome", idempotency_key="w-1", actor="t"
        ),
    )

    body = text(member_browser.get("/m/home/"))

    code = re.search(r'data-testid="member-code" data-code-digits>(\d{18})<', body).group(1)
    assert in_schema(mall_a, lambda: resolve_member_code(code, consume=False)).pk == member.pk
    assert '<svg role="img" aria-label="会员码" viewBox=' in body
    assert '<svg class="barcode" role="img" aria-label="会员码"' in body
    assert re.search(r'data-testid="points-balance" data-field="balance">120<', body)
    assert re.search(r'data-testid="points-spendable">120<', body)
    assert re.search(r'data-testid="member-tier">普卡<', body)
    assert "再获得 2000 成长值即可升级为银卡。" in body
    assert member.member_no in body


def test_code_json_gives_a_code_a_till_accepts_and_when_to_ask_again(member_browser, mall_a):
    member = the_member(mall_a)

    data = member_browser.get("/m/code.json").json()

    assert 1 <= data["expires_in"] <= 60
    assert data["qr"].startswith('<svg role="img"')
    assert data["barcode"].startswith('<svg class="barcode"')
    assert in_schema(mall_a, lambda: resolve_member_code(data["code"])).pk == member.pk


def test_the_page_hands_out_short_lived_tokens_of_its_own_session(member_browser, mall_a):
    member = the_member(mall_a)

    first = member_browser.get("/m/token.json").json()["access_token"]
    second = member_browser.get("/m/token.json").json()["access_token"]

    principals = [
        in_schema(mall_a, lambda t=t: authenticate_member_token(t)) for t in (first, second)
    ]
    assert [p.member.pk for p in principals] == [member.pk, member.pk]
    assert principals[0].session.pk == principals[1].session.pk
    sessions = in_schema(
        mall_a, lambda: AuthSession.objects.filter(subject_id=str(member.pk)).count()
    )
    assert sessions == 1


def _standing_text(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_summary_json_reports_the_points_and_the_tier_card(member_browser, mall_a, make_merchant):
    member = the_member(mall_a)
    shop = make_merchant(mall_a, name="Tea House")
    in_schema(
        mall_a,
        lambda: adjust_points(
            member=member, points=30, reason="r", idempotency_key="a-1", actor="t"
        ),
    )

    data = member_browser.get("/m/summary.json").json()
    in_schema(
        mall_a,
        lambda: record_sale(
            merchant=shop.merchant, external_id="S-1", occurred_at=timezone.now(),
            total="268.00", payments=[PaymentLine("wechat", "268.00")], member=member,
        ),
    )  # fmt: skip
    after_sale = member_browser.get("/m/summary.json").json()

    standing = data.pop("standing_html")
    assert data == {
        "balance": 30,
        "spendable": 30,
        "pending": 0,
        "expiring_soon": 0,
        "growth": 0,
        "tier": "普卡",
        "tier_rank": 1,
    }
    assert 'data-testid="tier-growth">成长值 0<' in standing
    assert "再获得 2000 成长值即可升级为银卡。" in _standing_text(standing)
    standing = after_sale.pop("standing_html")
    assert (after_sale["balance"], after_sale["growth"], after_sale["tier"]) == (298, 268, "普卡")
    assert 'data-testid="tier-growth">成长值 268<' in standing
    assert "再获得 1732 成长值即可升级为银卡。" in _standing_text(standing)


def test_check_in_awards_points_once_a_day(member_browser, mall_a):
    first = member_browser.post("/m/check-in/")
    second = member_browser.post("/m/check-in/")
    home = text(member_browser.get("/m/home/"))

    assert first["Location"] == second["Location"] == "/m/home/"
    member = the_member(mall_a)
    entries = in_schema(
        mall_a,
        lambda: list(JournalEntry.objects.filter(member=member).values_list("points", flat=True)),
    )
    assert entries == [5]
    assert "今日已签到" in home


def test_points_history_pages_newest_first(member_browser, mall_a):
    member = the_member(mall_a)

    def adjust():
        for index in range(25):
            adjust_points(
                member=member, points=index + 1, reason="r", idempotency_key=f"k-{index}", actor="t"
            )

    in_schema(mall_a, adjust)

    first = text(member_browser.get("/m/points/"))
    second = text(member_browser.get("/m/points/?page=2"))

    assert re.findall(r'class="num delta">(\+\d+)<', first)[:3] == ["+25", "+24", "+23"]
    assert len(re.findall(r'class="num delta">', first)) == 20
    assert re.findall(r'class="num delta">(\+\d+)<', second) == ["+5", "+4", "+3", "+2", "+1"]
    assert "1 / 2" in first


# --- receipts and profile ---------------------------------------------------------------------


def test_a_member_uploads_a_receipt_for_review(member_browser, mall_a, make_merchant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    shop = make_merchant(mall_a, name="优衣库")
    photo = SimpleUploadedFile("r.jpg", JPEG, content_type="image/jpeg")

    response = member_browser.post(
        "/m/receipts/",
        {
            "merchant": str(shop.merchant.pk),
            "receipt_no": "R-1001",
            "amount": "88.50",
            "occurred_on": timezone.localdate().isoformat(),
            "photo": photo,
        },
    )
    page = text(member_browser.get("/m/receipts/"))

    assert response["Location"] == "/m/receipts/"
    receipt = in_schema(mall_a, lambda: Receipt.objects.get())
    assert (receipt.receipt_no, str(receipt.amount), receipt.status) == (
        "R-1001",
        "88.50",
        "pending",
    )
    assert "小票已提交，审核通过后积分到账。" in page
    assert "待审核" in page


def test_a_duplicate_receipt_is_refused_with_a_sentence(member_browser, mall_a, make_merchant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    shop = make_merchant(mall_a)
    data = {
        "merchant": str(shop.merchant.pk),
        "receipt_no": "R-1",
        "amount": "10.00",
        "occurred_on": timezone.localdate().isoformat(),
    }
    member_browser.post("/m/receipts/", {**data, "photo": SimpleUploadedFile("a.jpg", JPEG)})

    again = member_browser.post(
        "/m/receipts/", {**data, "photo": SimpleUploadedFile("b.jpg", JPEG)}
    )

    assert again.status_code == 400
    assert "这张小票已经提交过了。" in text(again)
    assert in_schema(mall_a, lambda: Receipt.objects.count()) == 1


def test_profile_and_consents_are_saved_and_recorded(member_browser, mall_a):
    saved = member_browser.post(
        "/m/profile/",
        {"action": "profile", "display_name": "小芳", "name": "王芳", "gender": "female",
         "birthday": "1990-05-01"},
    )  # fmt: skip
    consented = member_browser.post(
        "/m/profile/", {"action": "consents", "third_party_sharing": "on"}
    )
    page = text(member_browser.get("/m/profile/"))

    assert saved["Location"] == consented["Location"] == "/m/profile/"
    member = the_member(mall_a)
    assert (member.display_name, member.name, member.gender, str(member.birthday)) == (
        "小芳", "王芳", "female", "1990-05-01",
    )  # fmt: skip
    kinds = in_schema(
        mall_a,
        lambda: sorted(MemberConsent.objects.filter(member=member).values_list("kind", "granted")),
    )
    assert kinds == [
        ("data_processing", True),
        ("marketing", False),
        ("marketing", True),
        ("third_party_sharing", True),
    ]
    assert "138****8000" in page
    assert 'name="birthday"' in page
    assert "disabled" in page


def test_the_login_code_is_texted_through_the_sms_service(mall_a):
    browser = Browser(host_of("mall-a"))

    browser.post("/m/login/", {"action": "send", "phone": PHONE, "agree": "on"})

    (message,) = memory_outbox.to(PHONE)
    assert message.template == "otp"
    assert re.fullmatch(r"\d{6}", message.params["code"])
