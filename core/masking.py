"""Masking of personal data for lists and logs."""


def mask_msisdn(msisdn: str | None) -> str:
    """`13812345678` -> `138****5678`."""
    if not msisdn:
        return ""
    if len(msisdn) < 8:
        return "*" * len(msisdn)
    return f"{msisdn[:3]}****{msisdn[-4:]}"


def mask_id_number(id_number: str | None) -> str:
    """`440106199001011234` -> `440106********1234` (region code and last four kept)."""
    if not id_number:
        return ""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return f"{id_number[:6]}{'*' * (len(id_number) - 10)}{id_number[-4:]}"
