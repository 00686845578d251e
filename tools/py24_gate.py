#!/usr/bin/env python3
"""py24_gate.py FILE... : refuse host-side code that dom0's Python 2.4 (OVM 3.2) cannot run.

``make gate`` runs it beside ``vermin -t=2.4- -t=3-`` (which checks library use); this gate covers
what vermin misses or reports only as a warning:

* syntax newer than 2.4: ``except ... as``, conditional expressions, ``with``, try/except/finally in
  one statement, ``yield`` inside try/finally, relative imports, ``b''`` literals, ``0o``/``0b``
  literals, set literals and set/dict comprehensions, class decorators, keyword arguments after
  ``*args``, and everything Python-3-only (f-strings, annotations, keyword-only arguments,
  ``nonlocal``, ``yield from``, ``async``, ``:=``, starred assignment);
* calls newer than 2.4: ``str.format``, ``format()``, ``any()``, ``all()``, ``next()``, ``bytes()``,
  ``bin()``, ``bytearray()``, ``memoryview()``, ``str.partition``, ``startswith``/``endswith``
  with a tuple, ``Popen.kill``/``terminate``/``send_signal``, ``check_output``, several ``print``
  arguments;
* an allowlist of the modules Python 2.4's standard library has. Anything else must be imported
  inside ``try: ... except ImportError:`` (a fallback), be one of ours (``ovm3_*``, the host tests'
  ``tests`` package), or come from dom0 itself (``agent``, ``xen``). An import in the ``except
  ImportError:`` handler is allowed when its ``try`` body imports a 2.4 module (2.4 never gets there);
* runtime traps that parse everywhere but break on 2.4: ``type(e).__name__`` of an exception (2.4's
  exceptions are old-style classes: ``type(e)`` is ``instance``; write ``e.__class__.__name__``),
  ``Event.is_set``/``Thread.is_alive``/``current_thread``/``active_count``/``notify_all`` (2.4 has
  only the camelCase names; ``isAlive`` is gone in 3.9, so let a thread set a flag as it ends),
  ``thread.daemon = ...`` and ``Thread(daemon=...)`` (use ``setDaemon``), using the value of
  ``.wait(timeout)`` (``Event.wait``/``Condition.wait`` return None before 2.7: loop on ``isSet()``),
  and the unittest API 2.4 lacks (``assertIn`` and the other 2.7 asserts, ``assertRaises`` as a
  context manager, ``skip``/``skipIf``/``skipUnless``/``expectedFailure``, ``skipTest``,
  ``setUpClass``/``tearDownClass``, ``setUpModule``, ``addCleanup``, ``subTest``).

Prints ``file:line: problem`` lines; exits 0 when clean, 1 with problems, 2 on usage errors.
"""
import ast
import io
import sys
import tokenize

#: Top-level modules of Python 2.4's standard library (Linux build).
STDLIB_24 = frozenset("""
__builtin__ __future__ __main__ _socket aifc anydbm array asynchat asyncore atexit audioop base64
BaseHTTPServer bdb binascii binhex bisect bsddb bz2 calendar cgi CGIHTTPServer cgitb chunk cmath cmd
code codecs codeop collections colorsys commands compileall compiler ConfigParser Cookie cookielib copy
copy_reg cPickle crypt cStringIO csv curses datetime dbhash dbm decimal difflib dircache dis distutils
doctest DocXMLRPCServer dumbdbm dummy_thread dummy_threading email encodings errno exceptions fcntl
filecmp fileinput fnmatch formatter fpformat ftplib gc gdbm getopt getpass gettext glob grp gzip heapq
hmac htmlentitydefs htmllib HTMLParser httplib imaplib imghdr imp inspect itertools keyword linecache
locale logging macpath mailbox mailcap marshal math md5 mhlib mimetools mimetypes MimeWriter mimify mmap
multifile mutex netrc new nis nntplib opcode operator optparse os os2emxpath ossaudiodev parser pdb
pickle pickletools pipes pkgutil platform popen2 poplib posix posixfile posixpath pprint profile pstats
pty pwd py_compile pyclbr pydoc Queue quopri random re readline repr resource rexec rfc822 rlcompleter
robotparser sched select sets sgmllib sha shelve shlex shutil signal SimpleHTTPServer
SimpleXMLRPCServer site smtpd smtplib sndhdr socket SocketServer sre sre_compile sre_constants
sre_parse stat statcache statvfs string StringIO stringprep strop struct subprocess sunau symbol
symtable sys syslog tabnanny tarfile telnetlib tempfile termios textwrap thread threading time timeit
token tokenize traceback tty types unicodedata unittest urllib urllib2 urlparse user UserDict UserList
UserString uu warnings wave weakref webbrowser whichdb xdrlib xml xmllib xmlrpclib zipfile zipimport
zlib
""".split())

