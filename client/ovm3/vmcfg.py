"""The VM configuration model: vm.cfg values as the agent's ``create_vm``/``configure_vm``/``get_vm_config``
carry them (reference §7), and the on-disk ``vm.cfg`` text.

Usage::

    cfg = VmConfig(name="i-2-3-VM", uuid="868a6627-...", memory=512, vcpus=1)
    cfg.add_disk("/OVS/Repositories/<repo>/VirtualDisks/<uuid>.raw")   # xvda, mode w
    cfg.add_iso("/OVS/Repositories/<repo>/ISOs/systemvm.iso")            # xvdb:cdrom, mode r
    cfg.add_vif("02:00:50:9a:00:01", "xenbr0")
    cfg.set_vnc("0.0.0.0", password)
    agent.xen.create_vm(repo_id, cfg.uuid, cfg.to_params())
    VmConfig.from_params(agent.xen.get_vm_config(repo_id, vm_id, raw=True))

String formats: disks ``<uname>,<device>[:cdrom],<mode>`` (``file:/path,xvda,w``; modes ``w``, ``w!``
shared, ``r``, ``r!``), vifs ``mac=..,bridge=..``, vfbs ``type=vnc,vnclisten=..,vncpasswd=..``. PV guests
name disks ``xvda``, ``xvdb``...; HVM guests ``hda``, ``hdb``... (the next free letter).

The vm.cfg text is Python-literal assignments (``name = 'x'``, ``disk = ['...']``); it is read with
``ast.parse`` plus ``ast.literal_eval`` per value, never executed. VNC passwords never appear in repr.
"""
import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Dict, List

from ovm3.errors import ParseError, UsageError
from ovm3.redact import MASK

#: vm.cfg texts larger than this are refused (a real one is well under 4 KiB).
MAX_CFG_BYTES = 1024 * 1024
DISK_MODES = ("w", "w!", "r", "r!", "rw")
_UNAME_PREFIXES = ("tap2:aio:", "tap:aio:", "file:", "phy:")
_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


def _parse_pairs(text, what):
    if not isinstance(text, str):
        raise ParseError("%s: expected a string, got %s" % (what, type(text).__name__))
    options = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ParseError("%s: %r is not key=value" % (what, part[:40]))
        options[key.strip()] = value.strip()
    return options


def _render_pairs(options):
    return ",".join("%s=%s" % (k, v) for k, v in options.items())


def _check_token(value, what):
    if not isinstance(value, str) or not value or "," in value or "=" in value or "\n" in value:
        raise UsageError("%s must be a non-empty string without ',', '=' or newlines, got %r" % (what, value))
    return value


@dataclass
class Disk:
    """One ``disk`` entry. ``uname`` keeps the scheme (``file:/OVS/...``); ``kind`` is ``cdrom`` or ""."""

    uname: str
    device: str
    mode: str = "w"
    kind: str = ""

    @property
    def path(self):
        """The image path without its ``file:``/``phy:``/``tap:aio:`` prefix."""
        for prefix in _UNAME_PREFIXES:
            if self.uname.startswith(prefix):
                return self.uname[len(prefix):]
        return self.uname

    @property
    def cdrom(self):
        return self.kind == "cdrom"

    @classmethod
    def parse(cls, text):
        """``file:/path,xvda[:cdrom],w`` -> Disk."""
        if not isinstance(text, str):
            raise ParseError("disk entry: expected a string, got %s" % type(text).__name__)
        parts = text.rsplit(",", 2)
        if len(parts) != 3:
            raise ParseError("disk entry %r: expected <uname>,<device>,<mode>" % text[:80])
        uname, device, mode = (p.strip() for p in parts)
        device, _, kind = device.partition(":")
        if not uname or not device or mode not in DISK_MODES:
            raise ParseError("disk entry %r: bad image, device or mode" % text[:80])
        return cls(uname, device, mode, kind)

    def render(self):
        return "%s,%s%s,%s" % (self.uname, self.device, ":" + self.kind if self.kind else "", self.mode)


