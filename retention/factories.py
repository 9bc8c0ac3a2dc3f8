"""Factories of the retention app (test support): a member with her tier history, a closure request's case."""

import datetime as dt

import factory

from managers.factories import ManagedMemberFactory
from retention.models import RetentionCase
from tiers.factories import TierChangeFactory

OPENED_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


class HistoryMemberFactory(ManagedMemberFactory):
    """A member since `since` with that change in her tier history too (the KPI snapshots read it), assigned to
    `manager` when given."""

    class Meta:
        skip_postgeneration_save = True

    class Params:
        since = dt.date(2025, 11, 1)

    history = factory.RelatedFactory(
        TierChangeFactory,
        factory_related_name="customer",
        to=factory.SelfAttribute("..tier"),
        effective_on=factory.SelfAttribute("..since"),
    )


class RetentionCaseFactory(factory.django.DjangoModelFactory):
    """The case of a closure request: an open case of a member whose closure is pending, opened at `opened_at`."""

    class Meta:
        model = RetentionCase

    customer = factory.SubFactory(ManagedMemberFactory, status="pending_closure")
    manager = None
    opened_at = OPENED_AT
