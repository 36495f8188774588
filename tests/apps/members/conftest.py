import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.services import invite_staff
from apps.members.choices import RegistrationChannel
from apps.members.services import issue_member_tokens, join_member
from integrations.sms.client import memory_outbox
from tests.conftest import PASSWORD, Api, host_of, login

PHONE = "13800138000"
OTHER_PHONE = "13900139000"


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    memory_outbox.clear()
    yield
    memory_outbox.clear()


@pytest.fixture
def in_mall_a(mall_a):
    """Run the test body inside mall A's schema."""
    with tenant_context(mall_a):
        yield mall_a
    connection.set_schema_to_public()


@pytest.fixture
def member_api(mall_a):
    """`member_api()` is an anonymous member client of mall A; `member_api(member)` signs in."""

    def make(member=None):
        api = Api(host_of("mall-a"))
        if member is None:
            return api
        with tenant_context(mall_a):
            token = issue_member_tokens(member=member).access_token
        connection.set_schema_to_public()
        return api.as_token(token)

    return make


@pytest.fixture
def phone_member(mall_a):
    """A member of mall A who joined at a till with PHONE (unverified)."""
    with tenant_context(mall_a):
        member = join_member(channel=RegistrationChannel.TILL, phone=PHONE, name="王芳").member
    connection.set_schema_to_public()
    return member


@pytest.fixture
def staff_api(mall_a):
    """`staff_api(role)` is a console client of mall A for a new staff member with that role."""

    def make(role):
        username = f"staff-{role}"
        with tenant_context(mall_a):
            invite_staff(username=username, role=role, password=PASSWORD)
        connection.set_schema_to_public()
        api = Api(host_of("mall-a"))
        return api.as_token(login(api, "console", username)["access_token"])

    return make


def last_otp(phone):
    """The code of the newest text to a phone."""
    return memory_outbox.to(phone)[-1].params["code"]


def in_schema(mall, fn):
    """Call fn() in the mall's schema and come back to public."""
    with tenant_context(mall):
        result = fn()
    connection.set_schema_to_public()
    return result
