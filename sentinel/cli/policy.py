"""``sentinel policy``: validate the data policy, check a repository against it, export it, reveal a token."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from sentinel.cli.common import audit_from, cli_actor, runtime_from, settings_from
from sentinel.cli.progress import Meter, quiet_option
from sentinel.errors import Invalid
from sentinel.policy import FORMATS


def _policy_file(ctx: click.Context, given: str | None) -> Path:
    from sentinel.policy import policy_path

    return Path(given) if given else policy_path(settings_from(ctx))


_POLICY_OPTION = click.option(
    "--policy", "policy_file", type=click.Path(dir_okay=False), help="Policy file (default: the configured one)."
)


@click.group()
def policy() -> None:
    """The data-protection policy: access, anonymisation and repository rules."""


@policy.command()
@_POLICY_OPTION
@click.pass_context
def validate(ctx: click.Context, policy_file: str | None) -> None:
    """Validate the policy file; list every problem as file:line: reason (exit 1 if any)."""
    from sentinel.policy import policy_findings

    path = _policy_file(ctx, policy_file)
    if not path.is_file():  # nothing to validate is the caller's mistake (exit 2), not a finding (exit 1)
        raise click.BadParameter(f"{path}: no such file", param_hint="--policy")
    loaded, findings = policy_findings(path, settings_from(ctx).classifiers_dir)
    for f in findings:
        click.echo(f"{f.path}:{f.line}: {f.message}" if f.line else f"{f.path}: {f.message}", err=True)
    if findings:
        sys.exit(1)
    assert loaded is not None
    p = loaded.policy
    click.echo(
        f"{path}: valid ({len(p.fields)} field rules, purposes {', '.join(p.purposes)}, {len(p.access.roles)} roles)"
    )


@policy.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@_POLICY_OPTION
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report here (default: stdout).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Processes (default: the CPUs available).")
@quiet_option
@click.pass_context
def check(
    ctx: click.Context,
    paths: tuple[str, ...],
    policy_file: str | None,
    fmt: str,
    output: str | None,
    jobs: int | None,
    quiet: bool,
) -> None:
    """Check data files, fixtures, log samples and schemas under PATHS (default: .) against the policy.

    Exits 1 when a field holding personal data has no policy coverage, a file
    holds unmasked personal data the policy forbids there, or the policy is
    inconsistent; 0 on a clean tree.
    """
    from sentinel.policy import render, run_check

    settings = settings_from(ctx)
    with Meter("policy check", None, "files", show=not quiet, forced=settings.progress) as meter:
        report = run_check(
            [Path(p) for p in paths or (".",)],
            _policy_file(ctx, policy_file),
            jobs=jobs,
            classifiers_dir=settings.classifiers_dir,
            progress=meter.update,
        )
    rendered = render(report, fmt)
    if output:
        Path(output).write_text(rendered, encoding="utf-8")
        click.echo(render(report, "text").splitlines()[-1], err=True)
    else:
        click.echo(rendered, nl=False)
    sys.exit(1 if report.failed else 0)


@policy.command("field-access")
@_POLICY_OPTION
@click.pass_context
def field_access_cmd(ctx: click.Context, policy_file: str | None) -> None:
    """Print the Elasticsearch field-level security each role gets from the policy (JSON)."""
    from sentinel.policy import field_access, load_policy

    settings = settings_from(ctx)
    loaded = load_policy(_policy_file(ctx, policy_file), classifiers_dir=settings.classifiers_dir)
    click.echo(orjson.dumps(field_access(loaded), option=orjson.OPT_INDENT_2).decode())


@policy.command()
@click.argument("tokens", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why re-identification is lawful (case number, request): audited.")
@click.pass_context
def reveal(ctx: click.Context, tokens: tuple[str, ...], reason: str) -> None:
    """Decrypt ``pe-...`` tokens (the lawful re-identification path); each use is chained in the audit trail first."""
    from sentinel.policy import reveal as decrypt

    keys = runtime_from(ctx).keys
    audit, actor = audit_from(ctx), cli_actor()
    for token in tokens:
        try:
            value = decrypt(token, keys)
        except ValueError as exc:
            raise Invalid(f"{token[:24]}...: {exc}") from None
        # recorded before the value is shown: a reveal that cannot be audited does not happen
        audit.record(actor, "policy.reveal", f"token:{token}", reason=reason)
        click.echo(value)