@dataclass
class Vif:
    """One ``vif`` entry: ``mac=..,bridge=..`` (other keys, e.g. ``type=netfront``, are kept in order)."""

    options: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, mac, bridge):
        return cls({"mac": mac, "bridge": bridge})

    @property
    def mac(self):
        return self.options.get("mac", "")

    @property
    def bridge(self):
        return self.options.get("bridge", "")

    @classmethod
    def parse(cls, text):
        return cls(_parse_pairs(text, "vif entry"))

    def render(self):
        return _render_pairs(self.options)


@dataclass
class Vfb:
    """One ``vfb`` entry (``type=vnc,vncunused=1,vnclisten=..,keymap=..,vncpasswd=..``).

    The password is kept for rendering but masked in repr.
    """

    options: Dict[str, str] = field(default_factory=dict)

    def __repr__(self):
        shown = {k: (MASK if k == "vncpasswd" else v) for k, v in self.options.items()}
        return "Vfb(%s)" % _render_pairs(shown)

    @property
    def type(self):
        return self.options.get("type", "")

    @property
    def listen(self):
        return self.options.get("vnclisten", "")

    @property
    def has_password(self):
        return bool(self.options.get("vncpasswd"))

    @classmethod
    def parse(cls, text):
        return cls(_parse_pairs(text, "vfb entry"))

    def render(self):
        return _render_pairs(self.options)


def _as_str(value, key):
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ParseError("vm config %s: expected a string, got %s" % (key, type(value).__name__))


def _as_int(value, key):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value.strip())
    raise ParseError("vm config %s: expected a number, got %.40r" % (key, value))


def _as_bool(value, key):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ParseError("vm config %s: expected a boolean, got %.40r" % (key, value))


# (attribute, vm.cfg key, converter), in the order create_vm params are written.
_SCALARS = (
    ("name", "name", _as_str), ("simple_name", "OVM_simple_name", _as_str), ("uuid", "uuid", _as_str),
    ("memory", "memory", _as_int), ("vcpus", "vcpus", _as_int), ("maxvcpus", "maxvcpus", _as_int),
    ("cpu_weight", "cpu_weight", _as_int), ("cpu_cap", "cpu_cap", _as_int),
    ("on_reboot", "on_reboot", _as_str), ("on_poweroff", "on_poweroff", _as_str),
    ("on_crash", "on_crash", _as_str), ("bootloader", "bootloader", _as_str),
    ("bootargs", "bootargs", _as_str), ("extra", "extra", _as_str),
    ("guest_os_type", "guest_os_type", _as_str), ("domain_type", "OVM_domain_type", _as_str),
    ("high_availability", "OVM_high_availability", _as_bool), ("description", "OVM_description", _as_str),
    ("cpu_compat_group", "OVM_cpu_compat_group", _as_str),
)
_LISTS = (("disks", "disk", Disk), ("vifs", "vif", Vif), ("vfbs", "vfb", Vfb))
_KNOWN = frozenset([k for _, k, _ in _SCALARS] + [k for _, k, _ in _LISTS])


