"""The table of command handlers, and helpers to read CloudStack's JSON command objects."""

from ovm3.cloudstack.cs_fields import short_name
from ovm3.errors import CommandError, Refused  # noqa: F401  (re-exported for the handler modules)

#: short command class name -> (handler function, short answer class name)
HANDLERS = {}


def handles(command, answer="Answer"):
    """Register ``fn(resource, cmd) -> answer dict`` for one CloudStack command class."""

    def register(fn):
        HANDLERS[command] = (fn, answer)
        return fn

    return register


def unwrap(obj):
    """A polymorphic transfer object ``{"<java class>": {...}}`` -> ``(short class, fields)``.

    Plain objects (no class wrapper) give ``(None, obj)``; None gives ``(None, {})``.
    """
    if obj is None:
        return None, {}
    if not isinstance(obj, dict):
        raise CommandError("expected an object, got %s" % type(obj).__name__)
    if len(obj) == 1:
        key, value = next(iter(obj.items()))
        if "." in key and isinstance(value, dict):
            return short_name(key), value
    return None, obj


def need(obj, key, what=None):
    """``obj[key]``, or a :class:`CommandError` naming the missing field."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value in (None, ""):
        raise CommandError("missing field %r%s" % (key, " in " + what if what else ""))
    return value
