"""Turn an agent fault (code 1, ``<module>.<Class>:<message>``) into a typed error."""
import re

from ovm3 import errors
from ovm3.redact import mask_values, redact_text

# (pattern on the agent message or exception class, error class). First match wins.
_RULES = (
    (re.compile(r"not simulated", re.I), errors.NotSimulatedFault),
    # Python's SimpleXMLRPCServer (ovs-agent's dispatcher) for a name nothing registered; Python 2.6+
    # writes the class as "<type 'exceptions.Exception'>", which leaves the text unsplit.
    (re.compile(r'(^|:)method "[^"]*" is not supported\Z'), errors.UnknownMethodFault),
    (re.compile(r"Errno.?17|File exists", re.I), errors.FileExistsFault),
    (re.compile(r"Errno.?2\b|No such file or directory", re.I), errors.NoSuchFileFault),
    (re.compile(r"already a member of (a )?pool", re.I), errors.AlreadyInPoolFault),
    (re.compile(r"Repository already exists", re.I), errors.RepositoryExistsFault),
    (re.compile(r"Invalid roles", re.I), errors.InvalidRolesFault),
    (re.compile(r"no such (vm|domain)|(vm|domain) .*(not found|does not exist)|Domain not found", re.I),
     errors.NoSuchVMFault),
    (re.compile(r"Is Busy", re.I), errors.BridgeBusyFault),
    (re.compile(r"^(ovm3_agent\.)?ValidationError\Z|invalid argument", re.I), errors.ValidationFault),
)
_SPLIT = re.compile(r"^\s*([A-Za-z_][\w.]*(?:\s[A-Za-z_]\w*)?)\s*:(.*)\Z", re.S)


def split_fault_string(fault_string):
    """``"exceptions.Exception:Repository already exists"`` -> ``("exceptions.Exception", "Repository...")``.

    Also copes with the space-separated form ``"exceptions OSError:[Errno.17] ..."`` seen in recordings.
    Returns ``(None, fault_string)`` when there is no class prefix.
    """
    text = fault_string if isinstance(fault_string, str) else repr(fault_string)
    m = _SPLIT.match(text)
    if not m:
        return None, text
    cls = m.group(1).replace(" ", ".")
    return cls, m.group(2).strip()


def fault_error(code, fault_string, host=None, method=None, args=None, secrets=()):
    """The typed :class:`ovm3.errors.AgentFault` for one fault.

    ``secrets``: the secret strings the call sent (:func:`ovm3.redact.secret_values`); agents quote
    their arguments in fault text, so each is masked wherever it appears.
    """
    fault_string = mask_values(fault_string, secrets)
    cls_name, message = split_fault_string(fault_string)
    error_cls = errors.AgentFault
    for pattern, candidate in _RULES:
        if pattern.search(message) or (cls_name and pattern.search(cls_name)):
            error_cls = candidate
            break
    shown = redact_text(message)
    text = "agent raised %s: %s" % (cls_name or "a fault", shown)
    return error_cls(text, fault_code=code, fault_string=redact_text(str(fault_string)),
                     agent_exception=cls_name, agent_message=shown, host=host, method=method, args=args)
