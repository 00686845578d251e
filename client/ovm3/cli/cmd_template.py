"""``ovm3 template``: bring a disk image into a repository's Templates (for ``vm create --template``)."""
import sys

import click

from ovm3.cli.main import pass_settings
from ovm3.cli.mutate import Session, mutating


@click.group("template")
def command():
    """Templates: disk images VMs are created from."""


def progress_printer(stream):
    """``progress(bytes)``: one rewritten line on a terminal, a plain line per new value otherwise."""
    from ovm3.cli.cmd_host import human_bytes

    tty = stream.isatty()
    last = [None]

    def show(copied):
        if copied == last[0]:
            return
        last[0] = copied
        text = "copied %s (%d bytes)" % (human_bytes(copied), copied)
        if tty:
            stream.write("\r\x1b[K" + text)
        else:
            stream.write(text + "\n")
        stream.flush()

    def done():
        if tty and last[0] is not None:
            stream.write("\n")
            stream.flush()

    return show, done


@command.command("import")
@click.argument("url")
@click.option("--repo", "repo_id", required=True, help="Repository id (ovm3 repo list).")
@click.option("--name", default=None, help="Template name (default: the image name without extension).")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.05, 60),
              help="Seconds between progress reads.")
@mutating
@pass_settings
def import_template(settings, url, repo_id, name, interval, dry_run, yes):
    """Copy the image at URL (http, https, ftp or file on the host) into Templates/NAME/ with copy_file,
    showing the bytes copied so far (read from the agent while the copy runs) on stderr."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    show, done = progress_printer(sys.stderr) if not settings.json else (None, lambda: None)
    try:
        result = estateops.template_import(session.resource, url, repo_id, name, show, interval)
    finally:
        done()
    return session.report(result)
