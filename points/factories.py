"""Factories of the points app (test support): a points account and a lot (no ledger entries: build those through
the services when a test checks the ledger)."""

import datetime as dt

import factory

from customers.factories import CustomerFactory
from points.models import PointsAccount, PointsLot


class PointsAccountFactory(factory.django.DjangoModelFactory):
    """A customer's points account with `balance`."""

    class Meta:
        model = PointsAccount

    customer = factory.SubFactory(CustomerFactory)
    balance = 0


class PointsLotFactory(factory.django.DjangoModelFactory):
    """Points of `year` earned (`kind`), `remaining` of `original` left, expiring on `expires_on`."""

    class Meta:
        model = PointsLot

    customer = factory.SubFactory(CustomerFactory)
    year = 2026
    kind = "earn"
    original = 100
    remaining = factory.SelfAttribute("original")
    expires_on = dt.date(2028, 12, 31)
