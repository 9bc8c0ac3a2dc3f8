"""The WSGI application bench/api.py serves with gunicorn: the project as it is, plus one bare endpoint in the same
server, for the benchmark only (never part of vipclub's URLs).

    gunicorn --chdir <repo> --pythonpath bench _api_server:application

`GET /bench/bare/<msisdn>/` reads what the customer read of the API shows — the customer, her region, tier, manager,
points and stored credit stars — with one SQL statement and answers it as JSON: no DRF, no authentication, no
ORM, no serializer. The floor of that read through Django on this machine.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vipclub.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402

BARE_READ = """
SELECT c.msisdn, c.name, c.id_number, c.birthday, c.join_date, c.brand, c.product_type, c.plan_code,
       c.plan_started_on, c.landline, c.status, r.code, t.code, ct.valid_until, ct.source, ct.since,
       m.employee_no, m.name, a.started_on, p.balance, p.frozen,
       (SELECT cr.stars FROM points_creditrating cr WHERE cr.customer_id = c.id ORDER BY cr.as_of DESC LIMIT 1)
FROM customers_customer c
JOIN customers_region r ON r.id = c.region_id
LEFT JOIN tiers_customertier ct ON ct.customer_id = c.id
LEFT JOIN tiers_tier t ON t.id = ct.tier_id
LEFT JOIN managers_assignment a ON a.customer_id = c.id AND a.ended_on IS NULL
LEFT JOIN managers_accountmanager m ON m.id = a.manager_id
LEFT JOIN points_pointsaccount p ON p.customer_id = c.id
WHERE c.msisdn = %s
"""
FIELDS = (
    "msisdn",
    "name",
    "id_number",
    "birthday",
    "join_date",
    "brand",
    "product_type",
    "plan_code",
    "plan_started_on",
    "landline",
    "status",
    "region",
    "tier",
    "valid_until",
    "tier_source",
    "tier_since",
    "manager",
    "manager_name",
    "manager_since",
    "points",
    "frozen",
    "credit_stars",
)


def bare(request, msisdn: str):
    with connection.cursor() as cursor:
        cursor.execute(BARE_READ, [msisdn])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"error": "not found"}, status=404)
    return JsonResponse(dict(zip(FIELDS, row, strict=True)))


urlpatterns = [path("bench/bare/<str:msisdn>/", bare), path("", include("vipclub.urls"))]
handler404 = "core.api.json_404"
handler500 = "core.api.json_500"

settings.ROOT_URLCONF = __name__

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

if __name__ == "__main__":  # `make bench` runs bench/[!_]*.py only; this module is gunicorn's
    print("bench/_api_server.py: the WSGI app of bench/api.py (gunicorn); nothing to run.")
