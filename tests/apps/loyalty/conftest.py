import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.members.services import create_member


@pytest.fixture
def in_mall_a(mall_a):
    """Run the test body inside mall A's schema."""
    with tenant_context(mall_a):
        yield mall_a
    connection.set_schema_to_public()


@pytest.fixture
def member(in_mall_a):
    return create_member(display_name="Lin")
