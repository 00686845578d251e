"""``ovm3 call METHOD [ARGS...]``: any method of the API table, arguments parsed by the table's types."""
import json

import click

from ovm3 import errors
from ovm3.api import TABLE
from ovm3.cli.main import pass_settings
from ovm3.cli.output import emit_json, table


def parse_arg(param, text):
    """One command-line word to the parameter's wire type (structs and arrays as JSON)."""
    try:
        if param.type == "str":
            return text
        if param.type in ("int", "long"):
            return int(text, 0)
        if param.type == "bool":
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError("not a boolean")
        if param.type in ("struct", "array", "any"):
            try:
                value = json.loads(text)
            except ValueError:
                if param.type == "any":
                    return text
                raise
            want = dict if param.type == "struct" else list
            if param.type != "any" and not isinstance(value, want):
                raise ValueError("expected a JSON %s" % ("object" if want is dict else "array"))
            return value
    except ValueError as e:
        raise errors.UsageError("argument %s (%s): %s" % (param.name, param.type, e)) from None
    raise errors.UsageError("argument %s has unknown type %s" % (param.name, param.type))


@click.command("call")
@click.argument("method", required=False)
@click.argument("args", nargs=-1)
@click.option("--list", "list_methods", is_flag=True, help="List every method of the API table.")
@pass_settings
def command(settings, method, args, list_methods):
    """Call any agent METHOD with ARGS parsed by the table's types; print the result as JSON.

    Structs and arrays are given as JSON, e.g. ovm3 call set_ntp '["ntp1"]' true
    """
    if list_methods or not method:
        rows = [{"method": m.wire, "area": m.area.name, "signature": m.usage(), "ro": "yes" if m.readonly else ""}
                for m in TABLE]
        if settings.json:
            emit_json([m.describe() for m in TABLE])
        else:
            click.echo(table(rows, ["method", "area", "ro", "signature"]))
        return 0
    m = TABLE.get(method)
    client = settings.client()
    version = client.version if m.signature_changes() else None
    params = m.params(version)
    if len(args) > len(params):
        raise errors.UsageError("%s takes at most %d arguments: %s" % (m.wire, len(params), m.usage(version)))
    values = [parse_arg(p, a) for p, a in zip(params, args)]
    emit_json(client.call(m.wire, *values))
    return 0
