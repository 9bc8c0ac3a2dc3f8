"""The data commands: seed_demo, generate_bench_data, import_customers, import_bills."""

import datetime as dt
import io
import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.test import RequestFactory
from django.utils import translation

from core import dates, outbox
from core.models import OutboxEvent
from customers import rules
from customers.models import BillingMonth, Customer, KeyPerson, MonthlyBill, Region
from tiers import services as tier_services
from tiers.factories import TierChangeFactory
from tiers.models import PolicyChange, RatingChunk, RatingRun, TierChange
from vipclub import demo

AS_OF = dt.date(2026, 11, 15)
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def var_dir(settings, tmp_path):
    """var/ of the test: the demo logins are written here, not into the repository's var/."""
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return tmp_path


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def logins_from(text: str) -> dict[str, str]:
    """username -> password of a logins table (the file, or the command's output)."""
    return dict(re.findall(r"^(admin|supervisor|manager\d)\s+(\S+)\s", text, flags=re.MULTILINE))


def id_number(n: int, birthday: dt.date = dt.date(1985, 6, 15)) -> str:
    first17 = f"440106{birthday:%Y%m%d}{n:03d}"
    return first17 + rules.id_number_check_digit(first17)


def write_csv(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# seed_demo ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_builds_a_small_club_with_working_logins(var_dir):
    # given an empty database
    # when a small demo club is seeded
    out, _ = run("seed_demo", "--customers", "60", "--as-of", AS_OF.isoformat(), "--seed", "7")

    # then it has the customers, in several regions of more than one province
    assert Customer.objects.count() == 60
    per_region = dict(Customer.objects.values_list("region__code").annotate(n=Count("id")))
    assert len(per_region) >= 4
    assert Region.objects.filter(code__in=per_region).values("province").distinct().count() >= 2
    # and 24 months of bills before the as-of month, every one of them closed
    months = [dates.add_months(dt.date(2026, 11, 1), -n) for n in range(24, 0, -1)]
    assert sorted(MonthlyBill.objects.order_by("month").values_list("month", flat=True).distinct()) == months
    closed = BillingMonth.objects.filter(month__in=months, closed_at__isnull=False)
    assert closed.count() == 24
    assert all(b.closed_at <= demo.at_club_time(AS_OF) for b in closed)
    assert not BillingMonth.objects.filter(month__gte=dt.date(2026, 11, 1)).exists()
    # and key persons of corporate groups, and a suspended customer
    assert KeyPerson.objects.filter(role="top_decision_maker").exists()
    assert Customer.objects.filter(status="suspended").exclude(suspension_kind="").exists()

    # and every demo user can log in with the password printed and written to var/demo-logins.txt
    written = logins_from((var_dir / "demo-logins.txt").read_text(encoding="utf-8"))
    assert set(written) == {"admin", "supervisor", *(f"manager{n}" for n in range(1, 7))}
    assert logins_from(out.split("Demo logins", 1)[1]) == written
    for i, (username, password) in enumerate(written.items()):
        assert can_log_in(username, password, address=f"10.0.0.{i}"), username
        assert not can_log_in(username, password + "x", address=f"10.0.0.{i}")
    users = {u.username: u for u in get_user_model().objects.filter(username__in=written)}
    assert users["admin"].is_superuser
    assert users["supervisor"].is_staff and not users["supervisor"].is_superuser
    assert not any(users[f"manager{n}"].is_staff for n in range(1, 7))
    # and each has her role (core.permissions): the supervisor and the managers, as the API and admin see them
    from core.permissions import MANAGER, SUPERVISOR, role_of

    assert role_of(users["supervisor"]) == SUPERVISOR
    assert {role_of(users[f"manager{n}"]) for n in range(1, 7)} == {MANAGER}
    # and each manager serves a branch under the supervisor, and the members are rated and assigned
    from managers.models import AccountManager, Assignment
    from tiers.models import CustomerTier

    managers = AccountManager.objects.filter(user__username__startswith="manager")
    assert managers.count() == 6 and {m.supervisor.username for m in managers} == {"supervisor"}
    members = CustomerTier.objects.filter(tier__isnull=False).count()
    assert members > 0
    assert Assignment.objects.filter(ended_on__isnull=True).count() == members
    # and the passwords are random, not fixed in the code
    assert len(set(written.values())) == 8
    source = Path(demo.__file__).read_text(encoding="utf-8")
    assert not any(password in source for password in written.values())


def can_log_in(username: str, password: str, *, address: str = "10.0.0.1") -> bool:
    """authenticate() as the login page calls it: with the request (django-axes counts failures per address)."""
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR=address)
    return authenticate(request, username=username, password=password) is not None


