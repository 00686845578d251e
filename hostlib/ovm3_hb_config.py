"""The heartbeat daemon's configuration: the ``KEY=value`` file, its defaults and its validation.

The file (``/etc/sysconfig/ovm3-heartbeat``, written by deployment) is the single source of the host's
guid, the monitored mounts and the timings; command-line flags override it. Shared by the daemon
(fencing/) and the agent module (agent_module/), so it lives in hostlib/. dom0 Python 2.4..3.x.
"""
import os
import re
import shlex
import sys

import ovm3_compat

DEFAULT_CONFIG = "/etc/sysconfig/ovm3-heartbeat"
DEFAULT_STATE_DIR = "/var/run/ovm3-heartbeat"
DEFAULT_PID_FILE = "/var/run/ovm3-heartbeat.pid"
DEFAULT_LOCK_FILE = "/var/run/ovm3-heartbeat.lock"
DEFAULT_REPOSITORIES = "/OVS/Repositories"
DEFAULT_MOUNTINFO = "/proc/self/mountinfo"
DEFAULT_SYSRQ_TRIGGER = "/proc/sysrq-trigger"
DEFAULT_SYSRQ_CONTROL = "/proc/sys/kernel/sysrq"
DEFAULT_O2CB_CONFIG = "/etc/sysconfig/o2cb"
DEFAULT_BOOT_ID = "/proc/sys/kernel/random/boot_id"

# CloudStack's storagehealth.py defaults (ovm3.heartbeat.interval / .timeout).
DEFAULT_INTERVAL = 1.0
DEFAULT_TIMEOUT = 120.0
DEFAULT_FENCE_ACTION = "crash"
DEFAULT_POLICY = "any"

FENCE_ACTIONS = ("crash", "reboot", "log-only")
#: Fence actions that certainly stop the host (a peer may count on them).
REAL_FENCES = ("crash", "reboot")
POLICIES = ("any", "all")
NFS_TYPES = ("nfs", "nfs4")

# Anchored with \Z: "$" would also match before a trailing newline.
_GUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}\Z")
# The init script sources the file as shell: a path must mean the same to sh as to this parser.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_./@+:-]*\Z")
_KEY = re.compile(r"[A-Z][A-Z0-9_]*\Z")

#: Keys of the config file and the config dict key each one fills.
FILE_KEYS = {
    "GUID": "guid", "MOUNTS": "mounts", "INTERVAL": "interval", "TIMEOUT": "timeout",
    "FENCE_ACTION": "fence_action", "POLICY": "policy", "WATCHDOG": "watchdog",
    "STATE_DIR": "state_dir", "MARGIN": "margin", "REPOSITORIES": "repositories",
    "WATCHDOG_TIMEOUT": "watchdog_timeout",
    "PID_FILE": "pid_file", "LOCK_FILE": "lock_file", "MOUNTINFO": "mountinfo", "BOOT_ID": "boot_id",
    "SYSRQ_TRIGGER": "sysrq_trigger", "SYSRQ_CONTROL": "sysrq_control", "O2CB_CONFIG": "o2cb_config",
    "PYTHON": "python", "DAEMON": "daemon", "SUBSYS_LOCK": "subsys_lock",
}

#: System paths the daemon touches, each settable in the config file (command-line flags still win), so
#: a deployment under another root keeps every one of them inside that root.
PATH_KEYS = ("pid_file", "lock_file", "mountinfo", "boot_id", "sysrq_trigger", "sysrq_control",
             "o2cb_config")
#: Keys only the init script reads (it sources the file): the interpreter, the daemon, its subsys lock.
INIT_KEYS = ("python", "daemon", "subsys_lock")


class ConfigError(Exception):
    """The configuration is missing, unreadable or invalid; the message says which key and why."""


def defaults():
    """A config dict with every key at its default (no guid, no explicit mounts)."""
    return {
        "guid": None, "mounts": [], "interval": DEFAULT_INTERVAL, "timeout": DEFAULT_TIMEOUT,
        "fence_action": DEFAULT_FENCE_ACTION, "policy": DEFAULT_POLICY, "watchdog": None,
        "state_dir": DEFAULT_STATE_DIR, "margin": None, "repositories": DEFAULT_REPOSITORIES,
        "config_path": None,
        "watchdog_timeout": None,
        "pid_file": DEFAULT_PID_FILE, "lock_file": DEFAULT_LOCK_FILE, "mountinfo": DEFAULT_MOUNTINFO,
        "boot_id": DEFAULT_BOOT_ID, "sysrq_trigger": DEFAULT_SYSRQ_TRIGGER,
        "sysrq_control": DEFAULT_SYSRQ_CONTROL, "o2cb_config": DEFAULT_O2CB_CONFIG,
        "python": None, "daemon": None, "subsys_lock": None,
    }


