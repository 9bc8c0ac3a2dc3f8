FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY . .
RUN pip install --no-cache-dir . \
 && DJANGO_SECRET_KEY=collectstatic-only DJANGO_DEBUG=false python manage.py collectstatic --noinput \
 && useradd --create-home vipclub && chown -R vipclub /app/var
USER vipclub
EXPOSE 8000
# The PII filter on gunicorn's own logs (access log lines carry msisdns in URLs): core.logging.GunicornLogger.
CMD ["gunicorn", "vipclub.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", \
     "--logger-class", "core.logging.GunicornLogger"]