@pytest.mark.django_db
def test_seed_demo_if_empty_is_a_no_op_on_a_seeded_database(var_dir):
    # given a seeded demo club
    run("seed_demo", "--customers", "30", "--as-of", AS_OF.isoformat())
    logins = logins_from((var_dir / "demo-logins.txt").read_text(encoding="utf-8"))
    bills = MonthlyBill.objects.count()

    # when seed_demo runs again with --if-empty
    out, _ = run("seed_demo", "--if-empty", "--customers", "50", "--as-of", AS_OF.isoformat())

    # then nothing changes, the logins still work, and they are printed again
    assert Customer.objects.count() == 30
    assert MonthlyBill.objects.count() == bills
    assert can_log_in("manager2", logins["manager2"])
    assert logins_from(out.split("Demo logins", 1)[1]) == logins


@pytest.mark.django_db
def test_seed_demo_refuses_a_database_with_customers_without_if_empty(var_dir):
    # given a seeded demo club
    run("seed_demo", "--customers", "20", "--as-of", AS_OF.isoformat())

    # when seed_demo runs again without --if-empty, then it refuses and changes nothing
    with pytest.raises(CommandError, match="already holds 20 customers"):
        run("seed_demo", "--customers", "20", "--as-of", AS_OF.isoformat(), "--seed", "2")
    assert Customer.objects.count() == 20


def test_demo_club_is_deterministic_valid_and_reaches_every_tier():
    # given the default club size
    # when it is built twice with one seed and once with another
    club = demo.demo_club_build(customers=2000, as_of=AS_OF, seed=3)
    again = demo.demo_club_build(customers=2000, as_of=AS_OF, seed=3)
    other = demo.demo_club_build(customers=2000, as_of=AS_OF, seed=4)

    # then the same seed gives the same club, another seed another one
    assert club.customers == again.customers and club.bills == again.bills
    assert club.customers != other.customers
    # and every row is valid customer data
    prefixes = set(demo.MSISDN_PREFIXES)
    assert len({row["msisdn"] for row in club.customers}) == 2000
    for row in club.customers:
        assert len(row["msisdn"]) == 11 and row["msisdn"][:3] in prefixes
        assert rules.id_number_problem(row["id_number"]) is None
        assert rules.birthday_from_id_number(row["id_number"]) == row["birthday"]
        assert row["birthday"] < row["join_date"] <= row["plan_started_on"] < AS_OF
    assert {row["plan_code"] for row in club.customers} >= {"288", "388", "588"}
    # and bills are Decimal yuan with fen, most of them 50-300 yuan
    amounts = [amount for bills in club.bills.values() for _, amount, _ in bills]
    assert all(isinstance(a, Decimal) and a == a.quantize(Decimal("0.01")) and a >= 0 for a in amounts)
    assert sum(Decimal(30) <= a <= Decimal(300) for a in amounts) > len(amounts) / 2

    # and the yearly scores of primary customers reach every tier's threshold (the policy's)
    def score(row) -> int:
        spend = sum(math.floor(a) for m, a, _ in club.bills[row["msisdn"]] if m >= club.months[-12])
        years = (AS_OF.replace(day=1) - row["join_date"]).days // 366
        return spend + (300 if years >= 10 else 200 if years >= 3 else 100 if years >= 1 else 0)

    scores = [score(row) for row in club.customers if row["product_type"] == "primary"]
    tiers = [sum(low <= s < high for s in scores) for low, high in ((4000, 10**9), (2000, 4000), (1000, 2000))]
    assert all(count >= 10 for count in tiers), tiers
    assert sum(s < 1000 for s in scores) > 0