@dataclass(repr=False)
class VmConfig:
    """A VM's configuration. ``memory`` is in MiB; ``domain_type`` is ``xen_pvm``, ``hvm``, ``ldoms_pvm``
    or ``default``; keys the model does not know are kept in ``other`` and written back unchanged."""

    name: str = ""
    simple_name: str = ""
    uuid: str = ""
    memory: int = 256
    vcpus: int = 1
    maxvcpus: int = 0
    cpu_weight: int = 27500
    cpu_cap: int = 0
    on_reboot: str = "restart"
    on_poweroff: str = "destroy"
    on_crash: str = "restart"
    bootloader: str = "/usr/bin/pygrub"
    bootargs: str = ""
    extra: str = ""
    guest_os_type: str = "Other Linux"
    domain_type: str = "xen_pvm"
    high_availability: bool = False
    description: str = ""
    cpu_compat_group: str = ""
    disks: List[Disk] = field(default_factory=list)
    vifs: List[Vif] = field(default_factory=list)
    vfbs: List[Vfb] = field(default_factory=list)
    other: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.name and not self.simple_name:
            self.simple_name = self.name

    def __repr__(self):
        return "<VmConfig %s uuid=%s %s %dMiB vcpus=%s disks=%d vifs=%d vnc=%s>" % (
            self.name or "?", self.uuid or "?", self.domain_type, self.memory or 0, self.vcpus,
            len(self.disks), len(self.vifs), "yes" if self.vfbs else "no")

    @property
    def hvm(self):
        return "hvm" in (self.domain_type or "")

    # ---- conversion -----------------------------------------------------------------------------
    @classmethod
    def from_params(cls, params):
        """From a ``get_vm_config`` struct (or create_vm params). Raises :class:`ParseError` on bad types."""
        if not isinstance(params, dict):
            raise ParseError("vm config: expected a struct, got %s" % type(params).__name__)
        kw = {}
        for attr, key, conv in _SCALARS:
            if key in params and params[key] is not None:
                kw[attr] = conv(params[key], key)
        for attr, key, item_cls in _LISTS:
            items = params.get(key)
            if items is None:
                items = []
            if not isinstance(items, (list, tuple)):
                raise ParseError("vm config %s: expected an array, got %s" % (key, type(items).__name__))
            kw[attr] = [item_cls.parse(x) for x in items]
        kw["other"] = {k: v for k, v in params.items() if k not in _KNOWN}
        cfg = cls(**kw)
        if "OVM_simple_name" not in params:
            cfg.simple_name = ""
        return cfg

    def to_params(self):
        """The struct for ``create_vm``/``configure_vm`` (every standard key, then ``other``)."""
        out = {}
        for attr, key, _ in _SCALARS:
            out[key] = getattr(self, attr)
        if not out["OVM_simple_name"]:
            out["OVM_simple_name"] = self.name
        for attr, key, _ in _LISTS:
            out[key] = [item.render() for item in getattr(self, attr)]
        for k, v in self.other.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_cfg_text(cls, text):
        """From the text of a ``vm.cfg`` file."""
        return cls.from_params(parse_vm_cfg(text))

    def to_cfg_text(self):
        """The text of a ``vm.cfg`` file."""
        return render_vm_cfg(self.to_params())

    # ---- disks ----------------------------------------------------------------------------------
    def find_disk(self, path):
        for d in self.disks:
            if d.path == path or d.uname == path:
                return d
        return None

    def next_device(self):
        """The next free device name: ``xvdX`` for PV guests, ``hdX`` for HVM guests."""
        prefix = "hd" if self.hvm else "xvd"
        used = {d.device for d in self.disks}
        for i in range(26):
            dev = prefix + chr(ord("a") + i)
            if dev not in used:
                return dev
        raise UsageError("VM %s has no free disk device left" % (self.name or "?"))

    def add_disk(self, path, mode="w", device=None, scheme="file"):
        """Attach an image (``w`` root/private, ``w!`` shared writable, ``r`` read-only); an image that
        ends in ``.iso`` becomes a read-only cdrom. An image already attached is returned unchanged."""
        _check_token(path, "disk path")
        existing = self.find_disk(path)
        if existing is not None:
            return existing
        if mode not in DISK_MODES:
            raise UsageError("disk mode must be one of %s, got %r" % (", ".join(DISK_MODES), mode))
        kind = ""
        if path.lower().endswith(".iso"):
            kind, mode = "cdrom", "r"
        disk = Disk("%s:%s" % (scheme, path) if scheme else path, device or self.next_device(), mode, kind)
        self.disks.append(disk)
        return disk

    def add_iso(self, path, device=None):
        """Attach an ISO image as a read-only cdrom."""
        disk = self.add_disk(path, "r", device)
        disk.kind, disk.mode = "cdrom", "r"
        return disk

    def remove_disk(self, path):
        """Detach the image ``path``; True when it was attached."""
        disk = self.find_disk(path)
        if disk is None:
            return False
        self.disks.remove(disk)
        return True

    remove_iso = remove_disk

    # ---- network --------------------------------------------------------------------------------
    def vif_index(self, mac):
        """Position of the vif with ``mac`` (any case), -1 when there is none."""
        low = mac.lower()
        for i, v in enumerate(self.vifs):
            if v.mac.lower() == low:
                return i
        return -1

    def add_vif(self, mac, bridge):
        """Plug a NIC with ``mac`` on ``bridge``; refuses a MAC already present."""
        if not isinstance(mac, str) or not _MAC.fullmatch(mac):
            raise UsageError("not a MAC address: %r" % (mac,))
        _check_token(bridge, "bridge")
        if self.vif_index(mac) >= 0:
            raise UsageError("VM %s already has a vif with MAC %s" % (self.name or "?", mac))
        vif = Vif.make(mac, bridge)
        self.vifs.append(vif)
        return vif

    def remove_vif(self, mac):
        """Unplug the NIC with ``mac``; True when there was one."""
        i = self.vif_index(mac)
        if i < 0:
            return False
        del self.vifs[i]
        return True

    # ---- console --------------------------------------------------------------------------------
    def set_vnc(self, listen="0.0.0.0", password=None, keymap="en-us"):
        """Replace the frame buffers by one VNC console. ``password=None`` leaves the password to xend's
        default; ``""`` writes an explicitly empty one."""
        options = {"type": "vnc", "vncunused": "1", "vnclisten": _check_token(listen, "vnc listen address"),
                   "keymap": _check_token(keymap, "keymap")}
        if password is not None:
            options["vncpasswd"] = _check_token(password, "vnc password") if password else ""
        self.vfbs = [Vfb(options)]
        return self.vfbs[0]


