"""Answers as CloudStack reads them: ``{"<java answer class>": {result, details, contextMap, wait, ...}}``."""

import re

from ovm3.redact import MASK, redact_text, redact_value
from ovm3.cloudstack.cs_fields import java_class, short_name

_SECRET_NAME = re.compile(r"(?i)passw(or)?d|secret|private_?key|api_?key|token")
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
    body.update(mask_secrets(redact_value(fields)))
    return {java_class(name): body}


def mask_secrets(value, depth=0):
    """Mask every member whose name says it is a secret (``vncPassword``, ``secretKey``...) at any depth."""
    if depth > 30:
        return MASK
    if isinstance(value, dict):
        return {
            k: (MASK if _SECRET_NAME.search(str(k)) and v not in (None, "") else mask_secrets(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(v, depth + 1) for v in value]
    return value


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