# generate_bench_data ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_generate_bench_data_loads_customers_and_bills_and_refuses_a_second_run():
    # given an empty database
    # when 200 customers with 12 months of bills are generated
    out, _ = run("generate_bench_data", "--customers", "200", "--months", "12", "--as-of", AS_OF.isoformat())

    # then there are 200 customers with 12 bills each, in closed billing months before the as-of month
    assert Customer.objects.count() == 200
    assert MonthlyBill.objects.count() == 2400
    assert set(MonthlyBill.objects.values("customer").annotate(n=Count("id")).values_list("n", flat=True)) == {12}
    months = [dates.add_months(dt.date(2026, 11, 1), -n) for n in range(12, 0, -1)]
    assert sorted(MonthlyBill.objects.order_by("month").values_list("month", flat=True).distinct()) == months
    assert BillingMonth.objects.filter(month__in=months, closed_at__isnull=False).count() == 12
    assert not Customer.objects.exclude(msisdn__startswith="199").exists()
    assert all(rules.id_number_problem(n) is None for n in Customer.objects.values_list("id_number", flat=True))
    assert "Done in" in out and "bills" in out
    # and the constraints are back: an msisdn stays unique
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(**{**Customer.objects.values().first(), "id": None})
    total = MonthlyBill.objects.aggregate(total=Sum("amount"))["total"]

    # when it runs again without --wipe, then it refuses and changes nothing
    with pytest.raises(CommandError, match="already holds 200 customers"):
        run("generate_bench_data", "--customers", "200", "--as-of", AS_OF.isoformat())
    assert Customer.objects.count() == 200 and MonthlyBill.objects.count() == 2400

    # when it runs again with --wipe, then the data is replaced by the same data (deterministic)
    run("generate_bench_data", "--customers", "200", "--wipe", "--as-of", AS_OF.isoformat())
    assert Customer.objects.count() == 200 and MonthlyBill.objects.count() == 2400
    assert MonthlyBill.objects.aggregate(total=Sum("amount"))["total"] == total


@pytest.mark.django_db
def test_generate_bench_data_wipe_also_empties_the_wiped_customers_rating_runs_and_events(django_user_model):
    # given bench data that was rated for November (a run, its chunk and changes), with an event in the outbox, and
    # a policy change whose what-if ran
    run("generate_bench_data", "--customers", "20", "--months", "3", "--as-of", AS_OF.isoformat())
    november = dt.date(2026, 11, 1)
    stale = RatingRun.objects.create(
        policy=tier_services.default_policy(),
        policy_version=1,
        policy_snapshot={},
        month=november,
        evaluation_date=november,
        status="done",
    )
    RatingChunk.objects.create(run=stale, lo=1, hi=20, done=True)
    customer = Customer.objects.order_by("id").first()
    TierChangeFactory(customer=customer, run=stale)
    event = outbox.emit(
        type="tier.changed",
        customer_id=customer.pk,
        msisdn=customer.msisdn,
        occurred_at=demo.at_club_time(AS_OF),
        data={},
    )
    change = PolicyChange.objects.create(
        policy=stale.policy,
        values={},
        effective_month=dt.date(2027, 1, 1),
        note="what-if",
        created_by=django_user_model.objects.create_user("proposer"),
        created_at=demo.at_club_time(AS_OF),
        base_run=stale,
    )

    # when the bench data is generated again with --wipe
    run("generate_bench_data", "--customers", "20", "--months", "3", "--wipe", "--as-of", AS_OF.isoformat())

    # then the run, its chunk and changes and the event are gone with the customers they counted
    assert not RatingRun.objects.filter(pk=stale.pk).exists()
    assert not RatingChunk.objects.exists() and not TierChange.objects.exists()
    assert not OutboxEvent.objects.filter(pk=event.pk).exists()
    # the policy change stays, without its what-if run
    change.refresh_from_db()
    assert change.base_run is None
    # and November's rating starts a new run for the new customers (not the wiped one's answer)
    _run, created = tier_services.tier_run_start(month=november, force=True, dispatch=False)
    assert created


