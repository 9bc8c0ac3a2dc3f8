"""Personal data never reaches the logs: msisdns and ID numbers are masked in every record (DOMAIN: PII).

`MaskPIIFilter` is wired on every handler of `settings.LOGGING` (a handler filter sees the records of all
loggers, a logger filter only its own), so Django's request logs and the apps' all pass through it. Celery would
install handlers of its own (the task loggers' bypass the root's): `celery_keep_django_logging`, connected to its
`setup_logging` signal by vipclub/celery.py, keeps Django's configuration in the worker and beat instead. Gunicorn
logs on its own handlers: `--logger-class core.logging.GunicornLogger` masks its access and error logs the same way
(URLs carry msisdns).
"""

import logging
import logging.config
import re

from .masking import mask_id_number, mask_msisdn

# An 18-character resident ID number (17 digits and a digit or X check character) or a legacy 15-digit one,
# and an 11-digit mobile number (1xx xxxx xxxx, maybe after +86); neither may be part of a longer run of digits.
ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
MSISDN_RE = re.compile(r"(?<!\d)(\+?86)?(1\d{10})(?!\d)")


def mask_pii(text: str) -> str:
    """Mask every ID number and msisdn in free text: `13812345678` -> `138****5678`."""
    if not text:
        return text
    text = ID_NUMBER_RE.sub(lambda m: mask_id_number(m.group()), text)
    return MSISDN_RE.sub(lambda m: (m.group(1) or "") + mask_msisdn(m.group(2)), text)


class MaskPIIFilter(logging.Filter):
    """Rewrites a record's message (arguments merged in), exception text and stack with the PII masked."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: leave it to the handler's error reporting
            return True
        masked = mask_pii(message)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        record._pii_masked = True
        return True


def celery_keep_django_logging(**kwargs) -> None:
    """Receiver of Celery's `setup_logging`: configure logging from settings.LOGGING (masking handlers) and let
    Celery install no handlers of its own (it does none when a receiver answers)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


try:  # gunicorn is a dependency of the project, absent only where nothing serves HTTP
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = None

if _GunicornLogger is not None:

    class GunicornLogger(_GunicornLogger):
        """Gunicorn's logger with the PII filter on its error and access logs (`--logger-class`)."""

        def setup(self, cfg):
            super().setup(cfg)
            for log in (self.error_log, self.access_log):
                if not any(isinstance(f, MaskPIIFilter) for f in log.filters):
                    log.addFilter(MaskPIIFilter())
