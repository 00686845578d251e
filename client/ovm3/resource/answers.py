"""Answers as CloudStack reads them: ``{"<java answer class>": {result, details, contextMap, wait, ...}}``."""

from ovm3.redact import redact_text, redact_value
from ovm3.resource.cs_fields import java_class, short_name

UNSUPPORTED = "UnsupportedAnswer"
GENERIC = "Answer"


def answer(name, result=True, details=None, **fields):
    """One answer object; ``fields`` are the answer class's own fields (secrets are masked)."""
    body = {
        "result": bool(result),
        "details": redact_text(details) if details is not None else None,
        "contextMap": {},
        "wait": 0,
    }
    body.update(redact_value(fields))
    return {java_class(name): body}


def failure(name, details, **fields):
    """A failed answer of the command's own answer type."""
    return answer(name, False, details, **fields)


def unsupported(command_name):
    """CloudStack's answer for a command this resource does not serve."""
    return answer(
        UNSUPPORTED,
        False,
        "Unsupported command issued: %s. This OVM3 resource does not serve it" % short_name(command_name),
    )


def body(ans):
    """The inner object of an answer."""
    return next(iter(ans.values()))


def answer_class(ans):
    """The short class name of an answer."""
    return short_name(next(iter(ans)))


def ok(ans):
    return bool(body(ans).get("result"))