# import_customers / import_bills ------------------------------------------------------------------------------

CUSTOMERS_HEADER = (
    "msisdn,name,id_number,birthday,join_date,brand,product_type,plan_code,plan_started_on,region,landline\n"
)


@pytest.fixture
def regions(db):
    Region.objects.create(code="GZ", name="广州", province="广东")
    Region.objects.create(code="SZ", name="深圳", province="广东")


def test_import_customers_creates_then_updates_every_row(regions, tmp_path):
    # given a CSV file with the API's fields, some cells empty
    path = write_csv(
        tmp_path,
        "customers.csv",
        CUSTOMERS_HEADER
        + f"13800138001,张伟,{id_number(11)},,2015-03-01,gotone,,388,,GZ,020-87654321\n"
        + f"13800138002,李娜,{id_number(22)},1985-06-15,2018-07-01,mzone,primary,,,SZ,\n"
        + f'13800138003,"王芳",{id_number(34)},,2020-01-01,easyown,data_card,DC30,2021-01-01,GZ,\n',
    )

    # when it is imported
    out, _ = run("import_customers", str(path))

    # then every row is a customer; an empty cell took the API's default
    assert "3 customers imported: 3 created, 0 updated" in out
    first = Customer.objects.get(msisdn="13800138001")
    assert first.birthday == dt.date(1985, 6, 15)  # from the ID number
    assert first.product_type == "primary" and first.plan_started_on == dt.date(2015, 3, 1)
    assert first.region.code == "GZ" and first.landline == "020-87654321"
    assert Customer.objects.get(msisdn="13800138003").product_type == "data_card"

    # when the same file is imported again, then the customers are updated, not duplicated
    out, _ = run("import_customers", str(path))
    assert "3 customers imported: 0 created, 3 updated" in out
    assert Customer.objects.count() == 3


def test_import_customers_names_every_bad_line_and_writes_nothing(regions, tmp_path):
    # given a file with one good line and bad lines 3 to 6
    path = write_csv(
        tmp_path,
        "bad.csv",
        CUSTOMERS_HEADER
        + f"13800138001,张伟,{id_number(11)},,2015-03-01,gotone,,,,GZ,\n"
        + f"1380013800,李娜,{id_number(22)},,2015-03-01,gotone,,,,GZ,\n"  # 10-digit msisdn
        + f"13800138003,王芳,{id_number(34)},,2015-03-01,gotone,,,,XX,\n"  # unknown region
        + f"13800138001,张伟,{id_number(11)},,2015-03-01,gotone,,,,GZ,\n"  # duplicate of line 2
        + "13800138005,赵强,440106198506150010,,2015-03-01,gold,,,,GZ,\n",  # check digit, brand
    )

    # when it is imported, then the command fails
    with pytest.raises(CommandError, match="4 of 5 rows are invalid; nothing was written"):
        call_command("import_customers", str(path), stdout=io.StringIO(), stderr=(err := io.StringIO()))

    # and every bad line is named with its problem
    errors = err.getvalue()
    assert sorted({int(n) for n in re.findall(r"bad\.csv:(\d+):", errors)}) == [3, 4, 5, 6]
    assert "bad.csv:3: msisdn:" in errors
    assert "bad.csv:4: region: Unknown region 'XX'" in errors
    assert "bad.csv:5: msisdn: Duplicate of line 2 of this file." in errors
    assert "bad.csv:6: id_number:" in errors and "bad.csv:6: brand:" in errors
    # and nothing was written, not even the good line
    assert Customer.objects.count() == 0


