"""docker-compose.yml (issue 8, point 7): the full stack from one image and one environment, with health checks,
migrations once before the app starts. Parsed here (no Docker engine in CI); `docker compose config` validates it
too where a Compose CLI is installed."""

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.models import JobHeartbeat

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"migrate", "web", "worker", "beat", "backup"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_stack_has_its_services(compose):
    assert set(compose["services"]) == {"postgres", "pgbouncer", "redis"} | APP_SERVICES


def test_the_app_services_share_one_image_and_one_environment(compose):
    services = compose["services"]
    app = [services[name] for name in sorted(APP_SERVICES)]
    # one image, built from the Dockerfile at the root
    assert {s["image"] for s in app} == {"vipclub:latest"}
    assert {s["build"] for s in app} == {"."}
    assert (ROOT / "Dockerfile").is_file()
    # one environment: production settings, the database and Redis of the stack, a secret that must be given
    env = app[0]["environment"]
    assert all(s["environment"] == env for s in app)
    assert env["DJANGO_DEBUG"] == "false"
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    # the database through PgBouncer, and PostgreSQL itself for what needs a session (pg_dump, pg_restore)
    assert "@pgbouncer:6432/vipclub" in env["DATABASE_URL"] and "@postgres:5432/vipclub" in env["DATABASE_DIRECT_URL"]
    assert env["DATABASE_POOL_MAX_SIZE"].startswith("${DATABASE_POOL_MAX_SIZE:-")
    assert "127.0.0.1" in env["DJANGO_ALLOWED_HOSTS"]  # the health checks call 127.0.0.1


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name == "migrate":
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"
        assert check.get("interval") and check.get("retries"), name
    web = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "/api/v1/health/" in web
    assert "heartbeat_check" in compose["services"]["beat"]["healthcheck"]["test"]


def test_the_app_starts_after_healthy_services_and_migrations_run_once(compose):
    services = compose["services"]
    # migrations: one one-shot service, after the database is healthy
    migrate = services["migrate"]
    assert migrate["command"][-2:] == ["migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("web", "worker", "beat", "backup"):
        depends = services[name]["depends_on"]
        assert depends["postgres"] == depends["pgbouncer"] == depends["redis"] == {"condition": "service_healthy"}, name
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert "migrate" not in " ".join(services[name]["command"]), f"{name} must not migrate"


def test_the_commands(compose):
    services = compose["services"]
    web = services["web"]["command"]
    assert web[0] == "gunicorn" and "vipclub.wsgi:application" in web
    assert web[web.index("--logger-class") + 1] == "core.logging.GunicornLogger"  # PII masked in access logs
    assert services["worker"]["command"][:4] == ["celery", "-A", "vipclub", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "vipclub", "beat"]
    # exactly one beat
    assert "deploy" not in services["beat"] and "scale" not in services["beat"]
    assert sum("beat" in s.get("command", []) for s in services.values()) == 1


def test_pgbouncer_pools_transactions_from_debian_s_package(compose):
    pgbouncer = compose["services"]["pgbouncer"]
    assert pgbouncer["environment"]["POOL_MODE"] == "transaction"
    assert pgbouncer["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "6432" in pgbouncer["healthcheck"]["test"]
    dockerfile = (ROOT / pgbouncer["build"] / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM debian:" in dockerfile and "apt-get install" in dockerfile
    assert "pgbouncer" in dockerfile.split("apt-get install", 1)[1].split("\n", 1)[0]
    entrypoint = (ROOT / pgbouncer["build"] / "entrypoint.sh").read_text()
    assert "pool_mode = ${POOL_MODE:-transaction}" in entrypoint and "exec pgbouncer" in entrypoint


def test_backups_run_on_a_schedule_into_a_volume(compose):
    backup = compose["services"]["backup"]
    loop = " ".join(backup["command"])
    assert "python manage.py backup --dir /backups --keep" in loop and "sleep ${BACKUP_INTERVAL:-86400}" in loop
    assert backup["volumes"] == ["backups:/backups"] and "backups" in compose["volumes"]
    assert "/backups" in " ".join(backup["healthcheck"]["test"])
    # the app image carries pg_dump and pg_restore, and /backups is writable by its user
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "postgresql-client" in dockerfile and "chown -R vipclub /app/var /backups" in dockerfile


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_is_valid(tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Compose CLI (docker compose / docker-compose) installed; the file is checked above")
    env = {**os.environ, "DJANGO_SECRET_KEY": "compose-config-check"}
    result = subprocess.run([*cli, "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # and the secret is mandatory
    env.pop("DJANGO_SECRET_KEY")
    (tmp_path / "empty.env").write_text("")
    missing = subprocess.run(
        [*cli, "--env-file", str(tmp_path / "empty.env"), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and "DJANGO_SECRET_KEY" in missing.stderr


@pytest.mark.django_db
def test_the_beat_health_check_fails_when_the_heartbeat_is_stale():
    # no heartbeat yet: unhealthy
    with pytest.raises(CommandError, match="No 'beat' heartbeat"):
        call_command("heartbeat_check")
    # a recent one: healthy
    JobHeartbeat.objects.create(name="beat", last_run_at=timezone.now() - dt.timedelta(seconds=70))
    call_command("heartbeat_check", "--max-age", "300")
    # a stale one: unhealthy
    JobHeartbeat.objects.filter(name="beat").update(last_run_at=timezone.now() - dt.timedelta(minutes=10))
    with pytest.raises(CommandError, match="600 s old"):
        call_command("heartbeat_check", "--max-age", "300")
