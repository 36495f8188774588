"""A split line's stored basis, told in the reader's language (the preview shows it)."""

import pytest
from django.utils import translation

from apps.settlement.splitting import describe_basis


@pytest.mark.parametrize(
    ("why", "zh", "en"),
    [
        ("the merchant keeps the rest", "商户所得为其余部分", "The merchant keeps the rest"),
        (
            "rule 支付宝手续费 v2: 0.6%",
            "规则「支付宝手续费」v2：0.6%",
            "Rule “支付宝手续费” v2: 0.6%",
        ),
        (
            "rule 会员日补贴 v1: mall funds 100%",
            "规则「会员日补贴」v1：商场承担 100%",
            "Rule “会员日补贴” v1: the mall funds 100%",
        ),
        (
            "contract guaranteed_minimum: 18%",
            "合同（保底扣点）：18%",
            "Contract (Guaranteed minimum): 18%",
        ),
        (
            "contract concession food: 15%",
            "合同（联营扣点）品类 food：15%",
            "Contract (Concession (commission)), category food: 15%",
        ),
        ("something recorded before", "something recorded before", "something recorded before"),
    ],
)
def test_a_basis_reads_in_the_operators_language(why, zh, en):
    with translation.override("zh-hans"):
        assert describe_basis(why) == zh
    with translation.override("en"):
        assert describe_basis(why) == en
