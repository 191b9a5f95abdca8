"""The `routecore` command line: serve, route, check, classify, pool, demo, stats."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

import routecore
from routecore._routecore import pool_lines
from routecore.exceptions import InvalidNumberError, PlanError, RoutecoreError

#: Where `serve` answers HTTP/JSON unless told otherwise (interfaces.md: `[--http 127.0.0.1:8080]`).
DEFAULT_HTTP = "127.0.0.1:8080"

app = typer.Typer(
    name="routecore",
    help="routecore: the call-routing brain of a 400-number platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
# soft_wrap: an error is one line however long (docs/errors.md), not cut at the terminal's width.
errors = Console(stderr=True, soft_wrap=True)


def _cannot(e: OSError | ValueError, doing: str, path: Path | None = None) -> typer.Exit:
    """Prints `ErrorName: FILE: cannot DOING: why` on one line of standard error (the CLI's
    promise in docs/errors.md, never a traceback); returns the exit (1) to raise."""
    from rich.markup import escape

    where = getattr(e, "filename", None) or path
    why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    message = escape(f"{where}: cannot {doing}: {why}" if where else f"cannot {doing}: {why}")
    errors.print(f"[red]{type(e).__name__}[/red]: {message}", highlight=False)
    return typer.Exit(1)


#: What the command line calls the library's parameters. A library message opens with the
#: parameter it is about (`class_: unknown class "x"`, docs/errors.md), which is right for a
#: caller of the API; the CLI's user typed a flag or an argument, and is told that instead.
FLAGS: dict[str, str] = {
    # route (routecore.Engine.route)
    "called": "CALLED",
    "caller": "CALLER",
    "digits": "--digits",
    "at": "--at",
    # pool (routecore.pool)
    "class_": "--class",
    "tag": "--tag",
    # stats (routecore.stats.report)
    "month": "--month",
    # serve (routecore.Engine with a shared decision state)
    "state": "--state",
    "state_prefix": "--state-prefix",
    # simulate (routecore.simulate)
    "calls": "--calls",
    "day": "--day",
    "days": "--days",
    "answer_probability": "--answer",
    "mean_handling_seconds": "--handling",
    "handling_cv": "--handling-cv",
    "patience_seconds": "--patience",
    "blocked_share": "--blocked-share",
}


def _refused(e: Exception, names: dict[str, str] | None = None) -> typer.Exit:
    """Prints `ErrorName: message` on one line of standard error (docs/errors.md), the message's
    leading parameter name spelled as the user typed it (`FLAGS`, then `names` for this call);
    returns the exit (1) to raise."""
    from rich.markup import escape

    message = str(e)
    if not isinstance(e, PlanError):
        # A library's message may span lines (libpq: "…refused\n\tIs the server running…"): one
        # line. A plan's errors stay one to a line, under their count.
        message = re.sub(r"\s*\n\s*", " ", message.strip())
    name, sep, rest = message.partition(": ")
    typed = (names or {}).get(name) or FLAGS.get(name)
    if sep and typed:
        message = f"{typed}: {rest}"
    errors.print(f"[red]{type(e).__name__}[/red]: {escape(message)}", highlight=False)
    return typer.Exit(1)


def _check_regular_file(path: Path) -> None:
    """Exits 1 with one line when an existing `path` is a directory (`IsADirectoryError: P: is a
    directory`) or not a regular file (`OSError: /dev/null: is not a regular file`)."""
    from rich.markup import escape

    if path.is_dir():
        errors.print(f"[red]IsADirectoryError[/red]: {escape(str(path))}: is a directory", highlight=False)
        raise typer.Exit(1)
    if path.exists() and not path.is_file():
        errors.print(f"[red]OSError[/red]: {escape(str(path))}: is not a regular file", highlight=False)
        raise typer.Exit(1)


def _write_charts(drawn: Any, png_dir: Path | None, html: Path | None, page: Any) -> None:
    """`drawn` charts as PNG files in `png_dir` and as the HTML page `page(drawn)` at `html`
    (either may be None); a file that cannot be written exits 1 with one line."""
    from routecore import charts

    try:
        if png_dir:
            charts.write_pngs(drawn, png_dir)
        if html:
            html.write_text(page(drawn), encoding="utf-8")
    except OSError as e:
        raise _cannot(e, "write it") from None


def _engine(plan: Path | None, state: str | None = None, state_prefix: str = "routecore") -> routecore.Engine:
    if plan:
        return routecore.Engine.from_file(plan, state=state, state_prefix=state_prefix)
    return routecore.Engine.demo(state=state, state_prefix=state_prefix)


def decision_dict(d: Any) -> dict[str, Any]:
    """A decision as a JSON-ready dict with the proto's field names."""
    out: dict[str, Any] = {
        "call_id": d.call_id,
        "action": d.action,
        "targets": [
            {
                "number": t.number,
                "uri": t.uri,
                "ring_seconds": t.ring_seconds,
                "rate_per_minute": t.rate_per_minute,
            }
            for t in d.targets
        ],
        "parallel": d.parallel,
        "menu": {"id": d.menu.id, "prompt": d.menu.prompt, "keys": d.menu.keys} if d.menu else None,
        "prompt": d.prompt,
        "voicemail_box": d.voicemail_box,
        "reject": {"sip_code": d.reject.sip_code, "reason": d.reject.reason} if d.reject else None,
        "display": {"name": d.display.name, "tag": d.display.tag, "certified": d.display.certified},
        "caller": {
            "normalized": d.caller.normalized,
            "kind": d.caller.kind,
            "province": d.caller.province,
            "city": d.caller.city,
            "carrier": d.caller.carrier,
            "virtual_operator": d.caller.virtual_operator,
            "country": d.caller.country,
        },
        "called_class": {"class": d.called_class.class_, "tags": d.called_class.tags},
        "tenant": d.tenant,
        "rule": d.rule,
        "plan_version": d.plan_version,
        "trace": d.trace,
    }
    if d.error is not None:
        out["error"] = {"code": d.error.code, "message": d.error.message}
    return out


