/*
 * ovm3._wirec: a fast decoder for the XML-RPC that ovs-agent writes.
 *
 * It reads only the strict subset the agent's xmlrpclib emits: an optional
 * <?xml version=...?> declaration, elements without attributes from the
 * XML-RPC vocabulary, whitespace between them, text with the five predefined
 * entities and character references. Anything else (a DOCTYPE, comments,
 * CDATA, carriage returns, attributes, other encodings, base64/dateTime
 * values, nesting deeper than MAX_DEPTH, a text over MAX_TEXT bytes) or
 * anything not well-formed makes decode() return None, and ovm3.wire then
 * decodes the body with its hardened lxml decoder, which stays the reference:
 * whatever this module returns must equal what that decoder returns
 * (tests/test_wire_fast.py checks it on recorded replies, generated values
 * and mutated bodies).
 *
 * decode(body) -> ("params", [values]) | ("fault", value)
 *               | ("call", method_name, [values]) | None
 *
 * Every read is bounded by the end of the buffer; recursion is bounded by
 * MAX_DEPTH; no entity is ever expanded except the predefined ones.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_DEPTH 64              /* nested <value>s; lxml allows 256 elements (3 per level) */
#define MAX_TEXT (10 * 1000 * 1000)  /* libxml2's text node limit without XML_PARSE_HUGE */

enum {
    T_VALUE, T_STRING, T_INT, T_I4, T_I8, T_I1, T_I2, T_BIGINTEGER, T_BOOLEAN,
    T_DOUBLE, T_FLOAT, T_NIL, T_STRUCT, T_MEMBER, T_NAME, T_ARRAY, T_DATA,
    T_PARAMS, T_PARAM, T_FAULT, T_METHODRESPONSE, T_METHODCALL, T_METHODNAME
};

#define IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)

/* The id of a tag name of the vocabulary, or -1. */
static int
lookup_tag(const unsigned char *name, Py_ssize_t n)
{
    switch (n) {
    case 2:
        if (name[0] != 'i')
            return -1;
        switch (name[1]) {
        case '4': return T_I4;
        case '8': return T_I8;
        case '1': return T_I1;
        case '2': return T_I2;
        }
        return -1;
    case 3:
        return IS("int") ? T_INT : IS("nil") ? T_NIL : -1;
    case 4:
        return IS("name") ? T_NAME : IS("data") ? T_DATA : -1;
    case 5:
        switch (name[0]) {
        case 'v': return IS("value") ? T_VALUE : -1;
        case 'a': return IS("array") ? T_ARRAY : -1;
        case 'f': return IS("float") ? T_FLOAT : IS("fault") ? T_FAULT : -1;
        case 'p': return IS("param") ? T_PARAM : -1;
        }
        return -1;
    case 6:
        switch (name[0]) {
        case 's': return IS("string") ? T_STRING : IS("struct") ? T_STRUCT : -1;
        case 'm': return IS("member") ? T_MEMBER : -1;
        case 'd': return IS("double") ? T_DOUBLE : -1;
        case 'p': return IS("params") ? T_PARAMS : -1;
        }
        return -1;
    case 7:
        return IS("boolean") ? T_BOOLEAN : -1;
    case 10:
        return IS("biginteger") ? T_BIGINTEGER : IS("methodCall") ? T_METHODCALL
            : IS("methodName") ? T_METHODNAME : -1;
    case 14:
        return IS("methodResponse") ? T_METHODRESPONSE : -1;
    }
    return -1;
}
#undef IS

enum { K_OPEN, K_CLOSE, K_EMPTY };

/* Member names repeat in every struct (a 500-VM list_vms has ~50 names, 40000
 * times): one str per distinct name, its hash computed once. */
