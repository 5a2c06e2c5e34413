"""The `federatie` command: serve, migrate, quickstart and admin.

Command names and options are fixed: operators' scripts and acceptance checks use them.
Errors print one line on stderr and exit non-zero; stdout carries only the command's output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from hypercorn.run import run

from federatie import __version__, doctor
from federatie.activitypub.iris import LocalIris
from federatie.app import create_app
from federatie.blobs import open_blob_store
from federatie.config import Config, FederationMode, Secret, load_config
from federatie.domain.actors import GroupKind
from federatie.domain.policy import DomainList
from federatie.errors import FederatieError, NotFound
from federatie.federation.policy import FederationPolicy
from federatie.logs import configure_logging
from federatie.runtime import build_runtime
from federatie.services.accounts import AccountService
from federatie.services.actors import ActorService
from federatie.storage.embedded import start_embedded_postgres
from federatie.storage.migrate import migrate
from federatie.storage.pool import Pool, create_pool


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        if args.command == "quickstart":
            _quickstart_defaults(args)
        try:
            config = load_config(config_file=args.config)
        except FederatieError as exc:
            if getattr(args, "handler", None) is cmd_doctor:
                for check in doctor.config_failed(exc.message):
                    print(check.line())
                return 1
            raise
        configure_logging(config.log_level, config.log_format)
        result: int = args.handler(config, args)
        return result
    except FederatieError as exc:
        print(f"federatie: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML file with settings (env wins)")
    parser = argparse.ArgumentParser(
        prog="federatie",
        parents=[common],
        description="Federated collaboration for government bodies.",
    )
    parser.add_argument("--version", action="version", version=f"federatie {__version__}")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", parents=[common], help="run the web server")
    _serve_options(serve)
    serve.set_defaults(handler=cmd_serve)

    quick = commands.add_parser(
        "quickstart",
        parents=[common],
        help="development server on the embedded database, with an admin and a demo group",
    )
    _serve_options(quick)
    quick.set_defaults(handler=cmd_quickstart)

    worker = commands.add_parser(
        "worker", parents=[common], help="run the job worker: inbox processing and delivery"
    )
    worker.add_argument("--concurrency", type=int, default=16, help="jobs run at once")
    worker.add_argument(
        "--lease-seconds",
        type=float,
        default=300.0,
        help="how long a claimed job is this worker's before others may take it",
    )
    worker.set_defaults(handler=cmd_worker)

    commands.add_parser("migrate", parents=[common], help="apply database migrations").set_defaults(
        handler=cmd_migrate
    )

    admin = commands.add_parser("admin", parents=[common], help="administration")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)

    user = admin_commands.add_parser("create-user", parents=[common], help="create a person")
    user.add_argument("name")
    user.add_argument("--password", required=True)
    user.add_argument("--admin", action="store_true", help="make the person an administrator")
    user.add_argument("--display-name")
    user.set_defaults(handler=cmd_create_user)

    group = admin_commands.add_parser("create-group", parents=[common], help="create a group")
    group.add_argument("name")
    group.add_argument("--owner", required=True, help="name of the local person who owns it")
    group.add_argument("--title")
    group.add_argument("--description")
    group.add_argument("--theme", action="append", default=[], help="a theme (repeatable)")
    kind = group.add_mutually_exclusive_group()
    kind.add_argument("--closed", action="store_true", help="joining needs approval")
    kind.add_argument("--members-only", action="store_true", help="only members can read")
    group.set_defaults(handler=cmd_create_group)

    token = admin_commands.add_parser(
        "token", parents=[common], help="print a new bearer token for a person"
    )
    token.add_argument("name")
    token.set_defaults(handler=cmd_token)

    federation = admin_commands.add_parser(
        "federation", parents=[common], help="the federation policy: mode and listed domains"
    )
    policy = federation.add_subparsers(dest="policy_command", required=True)
    mode = policy.add_parser("mode", parents=[common], help="set open, blocklist or allowlist")
    mode.add_argument("mode", choices=[m.value for m in FederationMode])
    for verb, text in (
        ("allow", "add to the allowlist"),
        ("block", "add to the blocklist"),
        ("remove", "remove from either list"),
    ):
        command = policy.add_parser(verb, parents=[common], help=text)
        command.add_argument("domain")
    policy.add_parser("list", parents=[common], help="show the mode and the listed domains")
    federation.set_defaults(handler=cmd_federation)

    _ops_commands(admin_commands, common)

    admin_commands.add_parser(
        "list-users", parents=[common], help="list local people"
    ).set_defaults(handler=cmd_list_users)
    admin_commands.add_parser(
        "list-groups", parents=[common], help="list local groups"
    ).set_defaults(handler=cmd_list_groups)
    return parser


def _ops_commands(admin_commands: Any, common: argparse.ArgumentParser) -> None:
    """`admin user …`, `admin group transfer`, `admin doctor`, `admin export`."""
    people = admin_commands.add_parser(
        "user", parents=[common], help="suspend, unsuspend or delete a local person"
    )
    people.add_argument("action", choices=["suspend", "unsuspend", "delete"])
    people.add_argument("name")
    people.set_defaults(handler=cmd_user)

    groups = admin_commands.add_parser("group", parents=[common], help="manage a local group")
    group_commands = groups.add_subparsers(dest="group_command", required=True)
    transfer = group_commands.add_parser(
        "transfer", parents=[common], help="give a group to another owner"
    )
    transfer.add_argument("name")
    transfer.add_argument("--to", required=True, help="the local person who becomes owner")
    transfer.set_defaults(handler=cmd_group_transfer)

    admin_commands.add_parser(
        "doctor", parents=[common], help="check configuration, database, files, TLS, clock"
    ).set_defaults(handler=cmd_doctor)

    export = admin_commands.add_parser(
        "export", parents=[common], help="a person's data as an ActivityStreams archive"
    )
    export.add_argument("name")
    export.add_argument(
        "--output", required=True, type=Path, help="FILE.json, or FILE.zip to include file bytes"
    )
    export.set_defaults(handler=cmd_export)


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--certfile", help="TLS certificate (PEM) to serve https directly")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")
    parser.add_argument("--workers", type=int, default=1, help="web worker processes")


@dataclass
class Database:
    """A resolved database: the config with its URL, and the embedded server's handle if any."""

    config: Config
    embedded: Any