def paths_of(config):
    """The daemon's system paths (see :data:`PATH_KEYS`) as set in ``config``."""
    out = {}
    for key in PATH_KEYS:
        out[key] = config[key]
    return out


def valid_guid(guid):
    """True for a guid usable in a file name (``.hb-<guid>``): letters, digits and ``_.:@+-``."""
    return bool(guid) and bool(_GUID.match(guid)) and not guid.endswith(".tmp")


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_config_text(text, path="<config>"):
    """``KEY=value`` lines (``#`` comments, optional quotes) -> config dict over the defaults."""
    raw = {}
    lineno = 0
    for line in text.splitlines():
        lineno = lineno + 1
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError("%s:%d: expected KEY=value, got %r" % (path, lineno, line))
        key, value = line.split("=", 1)
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export "):].strip()
        if not _KEY.match(key):
            raise ConfigError("%s:%d: bad key %r" % (path, lineno, key))
        if key == "PROC_MOUNTS":
            raise ConfigError("%s:%d: PROC_MOUNTS was replaced by MOUNTINFO (a /proc/self/mountinfo table: "
                              "the daemon needs each mount's device id); redeploy the config" % (path, lineno))
        if key not in FILE_KEYS:
            raise ConfigError("%s:%d: unknown key %s (known: %s)" % (
                path, lineno, key, " ".join(sorted(FILE_KEYS.keys()))))
        raw[FILE_KEYS[key]] = _unquote(value)
    config = defaults()
    config["config_path"] = path
    apply_overrides(config, raw)
    return config


def apply_overrides(config, raw):
    """Set string values (from the file or the command line) on ``config``, converting types."""
    for key in raw.keys():
        value = raw[key]
        if value is None:
            continue
        if key == "mounts":
            if isinstance(value, (list, tuple)):
                config["mounts"] = list(value)
            else:
                config["mounts"] = value.split()
        elif key in ("interval", "timeout", "margin", "watchdog_timeout"):
            config[key] = _seconds(key, value)
        elif key in ("watchdog", "guid") and value == "":
            config[key] = None
        else:
            config[key] = value
    return config


def _seconds(key, value):
    if value == "" and key in ("margin", "watchdog_timeout"):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError("%s must be a number of seconds, not %r" % (key.upper(), value))
    if number != number or number <= 0 or number > 86400:
        raise ConfigError("%s must be between 0 and 86400 seconds, not %r" % (key.upper(), value))
    return number


def parse_fence_action(action):
    """``'crash'``, ``'reboot'``, ``'log-only'`` or ``'command:<argv>'`` -> (kind, argv or None)."""
    if action in FENCE_ACTIONS:
        return action, None
    if action and action.startswith("command:"):
        try:
            argv = shlex.split(action[len("command:"):])
        except ValueError:
            raise ConfigError("FENCE_ACTION command cannot be split into words: %s" % sys.exc_info()[1])
        if not argv or not os.path.isabs(argv[0]):
            raise ConfigError("FENCE_ACTION command:<argv> needs an absolute program path, got %r" % action)
        return "command", argv
    raise ConfigError("FENCE_ACTION must be crash, reboot, log-only or command:<argv>, not %r" % (action,))


def validate(config, need_guid=True):
    """Check a config dict; raise :class:`ConfigError` naming the key. Returns the config."""
    guid = config.get("guid")
    if need_guid and not guid:
        raise ConfigError("GUID is not set (config file GUID=... or -g/--guid)")
    if guid and not valid_guid(guid):
        raise ConfigError("GUID %r is not usable in a file name (letters, digits, _.:@+- only)" % (guid,))
    if config["interval"] >= config["timeout"]:
        raise ConfigError("INTERVAL (%s s) must be shorter than TIMEOUT (%s s)" % (
            config["interval"], config["timeout"]))
    parse_fence_action(config["fence_action"])
    wd_timeout = config.get("watchdog_timeout")
    if wd_timeout is not None and wd_timeout <= 2 * config["interval"]:
        raise ConfigError("WATCHDOG_TIMEOUT (%s s) must exceed 2 x INTERVAL (%s s): the daemon pets once "
                          "per interval" % (wd_timeout, config["interval"]))
    if config["policy"] not in POLICIES:
        raise ConfigError("POLICY must be any or all, not %r" % (config["policy"],))
    for mount in config["mounts"]:
        _check_path("MOUNTS entries", mount)
    for key in ("state_dir", "repositories") + PATH_KEYS:
        _check_path(key.upper(), config.get(key))
    for key in ("watchdog",) + INIT_KEYS:
        if config.get(key):
            _check_path(key.upper(), config[key])
    if config["pid_file"] == config["lock_file"]:
        # The pid file is replaced by rename: sharing it would drop the lock and let a second daemon in.
        raise ConfigError("PID_FILE and LOCK_FILE must be different files, both are %r" % (config["pid_file"],))
    for key in ("pid_file", "lock_file"):
        if config[key] == config["state_dir"]:
            raise ConfigError("%s must not be STATE_DIR (%r)" % (key.upper(), config["state_dir"]))
    return config