#: Submodules of allowed packages that 2.4 lacks.
NEW_SUBMODULES = {"xml.etree": "2.5", "email.utils": "2.5", "logging.config": None}
#: Names 2.4's modules lack, by ``from module import name``.
NEW_NAMES = {"collections": ("namedtuple", "OrderedDict", "Counter", "defaultdict"),
             "itertools": ("product", "permutations", "combinations", "izip_longest", "compress"),
             "subprocess": ("check_output", "check_call", "TimeoutExpired", "DEVNULL"),
             "os": ("SEEK_SET", "SEEK_CUR", "SEEK_END")}
#: Packages dom0 provides to code running inside ovs-agent.
DOM0_PACKAGES = ("agent", "xen")
OUR_PREFIX = "ovm3_"
#: Our packages besides the flat ``ovm3_*`` modules: the host tests import their shared helpers.
OUR_PACKAGES = ("tests",)

NEW_BUILTINS = {"any": "2.5", "all": "2.5", "next": "2.6", "bytes": "2.6", "bin": "2.6", "format": "2.6",
                "bytearray": "2.6", "memoryview": "2.7", "print": None}
NEW_METHODS = {"format": "2.6 (str.format)", "partition": "2.5", "rpartition": "2.5",
               "check_output": "2.7", "terminate": "2.6", "send_signal": "2.6"}

#: threading names that 2.4 spells in camelCase only: attribute -> the 2.4 spelling.
THREADING_NEW = {"is_set": "isSet()", "is_alive": "a flag the thread sets as it ends; isAlive is gone in 3.9",
                 "current_thread": "currentThread()", "active_count": "activeCount()", "notify_all": "notifyAll()"}
#: unittest.TestCase methods (and module hooks) Python 2.4's unittest does not have.
UNITTEST_NEW = frozenset("""
assertIn assertNotIn assertIs assertIsNot assertIsNone assertIsNotNone assertIsInstance
assertNotIsInstance assertGreater assertGreaterEqual assertLess assertLessEqual assertRegexpMatches
assertNotRegexpMatches assertRegex assertNotRegex assertRaisesRegexp assertRaisesRegex assertItemsEqual
assertCountEqual assertDictEqual assertListEqual assertTupleEqual assertSetEqual assertSequenceEqual
assertMultiLineEqual assertDictContainsSubset assertWarns assertWarnsRegex assertLogs assertNoLogs
addCleanup doCleanups skipTest subTest enterContext
""".split())
UNITTEST_DECORATORS = frozenset(("skip", "skipIf", "skipUnless", "expectedFailure"))
UNITTEST_HOOKS = frozenset(("setUpClass", "tearDownClass", "setUpModule", "tearDownModule"))
#: Names that hold an exception by convention (``type(<name>).__name__`` is refused for them).
EXCEPTION_NAMES = frozenset(("e", "ex", "exc", "err", "error", "exception", "failure"))


def _is_exc_info(node):
    """``sys.exc_info()[...]`` (or ``exc_info()[...]``)."""
    if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Call):
        return False
    func = node.value.func
    return (isinstance(func, ast.Attribute) and func.attr == "exc_info") or \
        (isinstance(func, ast.Name) and func.id == "exc_info")