# ---- vm.cfg text -------------------------------------------------------------------------------------
_LITERAL_TYPES = (str, int, float, bool, type(None))


def _check_literal(value, where, depth=0):
    if depth > 10:
        raise ParseError("vm.cfg %s: value nested too deeply" % where)
    if isinstance(value, _LITERAL_TYPES):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise ParseError("vm.cfg %s: non-finite number" % where)
        return value
    if isinstance(value, (list, tuple)):
        return [_check_literal(v, where, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ParseError("vm.cfg %s: dictionary keys must be strings" % where)
            out[k] = _check_literal(v, where, depth + 1)
        return out
    raise ParseError("vm.cfg %s: %s values are not allowed" % (where, type(value).__name__))


def _check_key(key):
    if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
        raise ParseError("vm.cfg key %r is not a plain name" % (key,))
    return key


def render_vm_cfg(params):
    """vm.cfg text for a params struct: one ``key = <Python literal>`` line per key, in order."""
    if not isinstance(params, dict):
        raise ParseError("vm.cfg: expected a struct, got %s" % type(params).__name__)
    lines = []
    for key, value in params.items():
        lines.append("%s = %r" % (_check_key(key), _check_literal(value, key)))
    return "\n".join(lines) + "\n"


def parse_vm_cfg(text):
    """The params struct of a vm.cfg text. Only ``name = <literal>`` assignments are allowed; the text is
    parsed, never executed. Raises :class:`ParseError` on anything else."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("vm.cfg is not UTF-8 text") from None
    if not isinstance(text, str):
        raise ParseError("vm.cfg: expected text, got %s" % type(text).__name__)
    if len(text) > MAX_CFG_BYTES:
        raise ParseError("vm.cfg of %d characters exceeds the %d cap" % (len(text), MAX_CFG_BYTES))
    try:
        tree = ast.parse(text, "vm.cfg", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise ParseError("vm.cfg is not valid: %s" % e) from None
    params = {}
    for stmt in tree.body:
        single = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
        if not (single and isinstance(stmt.targets[0], ast.Name)):
            raise ParseError("vm.cfg line %d: only 'name = value' assignments are allowed"
                             % getattr(stmt, "lineno", 0))
        key = _check_key(stmt.targets[0].id)
        try:
            value = ast.literal_eval(stmt.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise ParseError("vm.cfg line %d: value of %s is not a literal" % (stmt.lineno, key)) from None
        params[key] = _check_literal(value, key)
    return params