#define NAME_SLOTS 256
#define NAME_MAX_LEN 48
typedef struct {
    const unsigned char *s;  /* the name's bytes in the body */
    Py_ssize_t n;
    PyObject *str;
} NameSlot;

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
    int giveup;    /* outside the subset or not well-formed: the caller falls back */
    char *buf;     /* scratch for texts with references */
    Py_ssize_t cap;
    NameSlot names[NAME_SLOTS];
} Cur;

/* Text bytes that need a closer look: markup, references, control characters,
 * ']' (for "]]>") and 0xEF (for U+FFFE/U+FFFF, which XML forbids). */
static unsigned char SPECIAL[256];
/* Bytes that continue a tag name (any non-ASCII byte too, so that an unknown
 * name is read whole and refused). */
static unsigned char NAMECH[256];

static void
init_tables(void)
{
    int i;
    for (i = 0; i < 0x20; i++)
        SPECIAL[i] = 1;
    SPECIAL['\t'] = 0;
    SPECIAL['\n'] = 0;
    SPECIAL['<'] = 1;
    SPECIAL['&'] = 1;
    SPECIAL[']'] = 1;
    SPECIAL[0xEF] = 1;
    for (i = 0; i < 256; i++)
        NAMECH[i] = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') || (i >= '0' && i <= '9')
            || i == '.' || i == '-' || i == '_' || i == ':' || i >= 0x80;
}

static void *
give_up(Cur *c)
{
    c->giveup = 1;
    return NULL;
}

static int
is_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n';
}

static void
skip_ws(Cur *c)
{
    while (c->p < c->end && is_ws(*c->p))
        c->p++;
}

/* At '<': read one start, end or empty-element tag of the vocabulary.
 * Returns its id and sets *kind, or -1 (given up). */
static int
read_tag(Cur *c, int *kind)
{
    const unsigned char *p = c->p + 1, *end = c->end, *name;
    int close = 0, id;

    if (p < end && *p == '/') {
        close = 1;
        p++;
    }
    name = p;
    while (p < end && NAMECH[*p])
        p++;
    id = lookup_tag(name, p - name);
    if (id < 0)
        goto fail;
    while (p < end && is_ws(*p))
        p++;
    if (p >= end)
        goto fail;
    if (*p == '>') {
        *kind = close ? K_CLOSE : K_OPEN;
        c->p = p + 1;
        return id;
    }
    if (!close && *p == '/' && p + 1 < end && p[1] == '>') {
        *kind = K_EMPTY;
        c->p = p + 2;
        return id;
    }
fail:
    c->giveup = 1;
    return -1;
}

/* Whitespace, then a tag. */
static int
next_tag(Cur *c, int *kind)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != '<') {
        c->giveup = 1;
        return -1;
    }
    return read_tag(c, kind);
}

/* next_tag(), checking first for the tag the agent nearly always writes there, spelt exactly (a literal
 * compare instead of the general reader: a third of the decoder's time went to reading tags). */
static int
next_tag_or(Cur *c, int *kind, const char *lit, Py_ssize_t n, int lit_id, int lit_kind)
{
    skip_ws(c);
    if (c->end - c->p >= n && memcmp(c->p, lit, n) == 0) {
        c->p += n;
        *kind = lit_kind;
        return lit_id;
    }
    if (c->p >= c->end || *c->p != '<') {
        c->giveup = 1;
        return -1;
    }
    return read_tag(c, kind);
}
#define NEXT(c, kind, lit, id, k) next_tag_or(c, kind, lit, sizeof(lit) - 1, id, k)

static int
expect(Cur *c, int id, int kind)
{
    int k = -1, t = next_tag(c, &k);
    if (t != id || k != kind) {
        c->giveup = 1;
        return -1;
    }
    return 0;
}

/* Scan character data up to the next '<'. Sets the span and whether it holds
 * references; gives up on anything XML forbids in text or we do not read. */