def render_decision(d: Any, console: Console = console) -> None:
    """Prints a decision readably, with its trace when it has one."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan")
    table.add_column()
    table.add_row("action", f"[bold]{d.action}[/bold]")
    if d.targets:
        rows = [
            f"{i + 1}. {t.number or t.uri}  ring {t.ring_seconds}s  ¥{t.rate_per_minute:.2f}/min"
            for i, t in enumerate(d.targets)
        ]
        table.add_row("targets" + (" (all at once)" if d.parallel else ""), "\n".join(rows))
    if d.menu:
        table.add_row("menu", f"{d.menu.id}: prompt {d.menu.prompt}, keys {' '.join(d.menu.keys)}")
    if d.prompt:
        table.add_row("announce", d.prompt)
    if d.voicemail_box:
        table.add_row("voicemail", d.voicemail_box)
    if d.reject:
        table.add_row("reject", f"SIP {d.reject.sip_code} {d.reject.reason}")
    c = d.caller
    where = "/".join(x for x in (c.province, c.city) if x) or "-"
    carrier = c.carrier + (" (virtual operator)" if c.virtual_operator else "")
    table.add_row("caller", f"{c.normalized or '(withheld)'}  {c.kind}  {where}  {carrier}  {c.country}")
    table.add_row("tenant / rule", f"{d.tenant} / {d.rule or '(none)'}")
    cert = "certified" if d.display.certified else "not certified"
    table.add_row("display", f"{d.display.name or '-'}  [{d.display.tag or '-'}]  {cert}")
    cls = d.called_class
    if cls.class_:
        table.add_row("called class", f"{cls.class_} {' '.join(cls.tags)}")
    table.add_row("plan version", d.plan_version)
    console.print(table)
    if d.trace:
        console.print("[bold]trace[/bold]")
        for line in d.trace:
            console.print(f"  • {line}")


@app.command()
def route(
    called: str,
    caller: str,
    digits: Annotated[str, typer.Option(help="menu keys collected so far, e.g. 1 or 3T")] = "",
    at: Annotated[str | None, typer.Option(help="call time, ISO 8601 (default: now)")] = None,
    plan: Annotated[Path | None, typer.Option(help="plan file (default: the embedded demo plan)")] = None,
    explain: Annotated[bool, typer.Option(help="show every rule considered and why")] = False,
    json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
) -> None:
    """Decide one call and print the decision."""
    try:
        engine = _engine(plan)
        # With the trace always (`--explain` only widens the readable form's): the spec's
        # "one decision, readable, with the trace".
        d = engine.route(called=called, caller=caller, digits=digits, at=at, explain=True)
    except RoutecoreError as e:
        raise _refused(e) from None
    if json:
        # The HTTP twin's answer: the proto's field names plus `uri` and `uris`.
        from routecore.http import encode_decision

        answer = orjson.loads(encode_decision(d, engine.gateway))
        sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render_decision(d)


@app.command()
def check(plan: Path) -> None:
    """Validate a plan: every error with its file, line and path of keys; exit 1 on error."""
    from routecore.plan import check_plan, render_report

    report = check_plan(plan)
    render_report(report, console)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def classify(numbers: list[str]) -> None:
    """Classify 400/800 numbers (top, special, ordinary) and show their pattern tags.

    Every number is answered that can be: one that is not a number is named on standard error
    (`argument 2 ('abc'): why`), the others are still classified, and the exit status is then 1."""
    table = Table("number", "class", "tags")
    refused = None
    for i, n in enumerate(numbers, 1):
        try:
            # Normalised first, so any accepted form is classified and garbage is refused.
            number = routecore.normalize(n)
            if not number:
                raise InvalidNumberError("number: empty or withheld: no number to classify")
            c = routecore.classify(number)
        except RoutecoreError as e:
            refused = _refused(e, {"number": f"argument {i} ({n!r})"})
            continue
        table.add_row(n, c.class_ or "-", " ".join(c.tags))
    if table.row_count:
        console.print(table)
    if refused is not None:
        raise refused


#: Bad lines of a `pool` FILE shown one by one; past this many, only their count.
POOL_PROBLEMS_SHOWN = 20


@app.command()
def pool(
    file: Path,
    class_: Annotated[str | None, typer.Option("--class", help="top, special or ordinary")] = None,
    tag: Annotated[str | None, typer.Option(help="a tag such as repeat-4 or AABB")] = None,
    pattern: Annotated[str | None, typer.Option(help="a dial pattern such as _400XXX8888")] = None,
    limit: Annotated[int, typer.Option(min=0, help="print at most this many")] = 50,
) -> None:
    """Filter a file of candidate numbers by class, tag or dial pattern.

    FILE is read as a plan's list files are: one number a line in any accepted form
    (400-123-4567, +86 400 123 4567), `#` starts a comment, blank lines skipped. Every number is
    normalised before it is judged, and matches print in national form (4001234567), in file
    order. A line that is not a number is named with its line number on standard error and
    skipped; the others are still filtered, and the exit status is then 1."""
    try:
        found, problems = pool_lines(file.read_bytes(), class_=class_, tag=tag, pattern=pattern)
    except OSError as e:
        raise _cannot(e, "read it", file) from None
    except RoutecoreError as e:
        raise _refused(e) from None
    for n in found[:limit]:
        console.print(n)
    _report_problems(file, problems)
    skipped = f"; {len(problems)} bad line(s) skipped" if problems else ""
    errors.print(f"{len(found)} matching number(s){skipped}")
    if problems:
        raise typer.Exit(1)


def _report_problems(file: Path, problems: list[tuple[int, str]]) -> None:
    """`ListError: FILE:LINE: reason` for the first bad lines of a number file, then their count."""
    from rich.markup import escape

    for line, reason in problems[:POOL_PROBLEMS_SHOWN]:
        errors.print(f"[red]ListError[/red]: {escape(f'{file}:{line}: {reason}')}", highlight=False)
    if len(problems) > POOL_PROBLEMS_SHOWN:
        errors.print(f"[red]ListError[/red]: {file}: {len(problems) - POOL_PROBLEMS_SHOWN} more bad line(s)")


@app.command()
def demo() -> None:
    """The main job: routecore serving its embedded demo plan on loopback (gRPC and HTTP/JSON),
    with real calls routed over the wire, then a clean shutdown."""
    import asyncio

    console.rule("[bold]routecore demo[/bold]")
    for raw in ["+86 138 0013 8000", "tel:+86-755-8600-0000", "sip:anonymous@anonymous.invalid"]:
        console.print(f"normalize({raw!r}) → {routecore.normalize(raw)!r} ({routecore.kind(raw)})")
    engine = routecore.Engine.demo()
    console.print(f"demo plan {engine.version}: {len(engine.numbers())} numbers")
    asyncio.run(_demo_over_the_wire(engine))


@app.command()
def stats(
    cdr: Annotated[str, typer.Option(help="call records: an SQLite file or a postgresql:// URI")],
    plan: Annotated[Path | None, typer.Option(help="plan file: packages, rates and time zone")] = None,
    month: Annotated[str | None, typer.Option(help="only calls that ended in this month, YYYY-MM")] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="only this tenant's calls; a tenant with none (misspelt, or a quiet month) is warned "
            "about on standard error, and the exit status stays 0"
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    csv: Annotated[Path | None, typer.Option(help="also write the bills as CSV to this file")] = None,
    html: Annotated[Path | None, typer.Option(help="write a self-contained HTML report here")] = None,
    png_dir: Annotated[
        Path | None, typer.Option(help="write the charts as PNG files into this directory")
    ] = None,
) -> None:
    """Call statistics and bills per tenant and month from the call records."""
    from rich.markup import escape

    from routecore.plan import load_plan
    from routecore.records import is_postgres_dsn, open_record_store
    from routecore.stats import bills_csv, render_report, report

    if not is_postgres_dsn(cdr):
        if not Path(cdr).exists():
            errors.print(
                f"[red]FileNotFoundError[/red]: {escape(cdr)}: no such record database", highlight=False
            )
            raise typer.Exit(1)
        _check_regular_file(Path(cdr))
    try:
        model = load_plan(plan).model if plan else None
        # A report only reads: the store is opened read-only, never created nor written.
        store = open_record_store(cdr, read_only=True)
        try:
            rep = report(store, model, month=month, tenant=tenant)
        finally:
            store.close()
    except RoutecoreError as e:
        raise _refused(e) from None
    except OSError as e:  # the database went away or became a directory since the check
        raise _cannot(e, "read it", Path(cdr)) from None
    if tenant is not None and rep.stats.calls == 0:
        # Exit 0 all the same: a tenant with no calls in a month is an answer (its fee is still
        # billed), and scripts that bill tenant by tenant go on; the warning catches a typo.
        when = f" in {month}" if month else ""
        unknown = (
            ", and the plan has no such tenant" if model is not None and tenant not in model.tenants else ""
        )
        errors.print(
            f"[yellow]warning[/yellow]: {escape(f'stats: no calls for tenant {tenant!r}{when}{unknown}')}",
            highlight=False,
        )
    try:
        if csv:
            csv.write_text(bills_csv(rep.bills), encoding="utf-8")
    except OSError as e:
        raise _cannot(e, "write it") from None
    if html or png_dir:
        from routecore.stats import charts_of, report_html

        _write_charts(charts_of(rep), png_dir, html, lambda drawn: report_html(rep, drawn))
    if json:
        sys.stdout.write(rep.to_json().decode() + "\n")
    else:
        render_report(rep, console)


def _proto_view(m: Any, pb: Any) -> Any:
    """A `RouteDecision` message seen through the attributes `render_decision` reads."""
    from types import SimpleNamespace

    return SimpleNamespace(
        action=pb.RouteDecision.Action.Name(m.action),
        targets=list(m.targets),
        parallel=m.parallel,
        menu=m.menu if m.HasField("menu") else None,
        prompt=m.prompt,
        voicemail_box=m.voicemail_box,
        reject=m.reject if m.HasField("reject") else None,
        caller=m.caller,
        tenant=m.tenant,
        rule=m.rule,
        display=m.display,
        called_class=SimpleNamespace(class_=getattr(m.called_class, "class"), tags=list(m.called_class.tags)),
        plan_version=m.plan_version,
        trace=list(m.trace),
    )


DEMO_CALLS = [
    ("c-1", "4001234567", "+86 159 0755 0000", "", "2026-11-11T10:00:00+08:00"),
    ("c-2", "4001234567", "13800138000", "1", "2026-11-11T10:00:00+08:00"),
    ("c-3", "4008888888", "13912345678", "", "2026-11-20T10:00:00+08:00"),
    ("c-4", "4006666666", "15907550000", "", "2026-11-11T10:00:00+08:00"),
]


async def _demo_over_the_wire(engine: routecore.Engine) -> None:
    import asyncio
    import urllib.parse
    import urllib.request

    import grpc

    from routecore import server as srv
    from routecore.http import start_http
    from routecore.v1 import routing_pb2 as pb
    from routecore.v1 import routing_pb2_grpc as pb_grpc

    grpc_server, health = srv.build_server(engine)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    await srv.mark_serving(health)
    http = await start_http(grpc_server.routecore_service, "127.0.0.1", 0)
    console.print(f"serving gRPC on 127.0.0.1:{port} and HTTP/JSON on 127.0.0.1:{http.port}")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            router = pb_grpc.RouterStub(channel)
            for call_id, called, caller, digits, at in DEMO_CALLS:
                request = pb.RouteRequest(
                    call_id=call_id, called=called, caller=caller, digits=digits, time=at, explain=True
                )
                answer = await router.RouteCall(request, timeout=10)
                label = f"gRPC RouteCall: {caller} → {called}" + (f" keys {digits}" if digits else "")
                console.rule(f"{label} at {at}")
                render_decision(_proto_view(answer, pb))
        query = urllib.parse.urlencode(
            {
                "called": "4006666666",
                "caller": "02887654321",
                "call_id": "c-5",
                "time": "2026-11-11T10:00:00+08:00",
            }
        )
        url = f"http://127.0.0.1:{http.port}/v1/route?{query}"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        console.rule("HTTP GET /v1/route (what Kamailio relays on: `uri`)")
        decoded = orjson.loads(body)
        console.print(f"uri = {decoded['uri']!r}; action {decoded['action']}; rule {decoded['rule']}")
    finally:
        await http.stop(1.0)
        await srv.shutdown(grpc_server, health, 1.0)
    console.print("[green]stopped cleanly[/green]")


@app.command()
def serve(
    plan: Annotated[Path | None, typer.Option(help="plan file (default: the embedded demo plan)")] = None,
    grpc_address: Annotated[
        str, typer.Option("--grpc", help="gRPC listen address, host:port")
    ] = "127.0.0.1:50051",
    http: Annotated[
        str | None,
        typer.Option(
            help=f"HTTP/JSON twin, /metrics and /healthz on this host:port; 'off': none. Default "
            f"{DEFAULT_HTTP}, skipped with a warning when taken; an address given must be free",
            show_default=False,
        ),
    ] = None,
    cdr: Annotated[
        str | None,
        typer.Option(
            help="call records for ReportCall: an SQLite file, or a postgresql:// URI shared by nodes"
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(help="decision state shared by nodes: a redis:// URL (default: in process)"),
    ] = None,
    state_prefix: Annotated[
        str, typer.Option(help="prefix of the Redis keys and channels (one per platform)")
    ] = "routecore",
    admin_token_file: Annotated[
        Path | None, typer.Option(help="file holding the token Admin calls must present")
    ] = None,
    grace: Annotated[float, typer.Option(min=0, help="seconds in-flight calls get on shutdown")] = 5.0,
    max_in_flight: Annotated[int, typer.Option(min=1, help="routing calls in flight before shedding")] = 256,
    max_queued: Annotated[
        int, typer.Option(min=1, help="calls grpc's core holds for the server before it drops new ones")
    ] = 512,
    loop_nice: Annotated[
        int,
        typer.Option(
            min=0,
            max=19,
            help="nice levels the answering thread runs below grpc's transport threads (Linux), "
            "so that overload is refused at once; 0: leave it",
        ),
    ] = 10,
    show_numbers: Annotated[bool, typer.Option(help="log caller numbers unmasked")] = False,
    watch: Annotated[
        bool, typer.Option(help="reload when the plan file or one of its list files changes")
    ] = False,
    watch_interval: Annotated[float, typer.Option(help="seconds between checks with --watch")] = 1.0,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate chain: serve gRPC and HTTP over TLS")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert")] = None,
    tls_client_ca: Annotated[
        Path | None, typer.Option(help="PEM CA: clients must present a certificate it signed (mutual TLS)")
    ] = None,
) -> None:
    """Serve routing over gRPC and HTTP/JSON until SIGTERM or SIGINT.

    SIGHUP reloads the plan file (as does a change with --watch); a plan that fails is logged
    and the old one keeps serving."""
    import asyncio
    import logging

    from routecore import server

    server.configure_logging(logging.INFO, mask=not show_numbers)
    if watch_interval <= 0:
        errors.print("[red]error[/red]: --watch-interval must be > 0")
        raise typer.Exit(2)
    if watch and plan is None:
        errors.print("[yellow]--watch needs --plan; the embedded demo plan is not watched[/yellow]")
    try:
        engine = _engine(plan, state, state_prefix)
    except RoutecoreError as e:
        raise _refused(e) from None
    token = None
    log = logging.getLogger("routecore.serve")
    if admin_token_file is not None:
        try:
            token = admin_token_file.read_text(encoding="utf-8").strip()
            mode = admin_token_file.stat().st_mode
        except (OSError, UnicodeDecodeError) as e:
            raise _cannot(e, "read the admin token", admin_token_file) from None
        if not token:
            errors.print(f"[red]error[/red]: {admin_token_file} holds no token")
            raise typer.Exit(2)
        if mode & 0o077:
            log.warning("%s: the admin token file is readable by others (chmod 600)", admin_token_file)
    else:
        log.warning("no --admin-token-file: Admin calls (reload, list updates) are open to any client")
    tls = _tls(tls_cert, tls_key, tls_client_ca)
    http_address = None if http is not None and http.lower() == "off" else http or DEFAULT_HTTP
    _check_listen_address("--grpc", grpc_address)
    if http_address is not None:
        _check_listen_address("--http", http_address)
    if tls is None and not all(_loopback(a) for a in (grpc_address, http_address or "127.0.0.1:0")):
        log.warning("serving beyond loopback without --tls-cert: calls and the admin token travel in clear")
    records = _record_store(cdr) if cdr is not None else None
    options = server.ServerOptions(
        admin_token=token,
        grace=grace,
        max_in_flight=max_in_flight,
        max_queued=max_queued,
        loop_nice=loop_nice,
        tls=tls,
    )
    extra = _http_starter(http_address, tls, required=http is not None) if http_address else None
    try:
        asyncio.run(
            server.serve(
                engine,
                grpc_address,
                records=records,
                options=options,
                extra=extra,
                plan_path=plan.resolve() if plan is not None else None,
                watch=watch_interval if watch else None,
                broadcast=(state, state_prefix) if state else None,
            )
        )
    except OSError as e:
        # An address taken or refused (the HTTP twin's, or gRPC's): `OSError: why`, one line.
        errors.print(f"[red]{type(e).__name__}[/red]: {e.strerror or e}", highlight=False)
        raise typer.Exit(1) from None
    except RuntimeError as e:
        # grpc's own refusal of an address (in use, or not an address): one line, no traceback.
        if "bind" not in str(e).lower():
            raise
        errors.print(f"[red]OSError[/red]: --grpc {grpc_address}: {e}", highlight=False)
        raise typer.Exit(1) from None


def _check_listen_address(flag: str, address: str) -> None:
    """Exits 2 unless `address` is HOST:PORT with a port of 0 to 65535 (0: any free port); grpc
    would wrap a larger port silently (99999 serves on 34463) and a bind would raise. gRPC also
    listens on a Unix socket (`unix:/run/routecore.sock`), which grpc checks itself."""
    if flag == "--grpc" and address.startswith("unix:"):
        return
    host, _, port = address.rpartition(":")
    if not host.strip("[]") or not (port.isascii() and port.isdigit()):
        errors.print(f"[red]error[/red]: {flag} {address!r}: expected host:port")
        raise typer.Exit(2)
    if int(port) > 65535:
        errors.print(f"[red]error[/red]: {flag} {address!r}: port {int(port)} is not 0 to 65535")
        raise typer.Exit(2)


def _record_store(spec: str) -> Any:
    """The record store (SQLite file or PostgreSQL URI); opened leniently so that routing starts
    even if the disk is read-only or the database is down (each report then fails clearly and
    is not acknowledged)."""
    from routecore.records import open_record_store

    return open_record_store(spec, strict=False)


def _loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def _tls(cert: Path | None, key: Path | None, client_ca: Path | None) -> Any:
    """The TLS files for both listeners (None: plaintext); a bad set exits 2 naming the file."""
    from routecore.tls import TlsError, TlsFiles

    if cert is None and key is None:
        if client_ca is not None:
            errors.print("[red]error[/red]: --tls-client-ca needs --tls-cert and --tls-key")
            raise typer.Exit(2)
        return None
    if cert is None or key is None:
        errors.print("[red]error[/red]: --tls-cert and --tls-key go together")
        raise typer.Exit(2)
    try:
        return TlsFiles.load(cert, key, client_ca)
    except TlsError as e:
        errors.print(f"[red]error[/red]: {e}")
        raise typer.Exit(2) from None


def _http_starter(address: str, tls: Any = None, *, required: bool = True) -> Any:
    """The HTTP/JSON companion, started on the gRPC server's `Service` (same engine, reloads and
    records), over TLS with the gRPC listener's files when given; returns its async stop.

    Not `required` (the default address, not asked for): a taken address costs a warning, not
    the service, so that a second node on one host still routes over gRPC."""
    import errno
    import logging

    from routecore.http import start_http

    host, _, port = address.rpartition(":")

    async def start(service: Any) -> Any:
        ssl = tls.ssl_context() if tls is not None else None
        try:
            server = await start_http(service, host.strip("[]"), int(port), records=service.records, ssl=ssl)
        except OSError as e:
            if required or e.errno != errno.EADDRINUSE:
                raise
            logging.getLogger("routecore.serve").warning(
                "HTTP/JSON not served: %s is taken (%s); give --http HOST:PORT or --http off", address, e
            )

            async def nothing() -> None:
                return None

            return nothing
        return server.stop

    return start


@app.command()
def bench(
    calls: Annotated[
        int,
        typer.Option(
            min=1, max=100_000, help="calls per measurement (1 to 100,000; a batch takes at least 10,000)"
        ),
    ] = 5000,
) -> None:
    """Quick in-process and over-the-wire measurements on the demo plan, printed as a table.

    Bounded in count, loopback only. The full benchmarks, with same-run baselines, are in bench/.
    """
    import asyncio
    import statistics
    import time

    engine = routecore.Engine.demo()
    at = "2026-11-11T10:00:00+08:00"
    rows: list[tuple[str, str, str]] = []
    lat = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        engine.route("4006666666", "15907550000", "", at)
        lat.append(time.perf_counter_ns() - t0)
    rows.append(("in process", "Engine.route, one call", f"median {statistics.median(lat) / 1e3:.2f} µs"))
    n = max(calls, 10_000)
    columns = {"called": ["4006666666"] * n, "caller": ["15907550000"] * n, "at": [at] * n}
    t0 = time.perf_counter()
    engine.route_many(**columns)
    rate = n / (time.perf_counter() - t0)
    rows.append(("in process", f"Engine.route_many, {n:,} calls", f"{rate / 1e6:.2f} M decisions/s"))
    rows.extend(asyncio.run(_bench_over_the_wire(engine, calls, at)))
    table = Table("where", "what", "result", title=f"routecore bench (demo plan {engine.version})")
    for row in rows:
        table.add_row(*row)
    console.print(table)


async def _bench_over_the_wire(engine: routecore.Engine, calls: int, at: str) -> list[tuple[str, str, str]]:
    import asyncio
    import http.client
    import time

    import grpc

    from routecore import server as srv
    from routecore.http import start_http
    from routecore.v1 import routing_pb2 as pb

    grpc_server, health = srv.build_server(engine)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    await srv.mark_serving(health)
    web = await start_http(grpc_server.routecore_service, "127.0.0.1", 0)
    rows: list[tuple[str, str, str]] = []

    def summary(samples: list[float], seconds: float) -> str:
        samples.sort()
        p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99)]
        return f"{len(samples) / seconds:,.0f}/s, p50 {p50 * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs"

    try:
        request = pb.RouteRequest(called="4006666666", caller="15907550000", time=at).SerializeToString()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/routecore.v1.Router/RouteCall")
            samples = []
            start = time.perf_counter()
            for _ in range(calls):
                t0 = time.perf_counter()
                await call(request, timeout=10)
                samples.append(time.perf_counter() - t0)
            rows.append(
                ("gRPC, loopback", "RouteCall, one client", summary(samples, time.perf_counter() - start))
            )

        def http_run() -> tuple[list[float], float]:
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
            path = f"/v1/route?called=4006666666&caller=15907550000&time={at.replace('+', '%2B')}"
            samples = []
            start = time.perf_counter()
            for _ in range(calls):
                t0 = time.perf_counter()
                conn.request("GET", path)
                conn.getresponse().read()
                samples.append(time.perf_counter() - t0)
            conn.close()
            return samples, time.perf_counter() - start

        samples, seconds = await asyncio.to_thread(http_run)
        rows.append(
            ("HTTP/JSON, loopback", "GET /v1/route, one keep-alive client", summary(samples, seconds))
        )
    finally:
        await web.stop(1.0)
        await srv.shutdown(grpc_server, health, 1.0)
    return rows


@app.command()
def simulate(
    calls: Annotated[float, typer.Option(help="expected calls per day")] = 10_000,
    day: Annotated[str, typer.Option(help="first simulated day, YYYY-MM-DD")] = "2026-11-11",
    days: Annotated[float, typer.Option(help="how many days")] = 1.0,
    seed: Annotated[
        int, typer.Option(min=0, max=2**64 - 1, help="random seed: the same seed gives the same report")
    ] = 0,
    plan: Annotated[Path | None, typer.Option(help="plan file (default: the embedded demo plan)")] = None,
    answer: Annotated[float, typer.Option(help="chance that a free target answers")] = 0.9,
    handling: Annotated[float, typer.Option(help="mean handling time, seconds")] = 180.0,
    handling_cv: Annotated[
        float | None, typer.Option(help="log-normal handling with this coefficient of variation")
    ] = None,
    patience: Annotated[
        float | None, typer.Option(help="mean caller patience while ringing, seconds (default: unlimited)")
    ] = None,
    blocked_share: Annotated[float, typer.Option(help="share of callers from the plan's block lists")] = 0.0,
    replay_csv: Annotated[
        Path | None, typer.Option(help="replay calls from a CSV (at, called, caller[, digits])")
    ] = None,
    replay_cdr: Annotated[
        Path | None, typer.Option(help="replay the calls of a record database (SQLite)")
    ] = None,
    html: Annotated[Path | None, typer.Option(help="write a self-contained HTML report here")] = None,
    png_dir: Annotated[
        Path | None, typer.Option(help="write the charts as PNG files into this directory")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Simulate a day of traffic through the plan: arrivals, routing, targets answering and busy."""

    from rich.progress import Progress

    from routecore.simulation import Arrivals
    from routecore.simulation import simulate as run

    if replay_csv is not None and replay_cdr is not None:
        raise typer.BadParameter("give one of them, not both", param_hint="'--replay-csv' / '--replay-cdr'")
    for replayed in (replay_csv, replay_cdr):
        if replayed is not None:
            _check_regular_file(replayed)
    try:
        engine = _engine(plan)
        arrivals = None
        if replay_csv is not None:
            arrivals = Arrivals.from_csv(replay_csv, engine.timezone)
        elif replay_cdr is not None:
            from routecore.records import SqliteRecordStore

            # A replay only reads: opened read-only, never created nor written.
            store = SqliteRecordStore(replay_cdr, read_only=True)
            try:
                arrivals = Arrivals.from_records(store, engine.timezone)
            finally:
                store.close()
        # Only on a terminal: elsewhere the bar would leave a blank line on standard error.
        with Progress(console=errors, transient=True, disable=json or not errors.is_terminal) as bar:
            task = bar.add_task("simulating", total=None)
            rep = run(
                engine,
                calls=None if arrivals is not None else calls,
                day=day,
                days=days,
                arrivals=arrivals,
                seed=seed,
                answer_probability=answer,
                mean_handling_seconds=handling,
                handling="lognormal" if handling_cv is not None else "exponential",
                handling_cv=handling_cv if handling_cv is not None else 1.0,
                patience_seconds=patience,
                blocked_share=blocked_share,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except OSError as e:  # a replay file that cannot be read
        raise _cannot(e, "read it") from None
    except UnicodeDecodeError as e:  # only the replayed CSV is decoded
        raise _cannot(e, "read it as UTF-8 text", replay_csv) from None
    except (RoutecoreError, ValueError) as e:
        replay = "--replay-csv" if replay_csv is not None else "--replay-cdr"
        raise _refused(e, {"arrivals": replay}) from None
    if html or png_dir:
        _write_charts(rep.charts(), png_dir, html, lambda drawn: _simulation_html(rep, drawn))
    if json:
        sys.stdout.write(orjson.dumps(rep.to_dict()).decode() + "\n")
        return
    _render_simulation(rep)


def _simulation_summary(rep: Any) -> list[tuple[str, str]]:
    return [
        ("calls", str(rep.calls)),
        ("forwarded", str(rep.forwarded)),
        ("answered", f"{rep.answered} ({rep.answer_rate:.1%})"),
        ("lost", f"{rep.lost} ({rep.blocking:.1%})"),
        ("abandoned", f"{rep.abandoned} ({rep.abandon_rate:.1%})"),
        ("overflowed", f"{rep.overflowed} ({rep.overflow_rate:.1%})"),
        ("rejected", ", ".join(f"{k or '-'} {v}" for k, v in rep.rejected.items()) or "0"),
        ("other", ", ".join(f"{k} {v}" for k, v in rep.other.items()) or "0"),
    ]


def _simulation_hours(rep: Any) -> list[list[str]]:
    return [
        [f"{h:02d}", *(str(int(row[k])) for k in ("offered", "answered", "lost", "abandoned")), f"{u:.1%}"]
        for h, (row, u) in enumerate(zip(rep.by_hour, rep.utilisation_by_hour, strict=True))
    ]


def _ranked_rows(counts: dict[str, int], top: int = 20) -> list[list[str]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [[k or "-", str(n)] for k, n in ranked]


def _simulation_groups(rep: Any) -> list[list[str]]:
    return [[name, str(g["targets"]), str(g["peak_concurrent"])] for name, g in rep.groups.items()]


def _simulation_targets(rep: Any) -> list[list[str]]:
    utilisation = rep.utilisation  # a property computed over every target: read once
    return [
        [name, str(t["rung"]), str(t["answered"]), f"{utilisation.get(name, 0.0):.1%}"]
        for name, t in rep.targets.items()
    ]


def _simulation_html(rep: Any, drawn: Any) -> str:
    from routecore import charts

    return charts.html_report(
        f"routecore simulation from {rep.start}",
        _simulation_summary(rep),
        drawn,
        [
            (
                "by hour",
                ["hour", "offered", "answered", "lost", "abandoned", "utilisation"],
                _simulation_hours(rep),
            ),
            ("target groups", ["group", "targets", "peak concurrent calls"], _simulation_groups(rep)),
            *(
                (f"by {name}", [name, "calls"], _ranked_rows(counts))
                for name, counts in (
                    ("tenant", rep.by_tenant),
                    ("number", rep.by_number),
                    ("rule", rep.by_rule),
                )
            ),
            (
                "targets",
                ["target", "rung", "answered", "utilisation"],
                _simulation_targets(rep),
            ),
        ],
    )


def _render_simulation(rep: Any) -> None:
    summary = Table(show_header=False, title=f"simulation from {rep.start}")
    for k, v in _simulation_summary(rep):
        summary.add_row(k, v)
    console.print(summary)
    hours = Table("hour", "offered", "answered", "lost", "abandoned", "utilisation")
    for row in _simulation_hours(rep):
        hours.add_row(*row)
    console.print(hours)
    groups = Table("group", "targets", "peak concurrent", title="target groups")
    for row in _simulation_groups(rep):
        groups.add_row(*row)
    console.print(groups)
    for name, counts in (("tenant", rep.by_tenant), ("rule", rep.by_rule)):
        table = Table(name, "calls", title=f"by {name}")
        for row in _ranked_rows(counts, 10):
            table.add_row(*row)
        console.print(table)
    targets = Table("target", "rung", "answered", "utilisation")
    for row in _simulation_targets(rep):
        targets.add_row(*row)
    console.print(targets)


def main() -> None:
    app()