class Checker(object):
    """Collects the problems of one file."""

    def __init__(self, path, source):
        self.path = path
        self.source = source
        self.problems = []

    def bad(self, node_or_line, what):
        line = node_or_line
        if not isinstance(line, int):
            line = getattr(node_or_line, "lineno", 0)
        self.problems.append("%s:%d: %s is not Python 2.4" % (self.path, line, what))

    def run(self):
        try:
            tree = ast.parse(self.source, self.path)
        except SyntaxError:
            e = sys.exc_info()[1]
            self.bad(e.lineno or 0, "code that does not parse under Python 3 (%s)" % e.msg)
            return self.problems
        self.check_tokens()
        guarded = self.guarded_imports(tree)
        self.parents = {}
        self.exception_names = set(EXCEPTION_NAMES)
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
            if isinstance(node, ast.Assign) and _is_exc_info(node.value):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.exception_names.add(target.id)
        for node in ast.walk(tree):
            self.check_node(node, guarded)
            self.check_runtime_trap(node)
        self.problems.sort(key=lambda p: int(p.split(":")[1]))
        return self.problems

    def check_tokens(self):
        readline = io.BytesIO(self.source).readline
        for tok in tokenize.tokenize(readline):
            if tok.type == tokenize.NUMBER and tok.string[:2].lower() in ("0o", "0b"):
                self.bad(tok.start[0], "the literal %s (write int('...', 8) or plain decimal)" % tok.string)
            if tok.type == tokenize.STRING:
                prefix = tok.string[:tok.string.find(tok.string[-1])].lower()
                if "b" in prefix:
                    self.bad(tok.start[0], "a b'' literal")
                if "f" in prefix:
                    self.bad(tok.start[0], "an f-string")

    @staticmethod
    def guarded_imports(tree):
        """Imports inside ``try:`` bodies whose handlers catch ImportError: fallbacks, allowed. So are the
        imports in such a handler when the ``try`` body imports a 2.4 module (2.4 never runs them)."""
        out = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            handlers = [h for h in node.handlers if h.type is None or "ImportError" in ast.dump(h.type)]
            if not handlers:
                continue
            old_first = False
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        out.add(id(sub))
                        old_first = old_first or _imports_24_module(sub)
            if not old_first:
                continue
            for handler in handlers:
                for stmt in handler.body:
                    for sub in ast.walk(stmt):
                        if isinstance(sub, (ast.Import, ast.ImportFrom)):
                            out.add(id(sub))
        return out

    def check_module(self, node, name, guarded):
        if id(node) in guarded:
            return
        top = name.split(".")[0]
        if top.startswith(OUR_PREFIX) or top in DOM0_PACKAGES or top in OUR_PACKAGES:
            return
        if top not in STDLIB_24:
            self.bad(node, "module %s (not in 2.4's standard library; import it in try/except ImportError)"
                     % name)
            return
        for sub in NEW_SUBMODULES:
            if name == sub or name.startswith(sub + "."):
                self.bad(node, "module %s" % name)

    def check_node(self, node, guarded):
        if isinstance(node, ast.ExceptHandler) and node.name:
            self.bad(node, "'except ... as name' (use sys.exc_info()[1])")
        elif isinstance(node, ast.IfExp):
            self.bad(node, "a conditional expression (x if c else y)")
        elif isinstance(node, (ast.With, getattr(ast, "AsyncWith", ast.With))):
            self.bad(node, "'with'")
        elif isinstance(node, ast.Try):
            if node.handlers and node.finalbody:
                self.bad(node, "try/except/finally in one statement (nest them)")
            if node.finalbody:
                for stmt in node.body:
                    for sub in ast.walk(stmt):
                        if isinstance(sub, (ast.Yield, ast.YieldFrom)):
                            self.bad(sub, "'yield' inside try/finally")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                self.check_module(node, alias.name, guarded)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                self.bad(node, "a relative import")
                return
            self.check_module(node, node.module, guarded)
            if node.module == "__future__":
                late = [a.name for a in node.names if a.name != "generators" and a.name != "nested_scopes"]
                if late:
                    self.bad(node, "from __future__ import %s" % ", ".join(late))
            elif id(node) not in guarded:
                for alias in node.names:
                    if alias.name in NEW_NAMES.get(node.module, ()):
                        self.bad(node, "%s.%s" % (node.module, alias.name))
        elif isinstance(node, (ast.Set, ast.SetComp, ast.DictComp)):
            self.bad(node, "a set literal or set/dict comprehension")
        elif isinstance(node, ast.ClassDef) and node.decorator_list:
            self.bad(node, "a class decorator")
        elif isinstance(node, ast.JoinedStr):
            self.bad(node, "an f-string")
        elif isinstance(node, (ast.Nonlocal, ast.YieldFrom, ast.AsyncFunctionDef, ast.Await,
                               ast.NamedExpr, ast.AnnAssign)):
            self.bad(node, "Python 3 syntax (%s)" % type(node).__name__)
        elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
            self.check_args(node)
        elif isinstance(node, (ast.Assign, ast.For)):
            targets = [node.target] if isinstance(node, ast.For) else node.targets
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Starred):
                        self.bad(node, "starred assignment")
        elif isinstance(node, ast.Call):
            self.check_call(node)

    def check_runtime_trap(self, node):
        """What parses on every Python but fails (or hangs) at run time on 2.4."""
        if isinstance(node, ast.Attribute):
            if node.attr == "__name__" and isinstance(node.value, ast.Call) and \
                    isinstance(node.value.func, ast.Name) and node.value.func.id == "type" and \
                    len(node.value.args) == 1:
                arg = node.value.args[0]
                if (isinstance(arg, ast.Name) and arg.id in self.exception_names) or _is_exc_info(arg):
                    self.bad(node, "type(<exception>).__name__ (2.4's exceptions are old-style: it says "
                                   "'instance'; use e.__class__.__name__)")
            if node.attr in THREADING_NEW:
                self.bad(node, ".%s (use %s)" % (node.attr, THREADING_NEW[node.attr]))
            if node.attr in UNITTEST_NEW:
                self.bad(node, "the unittest method %s (Python 2.4's unittest lacks it)" % node.attr)
            if node.attr in UNITTEST_DECORATORS and isinstance(node.value, ast.Name) and \
                    node.value.id == "unittest":
                self.bad(node, "the unittest decorator %s (Python 2.4's unittest lacks it)" % node.attr)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "daemon":
                    self.bad(node, "thread.daemon = ... (use setDaemon(True))")
        elif isinstance(node, ast.Call):
            f = node.func
            if any(kw.arg == "daemon" for kw in node.keywords):
                self.bad(node, "Thread(daemon=...) (use setDaemon(True))")
            if isinstance(f, ast.Attribute) and f.attr == "wait" and (node.args or node.keywords) and \
                    not (isinstance(f.value, ast.Name) and f.value.id == "os") and \
                    not isinstance(self.parents.get(id(node)), ast.Expr):
                self.bad(node, "using the value of .wait(timeout) (Event/Condition.wait return None before "
                               "2.7: call it as a statement, then test isSet())")
            if isinstance(f, ast.Attribute) and f.attr in ("assertRaises", "failUnlessRaises") and \
                    len(node.args) < 2:
                self.bad(node, "assertRaises as a context manager (give it the callable and arguments)")
        elif isinstance(node, ast.FunctionDef):
            if node.name in UNITTEST_HOOKS:
                self.bad(node, "the unittest hook %s (Python 2.4's unittest never calls it)" % node.name)
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Name) and target.id in UNITTEST_DECORATORS:
                    self.bad(deco, "the unittest decorator %s (Python 2.4's unittest lacks it)" % target.id)

    def check_args(self, node):
        a = node.args
        annotated = [x for x in a.args if x.annotation is not None]
        if a.kwonlyargs or getattr(a, "posonlyargs", []) or annotated or \
                getattr(node, "returns", None) is not None:
            self.bad(node, "keyword-only/positional-only arguments or annotations")

    def check_call(self, node):
        f = node.func
        if isinstance(f, ast.Name) and f.id in NEW_BUILTINS:
            if f.id != "print":
                self.bad(node, "the builtin %s()" % f.id)
            elif len(node.args) > 1 or node.keywords:
                self.bad(node, "print() with several arguments or keywords")
        if isinstance(f, ast.Attribute):
            if f.attr in NEW_METHODS:
                self.bad(node, ".%s() (Python %s)" % (f.attr, NEW_METHODS[f.attr]))
            if f.attr == "kill" and not (isinstance(f.value, ast.Name) and f.value.id == "os"):
                self.bad(node, "Popen.kill() (use os.kill(pid, signal.SIGKILL))")
            if f.attr in ("startswith", "endswith") and node.args and isinstance(node.args[0], ast.Tuple):
                self.bad(node, "%s() with a tuple" % f.attr)
        starred = [x.col_offset for x in node.args if isinstance(x, ast.Starred)]
        if starred:
            for kw in node.keywords:
                if kw.arg is not None and kw.value.col_offset > min(starred):
                    self.bad(node, "a keyword argument after *args")
                    break


def _imports_24_module(node):
    """True when an import statement names only modules of 2.4's standard library."""
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    else:
        names = [alias.name for alias in node.names]
    for name in names:
        if name.split(".")[0] not in STDLIB_24:
            return False
        for sub in NEW_SUBMODULES:
            if name == sub or name.startswith(sub + "."):
                return False
    return True


def check(path):
    """Problems of one file, as ``file:line: ...`` strings."""
    f = open(path, "rb")
    try:
        source = f.read()
    finally:
        f.close()
    return Checker(path, source).run()


def main(argv=None):
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        sys.stderr.write("usage: py24_gate.py FILE...\n")
        return 2
    problems = []
    for path in paths:
        problems.extend(check(path))
    for line in problems:
        print(line)
    if problems:
        print("py24_gate: %d problem(s) in %d file(s)" % (len(problems), len(paths)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
