"""Blocking an address with nftables or iptables: rendered as an argv, run only when approved and enabled.

The command is a fixed template with one validated IP address substituted,
passed to :func:`subprocess.run` as a list (never through a shell). It runs
only when the step was approved, the run is not a dry run, and the operator
turned ``firewall.execute`` on; otherwise the run records the exact command it
would have run, plus the command that undoes it.
"""

from __future__ import annotations

import ipaddress
import subprocess
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from sentinel.respond.actions import ActionContext, ActionFailed, ActionSpec
from sentinel.respond.settings import Firewall, parse_duration

EXEC_TIMEOUT = 15


class BlockArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: str
    duration: str | None = None


def render(fw: Firewall, ip: str, duration: timedelta, comment: str) -> tuple[list[str], list[str]]:
    """The block command and its undo for a validated address."""
    addr = ipaddress.ip_address(ip)
    if fw.backend == "nftables":
        nft_set = fw.nft_set if addr.version == 4 else f"{fw.nft_set}_v6"
        seconds = int(duration.total_seconds())
        target = ["nft", "add", "element", fw.nft_family, fw.nft_table, nft_set]
        block = [*target, "{", str(addr), "timeout", f"{seconds}s", "}"]
        undo = ["nft", "delete", "element", fw.nft_family, fw.nft_table, nft_set, "{", str(addr), "}"]
        return block, undo
    tool = "iptables" if addr.version == 4 else "ip6tables"
    rule = ["-s", str(addr), "-m", "comment", "--comment", comment[:250], "-j", "DROP"]
    return [tool, "-I", fw.iptables_chain, *rule], [tool, "-D", fw.iptables_chain, *rule]


def check_blockable(fw: Firewall, ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        raise ActionFailed(f"{ip!r} is not an IP address; nothing to block") from None
    for net in fw.never_block:
        if addr in ipaddress.ip_network(net, strict=False):
            raise ActionFailed(f"{addr} is inside {net}, which firewall.never_block protects")
    if addr.is_unspecified or addr.is_multicast:
        raise ActionFailed(f"{addr} cannot be blocked (unspecified or multicast)")
    return str(addr)


def block_address(args: BlockArgs, ctx: ActionContext) -> dict[str, Any]:
    fw = ctx.config.firewall
    ip = check_blockable(fw, args.ip)
    duration = parse_duration(args.duration) if args.duration else fw.block_for
    block, undo = render(fw, ip, duration, f"sentinel alert {ctx.alert.id} run {ctx.run_id}")
    out: dict[str, Any] = {
        "ip": ip,
        "backend": fw.backend,
        "argv": block,
        "undo_argv": undo,
        "duration_s": int(duration.total_seconds()),
    }
    if ctx.dry_run:
        return {**out, "executed": False, "why": "dry run"}
    if not fw.execute:
        return {**out, "executed": False, "why": "firewall.execute is off in the response settings"}
    try:
        proc = subprocess.run(block, capture_output=True, text=True, timeout=EXEC_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ActionFailed(f"could not run {block[0]}: {exc}") from None
    if proc.returncode != 0:
        raise ActionFailed(f"{block[0]} exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return {**out, "executed": True, "approved_by": ctx.approved_by, "stdout": proc.stdout[-500:]}


SPECS = [
    ActionSpec(
        "block_address",
        BlockArgs,
        block_address,
        side_effect=True,
        needs_approval=True,
        summary="block an address at the firewall (nftables set element or iptables DROP rule)",
    ),
]