def _check_path(name, value):
    """``value`` is an absolute, normalised path of plain characters (no spaces, quotes or ``$``)."""
    if not value or not os.path.isabs(value):
        raise ConfigError("%s must be an absolute path, not %r" % (name, value))
    if not _PLAIN_PATH.match(value):
        raise ConfigError("%s %r holds characters the init script's shell would read differently "
                          "(allowed: letters, digits and _./@+:-)" % (name, value))
    if value != "/" and (value.endswith("/") or "//" in value or "/./" in value + "/" or "/../" in value + "/"):
        raise ConfigError("%s must be a normalised path (no '..', '.', '//' or trailing '/'), not %r"
                          % (name, value))


def load_config(path=DEFAULT_CONFIG, need_guid=False):
    """Read and validate the config file at ``path`` -> dict (see :data:`FILE_KEYS`).

    Keys: guid, mounts (list), interval, timeout, margin (floats, seconds; margin None = computed),
    fence_action, policy, watchdog (None = none), watchdog_timeout (None = not set), state_dir,
    repositories, config_path.
    """
    try:
        f = open(path, "r")
    except (IOError, OSError):
        raise ConfigError("cannot read config %s: %s" % (path, sys.exc_info()[1]))
    try:
        text = f.read(256 * 1024)
    finally:
        f.close()
    return validate(parse_config_text(text, path), need_guid=need_guid)


def dead_margin(interval, margin=None):
    """Seconds a peer waits beyond the writer's timeout before DEAD: the writer's check granularity
    (one interval), one more interval for the fence to start, and one second of scheduling slack."""
    if margin is not None:
        return margin
    return 2 * interval + 1.0


def o2cb_fence_seconds(path=DEFAULT_O2CB_CONFIG):
    """Seconds after which o2cb self-fences on lost disk heartbeat, or None when o2cb is not set up.

    o2cb fences after (O2CB_HEARTBEAT_THRESHOLD - 1) * 2 s; OVM ships threshold 61, i.e. 120 s.
    """
    try:
        f = open(path, "r")
    except (IOError, OSError):
        return None
    try:
        text = f.read(65536)
    finally:
        f.close()
    threshold = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("O2CB_HEARTBEAT_THRESHOLD="):
            try:
                threshold = int(_unquote(line.split("=", 1)[1]))
            except ValueError:
                return None
    if threshold is None or threshold < 2:
        return None
    return (threshold - 1) * 2.0


def o2cb_warning(config, path=DEFAULT_O2CB_CONFIG):
    """A warning when our timeout could race o2cb's own self-fence, else None."""
    o2cb = o2cb_fence_seconds(path)
    if o2cb is None:
        return None
    if config["timeout"] + 2 * config["interval"] >= o2cb:
        return ("TIMEOUT %s s races o2cb, which self-fences after %s s of lost disk heartbeat: o2cb may "
                "reboot the host first (no kdump evidence, no log of ours). Keep TIMEOUT well below %s s, "
                "and let the management side wait for the longer of the two before taking over" % (
                    config["timeout"], o2cb, o2cb))
    return None


# ---- planned removal: the agent module asks, the daemon answers, through files in STATE_DIR -----------

REMOVAL_PREFIX = "remove-"
_REMOVAL_NAME = re.compile(r"remove-[0-9a-f]{32}\Z")


def removal_file(state_dir, mount):
    """The request file announcing that ``mount`` is about to be unmounted on purpose (named by the
    MD5 of the path, which the file holds: a path can be longer than a file name)."""
    return os.path.join(state_dir, REMOVAL_PREFIX + ovm3_compat.md5_hex(mount))


def request_removal(state_dir, mount):
    """Announce a planned unmount of ``mount``: the daemon records ``stopped`` there, stops monitoring
    it, and then deletes the request file (returned), which is the requester's answer."""
    path = removal_file(state_dir, mount)
    ovm3_compat.write_file_atomic(path, mount + "\n", int("644", 8))
    return path


def removal_requests(state_dir):
    """[(mount, request file)] announced in ``state_dir`` (malformed requests are ignored)."""
    out = []
    try:
        names = os.listdir(state_dir)
    except OSError:
        return out
    for name in names:
        if not _REMOVAL_NAME.match(name):
            continue
        path = os.path.join(state_dir, name)
        try:
            mount = ovm3_compat.read_file(path, 8192).rstrip("\n")
        except (IOError, OSError):
            continue
        if mount and removal_file(state_dir, mount) == path:
            out.append((mount, path))
    return out