static int
scan_text(Cur *c, const unsigned char **start, Py_ssize_t *len, int *refs)
{
    const unsigned char *p = c->p, *end = c->end;
    *start = p;
    *refs = 0;
    for (;;) {
        while (p < end && !SPECIAL[*p])
            p++;
        if (p >= end)
            goto fail; /* unterminated */
        if (*p == '<')
            break;
        if (*p == '&') {
            *refs = 1;
            p++;
        } else if (*p == ']') {
            if (end - p >= 3 && p[1] == ']' && p[2] == '>')
                goto fail;
            p++;
        } else if (*p == 0xEF) {
            if (end - p >= 3 && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
                goto fail;
            p++;
        } else {
            goto fail; /* control character, including '\r' (XML normalises it) */
        }
    }
    *len = p - *start;
    if (*len > MAX_TEXT)
        goto fail;
    c->p = p;
    return 0;
fail:
    c->giveup = 1;
    return -1;
}

static int
all_ws(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++)
        if (!is_ws(s[i]))
            return 0;
    return 1;
}

static int
is_xml_char(unsigned long v)
{
    return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF)
        || (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

/* Decode one reference at s (pointing at '&') into out; return its length in
 * the input, or -1. The UTF-8 of a reference is never longer than the reference. */
static Py_ssize_t
decode_ref(const unsigned char *s, const unsigned char *end, char *out, Py_ssize_t *outlen)
{
    const unsigned char *p = s + 1;
    unsigned long v = 0;
    int digits = 0;

    if (p < end && *p == '#') {
        p++;
        if (p < end && *p == 'x') {
            p++;
            for (; p < end && *p != ';'; p++, digits++) {
                unsigned char ch = *p;
                if (ch >= '0' && ch <= '9')
                    v = v * 16 + (ch - '0');
                else if (ch >= 'a' && ch <= 'f')
                    v = v * 16 + (ch - 'a' + 10);
                else if (ch >= 'A' && ch <= 'F')
                    v = v * 16 + (ch - 'A' + 10);
                else
                    return -1;
                if (v > 0x10FFFF)
                    return -1;
            }
        } else {
            for (; p < end && *p != ';'; p++, digits++) {
                unsigned char ch = *p;
                if (ch < '0' || ch > '9')
                    return -1;
                v = v * 10 + (ch - '0');
                if (v > 0x10FFFF)
                    return -1;
            }
        }
        if (p >= end || digits == 0 || !is_xml_char(v))
            return -1;
        if (v < 0x80) {
            out[0] = (char)v;
            *outlen = 1;
        } else if (v < 0x800) {
            out[0] = (char)(0xC0 | (v >> 6));
            out[1] = (char)(0x80 | (v & 0x3F));
            *outlen = 2;
        } else if (v < 0x10000) {
            out[0] = (char)(0xE0 | (v >> 12));
            out[1] = (char)(0x80 | ((v >> 6) & 0x3F));
            out[2] = (char)(0x80 | (v & 0x3F));
            *outlen = 3;
        } else {
            out[0] = (char)(0xF0 | (v >> 18));
            out[1] = (char)(0x80 | ((v >> 12) & 0x3F));
            out[2] = (char)(0x80 | ((v >> 6) & 0x3F));
            out[3] = (char)(0x80 | (v & 0x3F));
            *outlen = 4;
        }
        return p + 1 - s;
    }
#define NAMED(lit, ch)                                                      \
    if (end - s >= (Py_ssize_t)sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0) { \
        out[0] = ch;                                                        \
        *outlen = 1;                                                        \
        return sizeof(lit) - 1;                                             \
    }
    NAMED("&lt;", '<')
    NAMED("&gt;", '>')
    NAMED("&amp;", '&')
    NAMED("&quot;", '"')
    NAMED("&apos;", '\'')
#undef NAMED
    return -1;
}

/* The text span as a str (references resolved, UTF-8 checked). */
static PyObject *
make_text(Cur *c, const unsigned char *s, Py_ssize_t n, int refs)
{
    PyObject *out;
    const unsigned char *p, *end;
    Py_ssize_t w = 0, used, outlen;

    if (!refs) {
        out = PyUnicode_DecodeUTF8((const char *)s, n, "strict");
    } else {
        if (c->cap < n + 1) {
            char *b = PyMem_Realloc(c->buf, n + 1);
            if (b == NULL)
                return PyErr_NoMemory();
            c->buf = b;
            c->cap = n + 1;
        }
        p = s;
        end = s + n;
        while (p < end) {
            const unsigned char *amp = memchr(p, '&', end - p);
            if (amp == NULL)
                amp = end;
            memcpy(c->buf + w, p, amp - p);
            w += amp - p;
            p = amp;
            if (p < end) {
                used = decode_ref(p, end, c->buf + w, &outlen);
                if (used < 0)
                    return give_up(c);
                w += outlen;
                p += used;
            }
        }
        out = PyUnicode_DecodeUTF8(c->buf, w, "strict");
    }
    if (out == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return give_up(c);
    }
    return out;
}

/* Text up to the end tag of element id (no child elements allowed). */
static PyObject *
text_until_close(Cur *c, int id)
{
    const unsigned char *s;
    Py_ssize_t n;
    int refs, kind;

    if (scan_text(c, &s, &n, &refs) < 0)
        return NULL;
    if (id == T_STRING && c->end - c->p >= 9 && memcmp(c->p, "</string>", 9) == 0)
        c->p += 9;
    else if (read_tag(c, &kind) != id || kind != K_CLOSE)
        return give_up(c);
    return make_text(c, s, n, refs);
}

static PyObject *value_body(Cur *c);

/* After <name>: the name (a new reference, shared between structs) and </name>. */
static PyObject *
member_name(Cur *c)
{
    const unsigned char *s;
    Py_ssize_t n, i;
    int refs, kind;
    unsigned int h = 2166136261u;
    NameSlot *slot;
    PyObject *str;

    if (scan_text(c, &s, &n, &refs) < 0)
        return NULL;
    if (c->end - c->p >= 7 && memcmp(c->p, "</name>", 7) == 0)
        c->p += 7;
    else if (read_tag(c, &kind) != T_NAME || kind != K_CLOSE)
        return give_up(c);
    if (refs || n > NAME_MAX_LEN)
        return make_text(c, s, n, refs);
    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    slot = &c->names[h % NAME_SLOTS];
    if (slot->str != NULL && slot->n == n && memcmp(slot->s, s, n) == 0) {
        Py_INCREF(slot->str);
        return slot->str;
    }
    str = make_text(c, s, n, 0);
    if (str != NULL) {
        Py_XSETREF(slot->str, str);  /* a colliding name replaces the slot's */
        slot->s = s;
        slot->n = n;
        Py_INCREF(str);
    }
    return str;
}

/* A value converted by a Python constructor (int(text), float(text)). */
static PyObject *
converted(Cur *c, int id, int empty, int as_float)
{
    PyObject *text, *out;

    text = empty ? PyUnicode_FromStringAndSize("", 0) : text_until_close(c, id);
    if (text == NULL)
        return NULL;
    out = as_float ? PyFloat_FromString(text) : PyLong_FromUnicodeObject(text, 10);
    Py_DECREF(text);
    if (out == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        return give_up(c);
    }
    return out;
}

static PyObject *
struct_body(Cur *c)
{
    PyObject *d = PyDict_New(), *name = NULL, *v = NULL;
    int t, k = -1;

    if (d == NULL)
        return NULL;
    for (;;) {
        t = NEXT(c, &k, "<member>", T_MEMBER, K_OPEN);
        if (t == T_STRUCT && k == K_CLOSE)
            return d;
        if (t != T_MEMBER || k != K_OPEN)
            goto fail;
        t = NEXT(c, &k, "<name>", T_NAME, K_OPEN);
        if (t != T_NAME || k == K_CLOSE)
            goto fail;
        name = (k == K_EMPTY) ? PyUnicode_FromStringAndSize("", 0) : member_name(c);
        if (name == NULL)
            goto fail;
        t = NEXT(c, &k, "<value>", T_VALUE, K_OPEN);
        if (t != T_VALUE || k == K_CLOSE)
            goto fail;
        v = (k == K_EMPTY) ? PyUnicode_FromStringAndSize("", 0) : value_body(c);
        if (v == NULL)
            goto fail;
        t = NEXT(c, &k, "</member>", T_MEMBER, K_CLOSE);
        if (t != T_MEMBER || k != K_CLOSE) {
            c->giveup = 1;
            goto fail;
        }
        if (PyDict_SetItem(d, name, v) < 0)
            goto fail;
        Py_CLEAR(name);
        Py_CLEAR(v);
    }
fail:
    c->giveup |= !PyErr_Occurred();
    Py_XDECREF(name);
    Py_XDECREF(v);
    Py_DECREF(d);
    return NULL;
}

/* <value>s up to </closing> (used by <data> and, with <param> wrappers, by <params>). */
static PyObject *
value_list(Cur *c, int closing, int wrapped)
{
    PyObject *l = PyList_New(0), *v = NULL;
    int t, k = -1;

    if (l == NULL)
        return NULL;
    for (;;) {
        t = wrapped ? NEXT(c, &k, "<param>", T_PARAM, K_OPEN) : NEXT(c, &k, "<value>", T_VALUE, K_OPEN);
        if (t == closing && k == K_CLOSE)
            return l;
        if (wrapped) {
            if (t != T_PARAM || k != K_OPEN)
                goto fail;
            t = NEXT(c, &k, "<value>", T_VALUE, K_OPEN);
        }
        if (t != T_VALUE || k == K_CLOSE)
            goto fail;
        v = (k == K_EMPTY) ? PyUnicode_FromStringAndSize("", 0) : value_body(c);
        if (v == NULL || (wrapped && expect(c, T_PARAM, K_CLOSE) < 0))
            goto fail;
        if (PyList_Append(l, v) < 0)
            goto fail;
        Py_CLEAR(v);
    }
fail:
    c->giveup |= !PyErr_Occurred();
    Py_XDECREF(v);
    Py_DECREF(l);
    return NULL;
}

static PyObject *
typed(Cur *c, int id, int empty)
{
    PyObject *text, *out;
    int k = -1;

    switch (id) {
    case T_STRING:
        return empty ? PyUnicode_FromStringAndSize("", 0) : text_until_close(c, id);
    case T_INT: case T_I4: case T_I8: case T_I1: case T_I2: case T_BIGINTEGER:
        return converted(c, id, empty, 0);
    case T_DOUBLE: case T_FLOAT:
        return converted(c, id, empty, 1);
    case T_BOOLEAN:
        if (empty)
            return give_up(c);
        text = text_until_close(c, id);
        if (text == NULL)
            return NULL;
        out = NULL;
        if (PyUnicode_GET_LENGTH(text) == 1) {
            Py_UCS4 ch = PyUnicode_READ_CHAR(text, 0);
            if (ch == '0')
                out = Py_False;
            else if (ch == '1')
                out = Py_True;
        }
        Py_DECREF(text);
        if (out == NULL)
            return give_up(c);
        Py_INCREF(out);
        return out;
    case T_NIL:
        if (!empty) {
            text = text_until_close(c, id);
            if (text == NULL)
                return NULL;
            Py_DECREF(text);
        }
        Py_RETURN_NONE;
    case T_STRUCT:
        return empty ? PyDict_New() : struct_body(c);
    case T_ARRAY:
        if (empty)
            return give_up(c);
        id = next_tag(c, &k);
        if (id != T_DATA || k == K_CLOSE)
            return give_up(c);
        out = (k == K_EMPTY) ? PyList_New(0) : value_list(c, T_DATA, 0);
        if (out != NULL && expect(c, T_ARRAY, K_CLOSE) < 0)
            Py_CLEAR(out);
        return out;
    default:
        return give_up(c);
    }
}

/* After <value>: its content and </value>. */
static PyObject *
value_body(Cur *c)
{
    const unsigned char *s = NULL;
    Py_ssize_t n;
    int refs = 0, kind, id;
    PyObject *v;

    if (++c->depth > MAX_DEPTH)
        return give_up(c);
    if (c->end - c->p >= 8 && memcmp(c->p, "<string>", 8) == 0) {
        c->p += 8;  /* the agent's usual <value><string>: no text before the tag */
        n = 0;
        id = T_STRING;
        kind = K_OPEN;
    } else {
        if (scan_text(c, &s, &n, &refs) < 0)
            return NULL;
        id = read_tag(c, &kind);
        if (id < 0)
            return NULL;
    }
    if (id == T_VALUE && kind == K_CLOSE) {
        c->depth--;
        return make_text(c, s, n, refs); /* an untyped value is a string */
    }
    if (kind == K_CLOSE || !all_ws(s, n))
        return give_up(c);
    v = typed(c, id, kind == K_EMPTY);
    if (v == NULL)
        return NULL;
    id = NEXT(c, &kind, "</value>", T_VALUE, K_CLOSE);
    if (id != T_VALUE || kind != K_CLOSE) {
        c->giveup = 1;
        Py_DECREF(v);
        return NULL;
    }
    c->depth--;
    return v;
}

/* The only declarations we read: version 1.0, optionally encoding UTF-8. */
static int
skip_declaration(Cur *c)
{
    static const char *const FORMS[] = {  /* longest first: each is also a prefix test */
        "<?xml version='1.0' encoding='UTF-8'", "<?xml version=\"1.0\" encoding=\"UTF-8\"",
        "<?xml version='1.0' encoding='utf-8'", "<?xml version=\"1.0\" encoding=\"utf-8\"",
        "<?xml version='1.0'", "<?xml version=\"1.0\"",
    };
    size_t i, n;
    const unsigned char *p;

    if (c->end - c->p < 5 || memcmp(c->p, "<?xml", 5) != 0)
        return 0;
    for (i = 0; i < sizeof(FORMS) / sizeof(FORMS[0]); i++) {
        n = strlen(FORMS[i]);
        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, FORMS[i], n) == 0) {
            p = c->p + n;
            while (p < c->end && (*p == ' ' || *p == '\t' || *p == '\n'))
                p++;
            if (c->end - p >= 2 && p[0] == '?' && p[1] == '>') {
                c->p = p + 2;
                return 0;
            }
        }
    }
    c->giveup = 1;
    return -1;
}

