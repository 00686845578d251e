"""The XML documents the agent returns inside strings: hardened parsing and the XPath helpers.

Every ``discover_*`` call answers one XML-RPC string holding a small XML document. It is parsed by lxml
with entity resolution, DTD loading and network access off, and a document that declares a DOCTYPE with
entities is refused before parsing (the agent never sends one). The helpers reproduce the semantics
CloudStack's objects layer gives these documents (reference §4), so gold values line up:

* :func:`xml_to_map`: for every matched node, every child node whose own child count is at most one
  gives ``map[name] = text content``; containers with two or more child nodes are skipped; later
  matches overwrite earlier keys.
* :func:`xml_to_list`: the text content of every match (attribute matches give their value).
* :func:`xml_to_string`: the text content of the first match, ``None`` when nothing matches.

XPath expressions take values through XPath variables (``$name``), never by string formatting.
"""
import re
import threading

from lxml import etree

from ovm3.errors import ParseError

#: Documents larger than this are refused (the biggest recorded one, discover_hardware, is ~20 KiB).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_ENTITY = re.compile(rb"<!ENTITY", re.I)
_local = threading.local()


def _parser():
    # One parser per thread: lxml parser objects must not be shared by concurrent threads.
    p = getattr(_local, "parser", None)
    if p is None:
        p = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                            dtd_validation=False, remove_comments=False, collect_ids=False)
        _local.parser = p
    return p


def parse_document(value, root=None, what=None):
    """Parse the XML document held in an XML-RPC string; return its root element.

    :param value: the decoded reply (``str``; ``bytes`` are accepted for tests and recordings).
    :param root: the expected root tag, e.g. ``"Discover_Server_Result"``; another root raises.
    :param what: a label for error messages (the agent method), defaults to ``root``.
    :raises ParseError: not a string, too big, hostile (DOCTYPE with entities), malformed, wrong root.
    """
    label = what or root or "document"
    if isinstance(value, str):
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("%s: reply holds characters that are not valid Unicode" % label) from None
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif value is None:
        raise ParseError("%s: agent returned nothing (nil) where an XML document was expected" % label)
    else:
        raise ParseError("%s: expected an XML document in a string, got %s" % (label, type(value).__name__))
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ParseError("%s: document of %d bytes exceeds the %d byte cap" % (label, len(data),
                                                                               MAX_DOCUMENT_BYTES))
    if not data or data.isspace():
        raise ParseError("%s: agent returned an empty string where an XML document was expected" % label)
    doctype = _DOCTYPE.search(data) if b"<!" in data else None
    if doctype and _ENTITY.search(data, doctype.end()):
        raise ParseError("%s: refused a document that declares entities (DOCTYPE with ENTITY)" % label)
    try:
        element = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise ParseError("%s: malformed XML: %s" % (label, _short(str(e)))) from None
    except (etree.LxmlError, ValueError, TypeError, MemoryError) as e:
        raise ParseError("%s: cannot parse XML: %s" % (label, _short(str(e)))) from None
    if element is None:
        raise ParseError("%s: no root element" % label)
    if element.getroottree().docinfo.internalDTD is not None:
        raise ParseError("%s: refused a document with a DOCTYPE (the agent never sends one)" % label)
    if _has_entity_refs(element):
        raise ParseError("%s: refused a document that uses entity references" % label)
    if root is not None and element.tag != root:
        raise ParseError("%s: expected root element <%s>, got <%s>" % (label, root, _short(str(element.tag))))
    return element


def _has_entity_refs(element):
    # With resolve_entities=False an entity reference survives as an _Entity node.
    for _ in element.iter(etree.Entity):
        return True
    return False


def _short(text, limit=200):
    return text if len(text) <= limit else text[:limit] + "..."


def xpath(node, expr, **variables):
    """Run an XPath 1.0 expression with ``$variables``; lxml errors become :class:`ParseError`."""
    try:
        return node.xpath(expr, **variables)
    except etree.XPathError as e:  # pragma: no cover - our expressions are constants
        raise ParseError("bad XPath %r: %s" % (expr, e)) from None


def text_content(node):
    """DOM ``textContent``: all descendant text, comments and processing instructions excluded."""
    if isinstance(node, str):
        return str(node)
    if len(node) == 0 and isinstance(node.tag, str):
        # A leaf element (no child elements, comments or PIs): its text is all of string(.), and
        # reading it directly skips an XPath evaluation (~6 us) per leaf (bench part 2).
        return node.text or ""
    return str(node.xpath("string(.)"))


def leaf_value(child):
    """The ``xml_to_map`` value of one child element, or None when the map skips it."""
    n = len(child)
    if n == 0:  # a leaf: at most one (text) child node, and its text is all of it
        return child.text or ""
    if n == 1 and not child.text and not child[0].tail:  # wraps exactly one node
        return text_content(child)
    return None  # two or more child nodes: skipped, as the reference's xmlToMap does


def child_map(node, keep_text=False):
    """The ``xml_to_map`` entries of one element (see module docstring)."""
    out = {}
    if node.text and keep_text:
        out["#text"] = node.text
    for child in node:
        tag = child.tag
        if isinstance(tag, str):
            if len(child) == 0:  # leaf_value's common case, inline: most children are leaves
                out[tag] = child.text or ""
            else:
                value = leaf_value(child)
                if value is not None:
                    out[tag] = value
        if child.tail and keep_text:
            out["#text"] = child.tail
    return out


def leaves(node, tags):
    """The ``child_map(node)`` entries named in ``tags`` (a set), in one pass and without the rest of the
    map; ``node`` may be None (no entries)."""
    out = {}
    if node is None:
        return out
    for child in node:
        tag = child.tag
        if tag in tags:
            value = leaf_value(child)
            if value is not None:
                out[tag] = value
    return out


def xml_to_map(node, expr, keep_text=False, **variables):
    """CloudStack's ``xmlToMap``: leaf children of every match, by element name.

    Text nodes (DOM name ``#text``) are left out unless ``keep_text``: they carry layout whitespace only.
    """
    out = {}
    for match in xpath(node, expr, **variables):
        if isinstance(match, str) or not isinstance(match.tag, str):
            continue
        out.update(child_map(match, keep_text))
    return out


def xml_to_list(node, expr, **variables):
    """CloudStack's ``xmlToList``: the text content of every match."""
    result = xpath(node, expr, **variables)
    if not isinstance(result, list):
        return [str(result)]
    return [text_content(m) for m in result]


def xml_to_string(node, expr, **variables):
    """CloudStack's ``xmlToString``: text content of the first match, ``None`` when nothing matches."""
    result = xpath(node, expr, **variables)
    if isinstance(result, list):
        return text_content(result[0]) if result else None
    return str(result)


def find_text(node, path, default=None):
    """Text content of the first element at a simple ``ElementPath`` below ``node``, else ``default``."""
    el = node.find(path)
    if el is None:
        return default
    return text_content(el)
