from django.core.management.base import BaseCommand, CommandError

from customers.models import Customer
from points import services

from ._dates import parse_day


class Command(BaseCommand):
    help = "Compute the credit stars (DOMAIN §7) as of --date for every customer, or one (--msisdn), and store them."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default today)")
        parser.add_argument("--msisdn", help="only this customer (on demand)")

    def handle(self, *args, **opts):
        day = parse_day(opts["date"])
        if opts["msisdn"]:
            customer = Customer.objects.filter(msisdn=opts["msisdn"]).first()
            if customer is None:
                raise CommandError(f"No customer {opts['msisdn']}.")
            rating = services.credit_rating_refresh(customer=customer, on=day)
            self.stdout.write(self.style.SUCCESS(f"{rating.stars} stars (score {rating.score}) on {day}."))
            return
        job = services.credit_ratings_compute(on=day, actor="credit_stars")
        stars = ", ".join(f"{k}★ {v:,}" for k, v in sorted(job.counts.get("stars", {}).items()))
        self.stdout.write(self.style.SUCCESS(f"Credit stars on {day}: {stars or 'no customers'}."))