static PyObject *
document(Cur *c)
{
    PyObject *a = NULL, *b = NULL, *out = NULL;
    int t, k = -1;

    if (skip_declaration(c) < 0)
        return NULL;
    t = next_tag(c, &k);
    if (k != K_OPEN)
        return give_up(c);
    if (t == T_METHODRESPONSE) {
        t = next_tag(c, &k);
        if (t == T_PARAMS && k != K_CLOSE) {
            b = (k == K_EMPTY) ? PyList_New(0) : value_list(c, T_PARAMS, 1);
            a = PyUnicode_FromString("params");
        } else if (t == T_FAULT && k == K_OPEN) {
            t = next_tag(c, &k);
            if (t != T_VALUE || k == K_CLOSE)
                return give_up(c);
            b = (k == K_EMPTY) ? PyUnicode_FromStringAndSize("", 0) : value_body(c);
            if (b != NULL && expect(c, T_FAULT, K_CLOSE) < 0)
                Py_CLEAR(b);
            a = PyUnicode_FromString("fault");
        } else {
            return give_up(c);
        }
        if (a == NULL || b == NULL || expect(c, T_METHODRESPONSE, K_CLOSE) < 0)
            goto done;
        out = PyTuple_Pack(2, a, b);
    } else if (t == T_METHODCALL) {
        PyObject *name;
        t = next_tag(c, &k);
        if (t != T_METHODNAME || k == K_CLOSE)
            return give_up(c);
        name = (k == K_EMPTY) ? PyUnicode_FromStringAndSize("", 0) : text_until_close(c, T_METHODNAME);
        if (name == NULL)
            return NULL;
        t = next_tag(c, &k);
        if (t == T_PARAMS && k != K_CLOSE) {
            b = (k == K_EMPTY) ? PyList_New(0) : value_list(c, T_PARAMS, 1);
            if (b != NULL && expect(c, T_METHODCALL, K_CLOSE) < 0)
                Py_CLEAR(b);
        } else if (t == T_METHODCALL && k == K_CLOSE) {
            b = PyList_New(0);
        } else {
            c->giveup = 1;
        }
        a = PyUnicode_FromString("call");
        if (a != NULL && b != NULL)
            out = PyTuple_Pack(3, a, name, b);
        Py_DECREF(name);
    } else {
        return give_up(c);
    }
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    if (out != NULL) {
        skip_ws(c);
        if (c->p != c->end) {
            Py_CLEAR(out);
            c->giveup = 1;
        }
    }
    return out;
}

