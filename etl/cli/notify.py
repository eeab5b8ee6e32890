"""Notifications: the outbox's state, a test message, and a digest on demand."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import click

from etl.cli.common import (
    TIME,
    catalog_option,
    database,
    database_option,
    fail,
    format_option,
    handle_errors,
    make_console,
    notify_options,
    settings_from,
    subscriptions_from,
)


@click.group(invoke_without_command=True)
@click.option("--since", type=TIME, help="With --to: the digest's start (7d, 2026-03-01).")
@click.option("--until", type=TIME, default="now", help="With --to: the digest's end; default now.")
@click.option(
    "--to", "to", metavar="URL", help="Send a digest of the changes since --since to URL now."
)
@catalog_option()
@notify_options
@database_option
@click.pass_context
@handle_errors
def notify(
    ctx: click.Context,
    /,
    since: datetime | None,
    until: datetime,
    to: str | None,
    catalogs: tuple[str, ...],
    **flags: Any,
) -> None:
    """Tell people about changes. `serve` and `sync` deliver what subscriptions ask for
    (--notify, --subscriptions); these commands inspect and test that, or send a digest.

    \b
    Examples:
        catalog-etl notify status
        catalog-etl notify test team-slack
        catalog-etl notify --since 7d --to 'slack://T000/B000/XXXX'    # from cron
    """
    if ctx.invoked_subcommand is not None:
        return
    if to is None or since is None:
        raise click.UsageError("give --since and --to for a digest, or a command: status, test")
    from etl.notify.deliver import DeliveryError, send
    from etl.notify.digest import digest_message
    from etl.notify.subscriptions import from_urls
    from etl.read.catalogs import catalog_scope

    (subscription,) = from_urls([to])
    with database(settings_from(**flags).database_url) as engine, engine.connect() as connection:
        scope = catalog_scope(connection, catalogs)
        body = digest_message(connection, subscription, since, until, scope)
    if body is None:
        window = f"{since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UTC"
        make_console().print(f"no changes between {window}: nothing sent", markup=False)
        return
    try:
        send(subscription, body)
    except DeliveryError as error:
        fail(f"digest not delivered to {subscription.shown}: {error}")
    make_console().print(f"digest sent to {subscription.shown}: {body['title']}", markup=False)


@notify.command()
@format_option
@notify_options
@database_option
@handle_errors
def status(output_format: str, **flags: Any) -> None:
    """The subscriptions configured and the outbox: delivered and pending messages per
    subscription, the oldest pending one, and the last failure with the next attempt."""
    from etl.notify.status import outbox_report
    from etl.reports import terminal

    settings = settings_from(**flags)
    subscriptions = subscriptions_from(settings)
    with database(settings.database_url) as engine, engine.connect() as connection:
        report = outbox_report(connection, subscriptions)
    console = make_console()
    if output_format == "json":
        terminal.print_json(console, report)
    else:
        terminal.outbox(console, report)


@notify.command()
@click.argument("name")
@notify_options
@database_option
@handle_errors
def test(name: str, **flags: Any) -> None:
    """Send a sample message to subscription NAME (as --subscriptions names it; a bare
    --notify URL is named url-... in `notify status`)."""
    from etl.notify.deliver import DeliveryError, send
    from etl.notify.messages import sample_message

    subscriptions = {s.name: s for s in subscriptions_from(settings_from(**flags))}
    if name not in subscriptions:
        known = ", ".join(sorted(subscriptions)) or "none configured"
        fail(f"no subscription {name!r} ({known})")
    subscription = subscriptions[name]
    try:
        send(subscription, sample_message(subscription, uuid.uuid4().hex))
    except DeliveryError as error:
        fail(f"test message not delivered to {subscription.shown}: {error}")
    make_console().print(f"test message delivered to {subscription.shown}", markup=False)
