"""Factories of the customers app: regions, customers, monthly bills (test support: factory_boy)."""

import datetime as dt
from decimal import Decimal

import factory

from customers.models import Customer, MonthlyBill, Region
from customers.rules import id_number_check_digit


def make_id_number(n: int, birthday: dt.date = dt.date(1985, 6, 15)) -> str:
    first17 = f"440106{birthday:%Y%m%d}{n % 1000:03d}"
    return first17 + id_number_check_digit(first17)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ["code"]

    code = "GZ"
    name = "广州"
    province = "广东"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    msisdn = factory.Sequence(lambda n: f"138{n:08d}")
    name = factory.Sequence(lambda n: f"客户{n}")
    id_number = factory.Sequence(make_id_number)
    birthday = dt.date(1985, 6, 15)
    join_date = dt.date(2015, 3, 1)
    brand = "gotone"
    product_type = "primary"
    region = factory.SubFactory(RegionFactory)


class BillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MonthlyBill

    customer = factory.SubFactory(CustomerFactory)
    month = dt.date(2026, 10, 1)
    amount = Decimal("188.00")
    paid = True
