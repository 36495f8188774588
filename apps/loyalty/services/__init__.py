"""Write use cases of the loyalty program: `ledger` (points), `growth` (growth and tiers),
`earning` (rules and sale awards), `program` (settings, tiers, seeding)."""

from apps.loyalty.services.earning import award_behaviour, award_sale, reverse_sale_award
from apps.loyalty.services.ledger import (
    adjust_points,
    earn_points,
    expire_due_lots,
    forfeit_points,
    merge_member_ledgers,
    redeem_points,
    reverse_points,
)
from apps.loyalty.services.program import seed_default_program

__all__ = [
    "adjust_points",
    "award_behaviour",
    "award_sale",
    "earn_points",
    "expire_due_lots",
    "forfeit_points",
    "merge_member_ledgers",
    "redeem_points",
    "reverse_points",
    "reverse_sale_award",
    "seed_default_program",
]
