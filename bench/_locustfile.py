"""The partner workload of bench/load.py for Locust (run by it: `locust -f bench/_locustfile.py --headless …`).

One simulated partner system per Locust user, each at LOAD_USER_RATE requests per second (constant throughput),
with an API token that has every scope the workload needs. The mix (weights of the tasks below):
  70 %  GET  /customers/{msisdn}/                      profile reads (billing, halls, lounges)
  10 %  POST /bills/bulk/                              10 bills of last month (a changed amount posts points)
   6 %  POST /events/                                  plan_changed (a new event_id each time)
   4 %  POST /points/redemptions/                      1–5 points of an active member (Idempotency-Key)
   3 %  POST /benefits/redemptions/                    one use of a benefit she holds (Idempotency-Key)
   7 %  POST /contact-logs/                            a manager's call, reached
An answer counts as a failure when it is a 5xx, a transport error, or any status the contract does not give for
that request (a 409 `quota_exhausted` / `insufficient_points` / `frozen` is a business answer, not a failure).
The data (token, msisdns, month, plans, members with points, benefit accounts) come from LOAD_DATA (a JSON file).
"""

import datetime as dt
import json
import os
import random
import uuid
from zoneinfo import ZoneInfo

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

DATA = json.loads(open(os.environ["LOAD_DATA"]).read())  # noqa: SIM115 - read once at import
ZONE = ZoneInfo("Asia/Shanghai")
BUSINESS_409 = {"quota_exhausted", "insufficient_points", "frozen", "not_entitled", "over_cap"}


class Partner(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("LOAD_USER_RATE", "1")))

    def on_start(self):
        self.rng = random.Random()
        self.headers = {"Authorization": f"Token {DATA['token']}", "Content-Type": "application/json"}

    def _post(self, path: str, body, name: str, ok=(200, 201), key: bool = False):
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        with self.client.post(path, data=json.dumps(body), headers=headers, name=name, catch_response=True) as r:
            if r.status_code in ok:
                r.success()
            elif r.status_code == 409 and _code(r) in BUSINESS_409:
                r.success()
            else:
                r.failure(f"{r.status_code} {(r.text or '')[:200]}")

    @task(70)
    def read_profile(self):
        msisdn = self.rng.choice(DATA["msisdns"])
        with self.client.get(
            f"/api/v1/customers/{msisdn}/", headers=self.headers, name="GET /customers/{msisdn}/", catch_response=True
        ) as r:
            if r.status_code == 200:
                r.success()
            else:
                r.failure(f"{r.status_code} {(r.text or '')[:200]}")

    @task(10)
    def push_bills(self):
        rows = [
            {"msisdn": m, "month": DATA["bill_month"], "amount": f"{self.rng.uniform(30, 3000):.2f}", "paid": True}
            for m in self.rng.sample(DATA["msisdns"], 10)
        ]
        self._post("/api/v1/bills/bulk/", rows, "POST /bills/bulk/ (10 rows)", ok=(200,))

    @task(6)
    def event(self):
        now = dt.datetime.now(ZONE)
        body = {
            "event_id": f"load-{uuid.uuid4().hex}",
            "type": "plan_changed",
            "msisdn": self.rng.choice(DATA["active"]),
            "occurred_at": now.isoformat(timespec="seconds"),
            "data": {"plan_code": self.rng.choice(DATA["plans"]), "started_on": now.date().isoformat()},
        }
        self._post("/api/v1/events/", body, "POST /events/ plan_changed", ok=(201,))

    @task(4)
    def redeem_points(self):
        body = {"msisdn": self.rng.choice(DATA["points"]), "points": self.rng.randint(1, 5), "reference": "load"}
        self._post("/api/v1/points/redemptions/", body, "POST /points/redemptions/", ok=(201,), key=True)

    @task(3)
    def redeem_benefit(self):
        msisdn, benefit = self.rng.choice(DATA["benefits"])
        body = {"msisdn": msisdn, "benefit": benefit, "quantity": 1, "reference": "load"}
        self._post("/api/v1/benefits/redemptions/", body, "POST /benefits/redemptions/", ok=(201,), key=True)

    @task(7)
    def contact(self):
        body = {
            "msisdn": self.rng.choice(DATA["assigned"]),
            "channel": "call",
            "outcome": "reached",
            "note": "load test",
            "occurred_at": dt.datetime.now(ZONE).isoformat(timespec="seconds"),
        }
        self._post("/api/v1/contact-logs/", body, "POST /contact-logs/", ok=(201,))


def _code(response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
