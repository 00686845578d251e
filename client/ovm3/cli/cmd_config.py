"""``ovm3 config``: named hosts (profiles) in ~/.config/ovm3/config.toml, picked with ``ovm3 -H NAME``."""
import os

import click

from ovm3 import errors
from ovm3.cli.main import pass_settings
from ovm3.cli.output import emit_json, table


@click.group("config")
def command():
    """Profiles: named hosts with their URL, user, password file and TLS settings."""


def _store():
    from ovm3.profiles import ProfileStore

    return ProfileStore()


@command.command("add")
@click.argument("name")
@click.option("--url", "profile_url", required=True, help="Agent URL, e.g. https://ovm-1:8899.")
@click.option("--user", "profile_user", default="oracle", show_default=True, help="Agent user.")
@click.option("--password-file", "profile_password_file", default="",
              help="File whose first line is the agent password (the password itself is never stored).")
@click.option("--legacy-tls", "profile_legacy_tls", is_flag=True, help="The agent only speaks TLS 1.0/1.1.")
@click.option("--ca-bundle", "profile_ca_bundle", default="", help="CA bundle to verify the agent against.")
@click.option("--replace", is_flag=True, help="Replace an existing profile of that name.")
@pass_settings
def add(settings, name, profile_url, profile_user, profile_password_file, profile_legacy_tls, profile_ca_bundle,
        replace):
    """Add (or --replace) the profile NAME."""
    from ovm3.profiles import Profile
    from ovm3.transport import parse_agent_url

    parse_agent_url(profile_url)  # a bad URL is a usage error now, not at first use
    for path in (profile_password_file, profile_ca_bundle):
        if path and not os.path.isfile(os.path.expanduser(path)):
            raise errors.UsageError("%s is not a file" % path)
    # Stored absolute: the profile is used from any working directory.
    profile_password_file, profile_ca_bundle = (os.path.abspath(os.path.expanduser(p)) if p else ""
                                                for p in (profile_password_file, profile_ca_bundle))
    store = _store()
    profile = Profile(name, profile_url, profile_user, profile_password_file, profile_legacy_tls,
                      profile_ca_bundle)
    store.add(profile, replace=replace)
    store.save()
    if settings.json:
        emit_json({"added": name, "file": store.path})
    else:
        click.echo("profile %s saved in %s (use: ovm3 -H %s ...)" % (name, store.path, name))
    return 0


@command.command("list")
@pass_settings
def list_profiles(settings):
    """Every profile (password files are shown by path, never read)."""
    store = _store()
    profiles = sorted(store.profiles.values(), key=lambda p: p.name)
    if settings.json:
        emit_json(profiles)
        return 0
    rows = [{"name": p.name, "url": p.url, "user": p.user, "password file": p.password_file,
             "legacy tls": "yes" if p.legacy_tls else "", "ca bundle": p.ca_bundle} for p in profiles]
    click.echo(table(rows, ["name", "url", "user", "password file", "legacy tls", "ca bundle"])
               if rows else "no profiles in %s" % store.path)
    return 0


@command.command("remove")
@click.argument("name")
@pass_settings
def remove(settings, name):
    """Remove the profile NAME."""
    store = _store()
    store.remove(name)
    store.save()
    if settings.json:
        emit_json({"removed": name, "file": store.path})
    else:
        click.echo("profile %s removed from %s" % (name, store.path))
    return 0