def test_import_customers_refuses_unknown_columns(regions, tmp_path):
    # given a file whose header has a typo and lacks a required column
    path = write_csv(tmp_path, "header.csv", "msisdn,nmae,id_number,join_date,brand\n13800138001,x,y,z,w\n")

    # when it is imported, then the header is refused and nothing is written
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_customers", str(path), stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert "Unknown column(s) nmae" in err.getvalue()
    assert "Missing required column(s): name, region" in err.getvalue()
    assert Customer.objects.count() == 0


def test_import_customers_in_chunks_is_one_transaction(regions, tmp_path, settings):
    # given chunks of 2 rows and a 5-row file whose line 6 repeats line 2, two chunks apart
    settings.VIPCLUB_BULK_MAX_ROWS = 2
    lines = [f"1380013800{n},客户{n},{id_number(n)},,2015-03-01,gotone,,,,GZ,\n" for n in range(1, 5)]
    bad = write_csv(tmp_path, "chunks.csv", CUSTOMERS_HEADER + "".join(lines) + lines[0])

    # when it is imported, then the repeat is found across chunks and nothing is written
    with pytest.raises(CommandError):
        call_command("import_customers", str(bad), stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert "chunks.csv:6: msisdn: Duplicate of line 2 of this file." in err.getvalue()
    assert Customer.objects.count() == 0

    # when a good file of three chunks is imported, then every row is written
    good = write_csv(tmp_path, "good.csv", CUSTOMERS_HEADER + "".join(lines))
    out, _ = run("import_customers", str(good))
    assert "4 customers imported: 4 created" in out
    assert Customer.objects.count() == 4


@pytest.fixture
def two_customers(regions, tmp_path):
    path = write_csv(
        tmp_path,
        "two.csv",
        CUSTOMERS_HEADER
        + f"13800138001,张伟,{id_number(11)},,2015-03-01,gotone,,,,GZ,\n"
        + f"13800138002,李娜,{id_number(22)},,2018-07-01,mzone,,,,SZ,\n",
    )
    run("import_customers", str(path))


def test_import_bills_creates_then_corrects_bills(two_customers, tmp_path):
    # given bills of known customers, one with the paid cell empty
    path = write_csv(
        tmp_path,
        "bills.csv",
        "msisdn,month,amount,paid\n"
        "13800138001,2026-09,388.50,true\n"
        "13800138001,2026-10,402.07,\n"
        "13800138002,2026-10,58,false\n",
    )

    # when they are imported
    out, _ = run("import_bills", str(path))

    # then each is a bill with the exact amount
    assert "3 bills imported: 3 created, 0 updated" in out
    bill = MonthlyBill.objects.get(customer__msisdn="13800138001", month=dt.date(2026, 10, 1))
    assert bill.amount == Decimal("402.07") and bill.paid is False
    assert MonthlyBill.objects.get(customer__msisdn="13800138001", month=dt.date(2026, 9, 1)).paid is True

    # when a correction is imported, then the bill is updated
    fix = write_csv(tmp_path, "fix.csv", "msisdn,month,amount,paid\n13800138002,2026-10,60.10,true\n")
    out, _ = run("import_bills", str(fix))
    assert "1 bills imported: 0 created, 1 updated" in out
    assert MonthlyBill.objects.get(customer__msisdn="13800138002").amount == Decimal("60.10")


def test_import_bills_names_every_bad_line_and_writes_nothing(two_customers, tmp_path):
    # given a file with one good line and bad lines 3 to 6
    path = write_csv(
        tmp_path,
        "badbills.csv",
        "msisdn,month,amount,paid\n"
        "13800138001,2026-09,388.50,true\n"
        "13900000000,2026-10,400,\n"  # unknown customer
        "13800138002,2026-13,-5,maybe\n"  # month, amount, paid
        "13800138001,2026-09,1.00,true\n"  # duplicate of line 2
        "13800138002,2026-10,,\n",  # no amount
    )

    # when it is imported, then the command fails naming every bad line
    # (in English whatever language an earlier test's request left active in this thread)
    with translation.override("en"), pytest.raises(CommandError, match="4 of 5 rows are invalid; nothing was written"):
        call_command("import_bills", str(path), stdout=io.StringIO(), stderr=(err := io.StringIO()))
    errors = err.getvalue()
    assert sorted({int(n) for n in re.findall(r"badbills\.csv:(\d+):", errors)}) == [3, 4, 5, 6]
    assert "badbills.csv:3: msisdn: Unknown customer 13900000000." in errors
    assert "badbills.csv:4: month:" in errors and "badbills.csv:4: amount:" in errors
    assert "badbills.csv:4: paid:" in errors
    assert "badbills.csv:5: msisdn: Duplicate of line 2 of this file." in errors
    assert "badbills.csv:6: amount: This field is required." in errors
    # and nothing was written
    assert MonthlyBill.objects.count() == 0


@pytest.mark.parametrize(
    "row",
    [
        {"msisdn": "13800138001", "month": "2026-09", "amount": "388.50", "paid": "true"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "388.5"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "0058", "paid": "0"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "58", "paid": "yes"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "1.005"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "-5"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "1e3"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "12345678901"},
        {"msisdn": "13800138001", "month": "2026-13", "amount": "5"},
        {"msisdn": "13800138001", "month": "2999-01", "amount": "5"},
        {"msisdn": "13800138001", "month": "2026-9", "amount": "5"},
        {"msisdn": "23800138001", "month": "2026-09", "amount": "5"},
        {"msisdn": "1380013800１", "month": "2026-09", "amount": "5"},
        {"msisdn": "13800138001", "month": "2026-09", "amount": "5", "paid": "maybe"},
        {"msisdn": "13800138001", "month": "2026-09"},
        {"month": "2026-09", "amount": "5"},
    ],
)
def test_import_bills_row_validation_answers_as_the_bulk_api(row):
    # given the import command's row check and the bulk API's serializer
    from rest_framework import serializers

    from customers.serializers import BillRowSerializer, bill_row_validator

    def answer(validate):
        try:
            return "valid", validate(dict(row))
        except serializers.ValidationError as exc:
            return "invalid", exc.detail

    # when both check the same CSV row, then they accept the same values or name the same problems
    with translation.override("en"):
        assert answer(bill_row_validator()) == answer(lambda r: dict(BillRowSerializer().run_validation(r)))


def test_import_bills_streams_a_file_longer_than_a_batch(two_customers, tmp_path, settings):
    # given a file of 2 customers × 30 months read in batches of 10 rows, whose last line repeats an early one
    from points.models import PointsAccount

    settings.VIPCLUB_BULK_MAX_ROWS = 10
    months = [dates.add_months(dt.date(2024, 1, 1), n) for n in range(30)]
    lines = [f"1380013800{c},{m:%Y-%m},100.40,true" for m in months for c in (1, 2)]
    path = write_csv(tmp_path, "long.csv", "msisdn,month,amount,paid\n" + "\n".join(lines) + "\n")
    bad = write_csv(tmp_path, "bad.csv", path.read_text() + lines[3] + "\n")

    # when the file with the repeated line is imported, then that line is named and nothing is written
    with translation.override("en"), pytest.raises(CommandError, match="1 of 61 rows are invalid"):
        call_command("import_bills", str(bad), stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert "bad.csv:62: msisdn: Duplicate of line 5 of this file." in err.getvalue()
    assert MonthlyBill.objects.count() == 0

    # when the good file is imported, then every bill is stored and earns its points at once
    out, _ = run("import_bills", str(path))
    assert "60 bills imported: 60 created, 0 updated" in out
    assert MonthlyBill.objects.count() == 60
    assert PointsAccount.objects.count() == 2