def resolve_database(config: Config) -> Database:
    """Start the embedded PostgreSQL when DATABASE_URL is unset."""
    if config.database_url is not None:
        return Database(config, None)
    server, dsn = start_embedded_postgres(config.data_dir)
    return Database(config.replace(database_url=Secret(dsn)), server)


@contextlib.asynccontextmanager
async def open_pool(config: Config) -> AsyncIterator[Pool]:
    """A small pool on a migrated database, for commands."""
    assert config.database_url is not None
    pool = await create_pool(config.database_url.reveal(), max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield pool
    finally:
        await pool.close()


def _actor_service(config: Config, pool: Pool) -> ActorService:
    return ActorService(pool, LocalIris(config.base_url), config.domain, config.organisation_name)


def _run_with_service(config: Config, action: Any) -> Any:
    database = resolve_database(config)

    async def run() -> Any:
        async with open_pool(database.config) as pool:
            return await action(_actor_service(database.config, pool))

    return asyncio.run(run())


def cmd_migrate(config: Config, args: argparse.Namespace) -> int:
    database = resolve_database(config)

    async def run() -> None:
        async with open_pool(database.config):
            pass

    asyncio.run(run())
    print("database is up to date")
    return 0


def cmd_create_user(config: Config, args: argparse.Namespace) -> int:
    actor = _run_with_service(
        config,
        lambda s: s.create_person(
            args.name, args.password, admin=args.admin, display_name=args.display_name
        ),
    )
    print(
        f"created {'administrator' if args.admin else 'person'} @{actor.username}@{config.domain}"
    )
    return 0


def cmd_create_group(config: Config, args: argparse.Namespace) -> int:
    kind = (
        GroupKind.CLOSED
        if args.closed
        else GroupKind.MEMBERS_ONLY
        if args.members_only
        else GroupKind.OPEN
    )
    actor = _run_with_service(
        config,
        lambda s: s.create_group(
            args.name,
            owner=args.owner,
            title=args.title,
            description=args.description,
            kind=kind,
            themes=args.theme,
        ),
    )
    print(f"created {kind.value} group @{actor.username}@{config.domain}")
    return 0


def cmd_token(config: Config, args: argparse.Namespace) -> int:
    print(_run_with_service(config, lambda s: s.issue_token(args.name)))
    return 0


def cmd_list_users(config: Config, args: argparse.Namespace) -> int:
    for person in _run_with_service(config, lambda s: s.list_people()):
        role = "admin" if person.is_admin else "person"
        print(f"{person.username}\t{role}\t{person.name or ''}")
    return 0


def cmd_list_groups(config: Config, args: argparse.Namespace) -> int:
    for group in _run_with_service(config, lambda s: s.list_groups()):
        print(
            f"{group.username}\t{group.kind.value}\t{group.members} members\t"
            f"owner={group.owner or '-'}\t{group.title or ''}"
        )
    return 0


def _run_with_accounts(config: Config, action: Any) -> Any:
    database = resolve_database(config)

    async def run() -> Any:
        async with open_pool(database.config) as pool:
            config = database.config
            blobs = open_blob_store(config)
            try:
                return await action(AccountService(pool, LocalIris(config.base_url), blobs))
            finally:
                await blobs.close()

    return asyncio.run(run())


def cmd_user(config: Config, args: argparse.Namespace) -> int:
    handle = f"@{args.name.lower()}@{config.domain}"
    if args.action == "suspend":
        _run_with_accounts(config, lambda s: s.suspend(args.name))
        print(f"suspended {handle}")
    elif args.action == "unsuspend":
        _run_with_accounts(config, lambda s: s.unsuspend(args.name))
        print(f"unsuspended {handle}")
    else:
        deleted = _run_with_accounts(config, lambda s: s.delete(args.name))
        print(
            f"deleted {handle}: {deleted.objects} object(s) tombstoned, "
            f"Delete queued to {deleted.inboxes} inbox(es)"
        )
    return 0


def cmd_group_transfer(config: Config, args: argparse.Namespace) -> int:
    _run_with_accounts(config, lambda s: s.transfer_group(args.name, args.to))
    print(f"@{args.name.lower()}@{config.domain} is now owned by {args.to.lower()}")
    return 0


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    output: Path = args.output
    if not output.parent.is_dir():
        raise FederatieError(f"--output: no such directory {output.parent}")

    async def export(accounts: AccountService) -> tuple[dict[str, Any], int]:
        archive, digests = await accounts.export(args.name)
        return archive, await accounts.write_archive(archive, digests, output)

    archive, written = _run_with_accounts(config, export)
    print(
        f"exported @{args.name.lower()}@{config.domain} to {output}: "
        f"{archive['outbox']['totalItems']} activities, "
        f"{archive['objects']['totalItems']} objects, {len(archive['files'])} files"
        + (f", {written - 1} file contents" if output.suffix.lower() == ".zip" else "")
    )
    return 0


def cmd_doctor(config: Config, args: argparse.Namespace) -> int:
    database_error: str | None = None
    if config.database_url is None:
        try:
            config = resolve_database(config).config
        except Exception as exc:  # the embedded PostgreSQL did not start: say why
            database_error = f"embedded PostgreSQL did not start: {exc}"
    results = asyncio.run(doctor.run_checks(config, database_error))
    for check in results:
        print(check.line())
    return 0 if all(check.ok for check in results) else 1


def cmd_federation(config: Config, args: argparse.Namespace) -> int:
    database = resolve_database(config)
    by = f"cli:{getpass.getuser()}"

    async def run() -> list[str]:
        async with open_pool(database.config) as pool:
            policy = FederationPolicy(pool, config.federation_mode)
            command = args.policy_command
            if command == "mode":
                await policy.set_mode(FederationMode(args.mode), by=by)
                return [f"federation mode is now {args.mode}"]
            if command in ("allow", "block"):
                domain = await policy.list_domain(args.domain, DomainList(command), by=by)
                return [f"{domain} is on the {command}list"]
            if command == "remove":
                return [f"{await policy.remove_domain(args.domain, by=by)} removed"]
            snapshot = await policy.snapshot()
            lines = [f"mode\t{snapshot.mode.value}"]
            lines += [f"{d.list.value}\t{d.domain}" for d in await policy.domains()]
            return lines

    for line in asyncio.run(run()):
        print(line)
    return 0


def cmd_worker(config: Config, args: argparse.Namespace) -> int:
    if args.concurrency < 1 or args.lease_seconds <= 0:
        raise FederatieError("--concurrency and --lease-seconds must be positive")
    database = resolve_database(config)
    # Each running job may hold two connections (see Runtime.worker): size the pool to fit.
    worker_config = database.config.replace(
        db_pool_size=max(database.config.db_pool_size, 2 * args.concurrency + 2)
    )

    async def run() -> None:
        async with open_pool(database.config):
            pass  # migrated
        runtime = await build_runtime(worker_config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            worker = runtime.worker(
                concurrency=args.concurrency, lease=timedelta(seconds=args.lease_seconds)
            )
            print(f"worker {worker.worker_id} running", flush=True)
            await worker.run(stop)
        finally:
            await runtime.close()

    asyncio.run(run())
    return 0


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    _check_tls_options(args)
    database = resolve_database(config)
    config = database.config

    async def prepare() -> None:
        async with open_pool(config):
            pass

    asyncio.run(prepare())
    _print_config(database, args)
    return _serve(config, args)


def _check_tls_options(args: argparse.Namespace) -> None:
    if bool(args.certfile) != bool(args.keyfile):
        raise FederatieError("--certfile and --keyfile go together")
    for option in ("certfile", "keyfile"):
        path = getattr(args, option)
        if path and not Path(path).is_file():
            raise FederatieError(f"--{option}: no such file {path}")
    if args.workers < 1:
        raise FederatieError("--workers: must be at least 1")


def _print_config(database: Database, args: argparse.Namespace) -> None:
    config = database.config
    settings = config.describe(embedded=database.embedded is not None)
    print(f"Federatie {__version__}: effective configuration")
    width = max(len(name) for name, _ in settings)
    for name, value in settings:
        print(f"  {name:<{width}}  {value}")
    scheme = "https" if args.certfile else "http"
    print(
        f"listening on {scheme}://{args.bind}:{args.port} (public URL {config.base_url})",
        flush=True,
    )


def _serve(config: Config, args: argparse.Namespace) -> int:
    hconfig = HypercornConfig()
    hconfig.bind = [f"{args.bind}:{args.port}"]
    hconfig.certfile = args.certfile
    hconfig.keyfile = args.keyfile
    hconfig.accesslog = None
    hconfig.graceful_timeout = 10
    if args.workers == 1:
        return asyncio.run(_serve_in_process(config, hconfig))
    # Several processes: each imports federatie.asgi, which reads the same environment.
    assert config.database_url is not None
    os.environ["DATABASE_URL"] = config.database_url.reveal()
    if args.config:
        os.environ["FEDERATIE_CONFIG_FILE"] = str(Path(args.config).resolve())
    hconfig.application_path = "federatie.asgi:app"
    hconfig.workers = args.workers
    return run(hconfig)


async def _serve_in_process(config: Config, hconfig: Any) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(create_app(config), hconfig, shutdown_trigger=stop.wait)
    return 0


# "admin" itself is a reserved name (it would shadow routes and mislead people).
QUICKSTART_ADMIN = "beheerder"


def _quickstart_defaults(args: argparse.Namespace) -> None:
    """Development defaults so that one command gives a working instance on this machine."""
    os.environ.setdefault("FEDERATIE_ENV", "development")
    os.environ.setdefault("FEDERATIE_DOMAIN", f"127.0.0.1:{args.port}")
    os.environ.setdefault("FEDERATIE_LOG_FORMAT", "text")
    os.environ.setdefault("FEDERATIE_LOG_LEVEL", "warning")


def cmd_quickstart(config: Config, args: argparse.Namespace) -> int:
    _check_tls_options(args)
    database = resolve_database(config)
    config = database.config

    async def prepare() -> tuple[str, str | None]:
        async with open_pool(config) as pool:
            service = _actor_service(config, pool)
            password: str | None = None
            try:
                await service.get(QUICKSTART_ADMIN)
            except NotFound:
                password = secrets.token_urlsafe(12)
                await service.create_person(
                    QUICKSTART_ADMIN, password, admin=True, display_name="Beheerder"
                )
            try:
                await service.get("demo")
            except NotFound:
                await service.create_group(
                    "demo",
                    owner=QUICKSTART_ADMIN,
                    title="Demo-samenwerkruimte",
                    description="Een open groep om Federatie uit te proberen.",
                    themes=["demo"],
                )
            return QUICKSTART_ADMIN, password

    username, password = asyncio.run(prepare())
    _print_config(database, args)
    print()
    print(f"  Open {config.base_url}/groups/demo in your browser.")
    if password:
        print(f"  First administrator: {username} / {password} (shown once; keep it)")
    else:
        print(f"  Administrator: {username} (password as printed at the first start)")
    print(flush=True)
    return _serve(config, args)


if __name__ == "__main__":
    sys.exit(main())
