FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# pg_dump and pg_restore of PostgreSQL 15 for manage.py backup/restore: bookworm's, the major version of the
# compose stack's server (postgres:15): pg_dump refuses a server newer than itself, and one major version keeps
# dumps and restores compatible.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY . .
RUN pip install --no-cache-dir . \
 && DJANGO_SECRET_KEY=collectstatic-only DJANGO_DEBUG=false python manage.py collectstatic --noinput \
 && useradd --create-home vipclub && mkdir -p /backups && chown -R vipclub /app/var /backups
USER vipclub
EXPOSE 8000
# The PII filter on gunicorn's own logs (access log lines carry msisdns in URLs): core.logging.GunicornLogger.
CMD ["gunicorn", "vipclub.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", \
     "--logger-class", "core.logging.GunicornLogger"]
