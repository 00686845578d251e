"""Converters for plain (non-document) replies. Placeholder: the parser work completes this module."""
from ovm3.errors import ParseError


def to_void(value):
    return value


def to_any(value):
    return value


def to_str(value):
    if value is None:
        return None
    if not isinstance(value, (str, int)):
        raise ParseError("expected a string, got %s" % type(value).__name__)
    return str(value)


def to_bool(value):
    if not isinstance(value, bool):
        raise ParseError("expected a boolean, got %s" % type(value).__name__)
    return value