/* The cyclic collector paused while the result is built: every container made
 * here is alive until we return, so collections in between only cost time (a
 * third of it for a 500-VM list_vms). Nothing here runs Python code or drops
 * the GIL, so no other thread sees the pause. */
#if PY_VERSION_HEX >= 0x030A0000
static int gc_pause(void) { return PyGC_Disable(); }
static void gc_resume(int was) { if (was) PyGC_Enable(); }
#else
static PyObject *gc_module;
static int
gc_pause(void)
{
    PyObject *r = PyObject_CallMethod(gc_module, "isenabled", NULL);
    int was = r != NULL && PyObject_IsTrue(r) == 1;
    Py_XDECREF(r);
    if (was) {
        r = PyObject_CallMethod(gc_module, "disable", NULL);
        Py_XDECREF(r);
    }
    PyErr_Clear();
    return was;
}
static void
gc_resume(int was)
{
    PyObject *type, *value, *tb, *r;
    if (!was)
        return;
    PyErr_Fetch(&type, &value, &tb);
    r = PyObject_CallMethod(gc_module, "enable", NULL);
    Py_XDECREF(r);
    PyErr_Clear();
    PyErr_Restore(type, value, tb);
}
#endif

static PyObject *
decode(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    Cur c;
    PyObject *out;
    int gc_was, i;

    (void)self;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    memset(&c, 0, sizeof(c));
    c.p = (const unsigned char *)view.buf;
    c.end = c.p + view.len;
    gc_was = gc_pause();
    out = document(&c);
    gc_resume(gc_was);
    for (i = 0; i < NAME_SLOTS; i++)
        Py_XDECREF(c.names[i].str);
    PyMem_Free(c.buf);
    PyBuffer_Release(&view);
    if (out == NULL && c.giveup && !PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (out == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return out;
}

static PyMethodDef METHODS[] = {
    {"decode", decode, METH_O,
     "decode(body) -> ('params', values) | ('fault', value) | ('call', name, values) | None\n\n"
     "None: the body is outside the subset this decoder reads; use the reference decoder."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_wirec", "Fast decoder for the XML-RPC subset ovs-agent writes.", -1, METHODS,
};

PyMODINIT_FUNC
PyInit__wirec(void)
{
    init_tables();
#if PY_VERSION_HEX < 0x030A0000
    gc_module = PyImport_ImportModule("gc");
    if (gc_module == NULL)
        return NULL;
#endif
    return PyModule_Create(&MODULE);
}
