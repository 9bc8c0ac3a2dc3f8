"""Factories of the benefits app (test support): a benefit, a tier's entitlement, a member's benefit account."""

import factory

from benefits.models import Benefit, BenefitAccount, TierEntitlement
from tiers.factories import MemberFactory, tier_of


class BenefitFactory(factory.django.DjangoModelFactory):
    """A benefit of the catalogue: a yearly count by default."""

    class Meta:
        model = Benefit

    code = factory.Sequence(lambda n: f"benefit-{n}")
    name_zh = factory.Sequence(lambda n: f"权益{n}")
    name_en = factory.Sequence(lambda n: f"Benefit {n}")
    unit = "count"
    period = "year"


class TierEntitlementFactory(factory.django.DjangoModelFactory):
    """`quantity` of a benefit a period for the members of tier `code`."""

    class Meta:
        model = TierEntitlement

    class Params:
        code = "gold"

    tier = factory.LazyAttribute(lambda o: tier_of(o.code))
    benefit = factory.SubFactory(BenefitFactory)
    quantity = 1


class BenefitAccountFactory(factory.django.DjangoModelFactory):
    """A member's account of one benefit for one period (`granted`, `used`)."""

    class Meta:
        model = BenefitAccount

    customer = factory.SubFactory(MemberFactory)
    benefit = factory.SubFactory(BenefitFactory)
    period_key = "2026"
    granted = 1
    used = 0
