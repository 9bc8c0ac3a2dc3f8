"""Factories of the tiers app (test support): a customer's current tier, a member, a tier change."""

import datetime as dt

import factory

from customers.factories import CustomerFactory
from tiers.models import CustomerTier, Tier, TierChange


def tier_of(code: str | None) -> Tier | None:
    """The seeded tier `code` (None: no tier)."""
    return Tier.objects.get(code=code) if code else None


class CustomerTierFactory(factory.django.DjangoModelFactory):
    """A customer's current tier: `code` (None: a row without a tier, as after she left the club)."""

    class Meta:
        model = CustomerTier

    class Params:
        code = "gold"

    customer = factory.SubFactory(CustomerFactory)
    tier = factory.LazyAttribute(lambda o: tier_of(o.code))
    source = factory.LazyAttribute(lambda o: "score" if o.code else "")
    valid_until = None
    since = None


class MemberFactory(CustomerFactory):
    """A member: a customer holding `tier` by `source`, since `since`, valid until `valid_until`.

    `tier=None` makes a customer without a tier row (not a member)."""

    class Meta:
        skip_postgeneration_save = True

    class Params:
        tier = "gold"
        source = "score"
        since = None
        valid_until = None

    tier_state = factory.Maybe(
        "tier",
        yes_declaration=factory.RelatedFactory(
            CustomerTierFactory,
            factory_related_name="customer",
            code=factory.SelfAttribute("..tier"),
            source=factory.SelfAttribute("..source"),
            since=factory.SelfAttribute("..since"),
            valid_until=factory.SelfAttribute("..valid_until"),
        ),
        no_declaration=None,
    )


class TierChangeFactory(factory.django.DjangoModelFactory):
    """A row of the tier history: the customer joined (`to`) or left (`to=None`) on `effective_on`."""

    class Meta:
        model = TierChange

    class Params:
        to = "gold"
        came_from = None

    customer = factory.SubFactory(CustomerFactory)
    from_tier = factory.LazyAttribute(lambda o: tier_of(o.came_from))
    to_tier = factory.LazyAttribute(lambda o: tier_of(o.to))
    transition = factory.LazyAttribute(lambda o: "joined" if o.to else "left")
    reason = "score"
    effective_on = dt.date(2026, 1, 1)
