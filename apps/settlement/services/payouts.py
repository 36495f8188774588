"""Paying statements: through Alipay royalty settle where the rail carries it, otherwise in a
bank batch transfer file. Either way the payout is recorded on the statement with a reference.

The rail: the merchant's payout account (its Alipay user id) is bound as a royalty receiver,
then the net payable is split out of the merchant's own Alipay orders of the period, order by
order, each within the rail's cap (30% of the order by default), with request numbers derived
from the statement (`<number>-<n>`), so a retried payout never moves money twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from apps.settlement.models import Statement
from apps.settlement.services.statements import (
    _alipay_payments,
    _locked,
    _require,
    record_payout,
)
from apps.settlement.statement_choices import PayoutRoute, StatementStatus
from apps.settlement.statement_errors import PayoutFailedError, PayoutRouteError
from atrium.crypto import decrypt
from integrations.alipay.client import (
    AlipayClient,
    AlipayConfig,
    AlipayError,
    RoyaltyReceiver,
    RoyaltyTransfer,
    royalty_capacity,
)
from integrations.bank.transfer_file import BankTransfer, render

ZERO = Decimal("0.00")


def alipay_client() -> AlipayClient:
    """The mall's Alipay app from settings."""
    return AlipayClient(
        AlipayConfig(
            app_id=settings.ALIPAY_APP_ID,
            app_private_key=settings.ALIPAY_APP_PRIVATE_KEY,
            alipay_public_key=settings.ALIPAY_PUBLIC_KEY,
            gateway=settings.ALIPAY_GATEWAY,
        )
    )


def _account(statement: Statement) -> str:
    encrypted = statement.contract.payout_account_encrypted
    return decrypt(encrypted) if encrypted else ""


def pay_via_alipay(
    *, statement_id: uuid.UUID, actor: str, client: AlipayClient | None = None
) -> Statement:
    """Pay a confirmed, rail-routed statement by royalty settle.

    Raises StatementNotFoundError, StatementStateError, PayoutRouteError, PayoutFailedError.
    """
    with transaction.atomic():
        statement = _locked(statement_id)
        _require(statement, StatementStatus.CONFIRMED)
        if statement.payout_route != PayoutRoute.ALIPAY:
            raise PayoutRouteError("the statement is not paid through Alipay",
                                   route=statement.payout_route)  # fmt: skip
        account = _account(statement)
        if not account:
            raise PayoutFailedError("the contract has no Alipay payout account")
        receiver = RoyaltyReceiver(account=account, name=statement.contract.payout_account_name)
        client = client or alipay_client()
        remaining = statement.net_payable
        try:
            client.bind_receivers([receiver], out_request_no=f"{statement.number}-bind")
            for index, payment in enumerate(_alipay_payments(statement), start=1):
                if remaining <= 0:
                    break
                amount = min(remaining, royalty_capacity([payment.amount]))
                if amount <= 0:
                    continue
                client.order_settle(
                    trade_no=payment.trade_no, out_request_no=f"{statement.number}-{index}",
                    transfers=[RoyaltyTransfer(receiver=receiver, amount=amount,
                                               desc=f"结算单 {statement.number}")],
                )  # fmt: skip
                remaining -= amount
        except AlipayError as exc:
            raise PayoutFailedError(
                "Alipay refused the payout", code=exc.code, sub_code=exc.sub_code
            ) from exc
        if remaining != 0:
            raise PayoutFailedError("the rail could not carry the whole payout",
                                    remaining=str(remaining))  # fmt: skip
    return record_payout(
        statement_id=statement_id, reference=f"ALIPAY:{statement.number}", actor=actor,
        route=PayoutRoute.ALIPAY,
    )  # fmt: skip


def bank_transfer_file(*, statements: Sequence[Statement]) -> bytes:
    """The bank batch file for confirmed, bank-routed statements with money to pay.

    Raises PayoutRouteError when one of them is not such a statement.
    """
    transfers = []
    for statement in statements:
        if (
            statement.status != StatementStatus.CONFIRMED
            or statement.payout_route != PayoutRoute.BANK
            or statement.net_payable <= ZERO
        ):
            raise PayoutRouteError(
                "only confirmed statements paid by bank transfer go in the file",
                statement=statement.number,
            )
        transfers.append(
            BankTransfer(
                account_no=_account(statement),
                account_name=statement.contract.payout_account_name,
                bank_name=statement.contract.payout_bank_name,
                cnaps_code="",
                amount=statement.net_payable,
                purpose=f"结算单{statement.number}",
            )
        )
    return render(transfers)
