"""Mutation score of the modules that carry Sentinel's guarantees, one module at a time.

A test suite is measured by the bugs it catches: mutmut plants one small change at a time in a
module (``<`` for ``<=``, a dropped condition, another constant) and runs only the tests related to
that module; a mutant the tests do not notice is either a missing test or an equivalent change
(listed in ``EQUIVALENT`` with the reason; a change of letter case in SQL text is recognised as
equivalent by :func:`sql_case_only`). The score is killed / (mutants - equivalent); the goal
is 85 % on each module.

    python bench/mutation.py                              # every module below, all mutants
    python bench/mutation.py --module audit --module suppress
    python bench/mutation.py --sample 60 --max-children 1 # at most 60 mutants per module (seeded)
    python bench/mutation.py --module audit --survivors   # also print each surviving mutant's diff

Each module runs in its own copy of the checkout (tracked and untracked files, so new tests count)
under a temporary folder that is removed afterwards. Mutation runs are CPU-heavy and separate
from the default test run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")


@dataclass(frozen=True)
class Target:
    path: str  # the module mutated
    tests: tuple[str, ...]  # the tests related to it (files or node ids, and pytest selection options)


TARGETS: dict[str, Target] = {
    "validators": Target("sentinel/classify/validators.py", ("tests/classify/test_validators.py",)),
    "protect": Target(
        "sentinel/policy/protect.py",
        (
            "tests/policy/test_protect.py",
            "tests/policy/test_operators.py",
            "tests/policy/test_ingest.py",
            "tests/policy/test_structure.py",
            "tests/policy/test_protect_same.py",
        ),
    ),
    "candidates": Target("sentinel/policy/candidates.py", ("tests/policy/test_candidates.py",)),
    "permissions": Target(
        "sentinel/api/permissions.py", ("tests/security/test_permissions.py", "tests/security/test_scope_matrix.py")
    ),
    "access": Target("sentinel/policy/access.py", ("tests/policy/test_model.py", "tests/policy/test_api.py")),
    # test_audit_actions.py also runs `audit verify` in child processes, which import the unmutated package:
    # check_objects is measured by test_audit_objects.py, in this process
    "audit": Target(
        "sentinel/audit.py",
        (
            "tests/security/test_audit.py",
            "tests/security/test_audit_objects.py",
            "tests/security/test_audit_actions.py",
        ),
    ),
    "accounts": Target("sentinel/api/accounts.py", ("tests/security/test_accounts.py", "tests/security/test_auth.py")),
    # the contract's Elasticsearch simulator needs Elastic's specification beside the checkout: SQLite half only
    "alert_ops": Target(
        "sentinel/store/alert_ops.py",
        (
            "tests/store/test_alert_ops.py",
            "tests/store/test_contract.py",
            "tests/respond/test_lifecycle.py",
            "-k",
            "not simulator",
        ),
    ),
    "correlation": Target("sentinel/detect/correlation.py", ("tests/detect/test_correlation.py",)),
    "suppress": Target("sentinel/respond/suppress.py", ("tests/respond/test_suppress.py",)),
    # the check of the whole checkout would read mutmut's own state file (its timings can look like card numbers)
    "check": Target(
        "sentinel/policy/check.py", ("tests/policy/test_check.py", "-k", "not this_repository_passes_its_own_check")
    ),
}

# mutant name -> why no test can tell it from the original (kept out of the score's denominator)
EQUIVALENT: dict[str, str] = {
    "sentinel.audit.xǁAuditLogǁ_last__mutmut_12": "reads 128 KiB from the end at first, not 64 KiB: speed only",
    # Starlette answers HEAD on a GET-only route with 405 before any dependency runs: authorize never sees HEAD
    "sentinel.api.permissions.x_route_key__mutmut_6": "HEAD mapped to GET only where a route accepts HEAD (none)",
    "sentinel.api.permissions.x_route_key__mutmut_8": "HEAD mapped to another name only where a route accepts HEAD",
    # scope fields are "labels.province" and "labels.commune": one dot, so every split gives the same name
    "sentinel.policy.access.xǁRoleViewǁlist_alerts__mutmut_7": "split('.') on a field with one dot",
    "sentinel.policy.access.xǁRoleViewǁlist_alerts__mutmut_10": "split('.', 2) on a field with one dot",
    # candidates: data[-1:0] is empty, so an "@" at 0 is refused either way; no needle is or starts with a newline
    "sentinel.policy.candidates.x__mailbox__mutmut_4": "0 <= pos: the slice before position 0 is empty, not alnum",
    "sentinel.policy.candidates.x__lines_with__mutmut_44": "end <= 0: a newline at 0 would have to be the needle",
    "sentinel.policy.candidates.xǁPrefilterǁ__init____mutmut_71": "ahocorasick_rs's default matchkind is STANDARD",
    # protect: the handler name is looked up only for a lone surrogate, which parsers and orjson never let through
    "sentinel.policy.protect.x__digest__mutmut_14": "'XXsurrogatepassXX': no lone surrogate reaches it",
    # candidates: a quote before the @ already refuses "@timestamp" as a mailbox; the replacement only saves work
    "sentinel.policy.candidates.x_candidate_lines__mutmut_8": 'speed only: _mailbox refuses "@timestamp" anyway',
    "sentinel.policy.candidates.x_candidate_lines__mutmut_9": 'speed only: _mailbox refuses "@timestamp" anyway',
    "sentinel.policy.candidates.xǁPrefilterǁentities_in__mutmut_11": "'SURROGATEPASS': no lone surrogate reaches it",
    "sentinel.policy.candidates.x_has_candidate__mutmut_35": "the raw needles (@, (0, ngày) cannot overlap each other",
    # check: with no non-empty value there is no raw value to report; ranks only order; count(..., None) is from 0
    "sentinel.policy.check.xǁCheckerǁ_field__mutmut_91": "non_empty == 0 means no items, so no raw value either",
    "sentinel.policy.check.xǁCheckerǁ_promise__mutmut_71": "rank 3 for 2: ranks are only compared, the order stays",
    "sentinel.policy.check.xǁCheckerǁ_text__mutmut_101": "bytes.count(sub, None, end) counts from 0 as well",
}

_LITERAL = re.compile(r'"([^"\\]*)"')
_SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|WITH)\b", re.IGNORECASE)


def sql_case_only(diff: str) -> bool:
    """Whether a mutant only changes the letter case of SQL text without quoted values in it.

    SQLite's keywords and table and column names are case-insensitive, so ``select`` for ``SELECT``
    (or ``TOKENS`` for ``tokens``) cannot change what a statement does; a quoted value (``'open'``)
    could, and such a statement is left to the tests.
    """
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    if len(removed) != 1 or len(added) != 1 or removed == added or removed[0].lower() != added[0].lower():
        return False
    before, after = _LITERAL.findall(removed[0]), _LITERAL.findall(added[0])
    changed = [(b, a) for b, a in zip(before, after, strict=False) if b != a]
    outside = _LITERAL.sub('""', removed[0]) == _LITERAL.sub('""', added[0])
    return (
        len(before) == len(after)
        and outside
        and bool(changed)
        and all(_SQL.match(b) and "'" not in b for b, _ in changed)
    )


# exit codes mutmut records per mutant (mutmut.stats.status_by_exit_code)
KILLED = {1, 3, 36, -24, 24, 152, 255, 37}  # a failing test, a pytest error, a timeout, a type check
SURVIVED = {0}
NO_TESTS = {5, 33}

CONTENT = ["rules", "classifiers", "collectors", "playbooks", "fuzz", "bench", "deploy", "docs", "scripts", "README.md"]


def checkout_copy(dest: Path) -> None:
    """Tracked and untracked (not ignored) files of the checkout, so a new test is measured too."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in names:
        if not raw:
            continue
        src = ROOT / os.fsdecode(raw)
        if src.is_file():
            target = dest / os.fsdecode(raw)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def configure(work: Path, target: Target) -> None:
    config = {
        "source_paths": ["sentinel"],
        "only_mutate": [target.path],
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-x"],
        "also_copy": CONTENT,
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    with (work / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def mutmut(work: Path, *args: str, check: bool = True) -> None:
    done = subprocess.run([str(MUTMUT), *args], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and done.returncode != 0:
        # mutmut stops when the related tests fail without any mutant: say so and go on with the next module
        raise RuntimeError(f"mutmut {args[0]} failed; its last lines:\n{done.stdout[-1500:]}")


def results(work: Path, target: Target) -> dict[str, int | None]:
    meta = work / "mutants" / (target.path + ".meta")
    return json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]


@dataclass
class Score:
    module: str
    mutants: int
    run: int
    killed: int
    survived: list[str]
    no_tests: list[str]
    equivalent: int
    seconds: float

    @property
    def percent(self) -> float:
        denominator = self.run - self.equivalent
        return 100.0 * self.killed / denominator if denominator else 100.0


def measure(name: str, target: Target, sample: int | None, children: int, show: bool, keep: bool) -> Score:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f"sentinel-mutation-{name}-"))
    try:
        checkout_copy(work)
        configure(work, target)
        # a name matching nothing: mutmut writes the mutants, then stops before running any
        mutmut(work, "run", "no.such.mutant", check=False)
        every = sorted(results(work, target))
        if sample is None or sample >= len(every):
            chosen = every
            mutmut(work, "run", "--max-children", str(children))
        else:
            chosen = sorted(random.Random(name).sample(every, sample))
            mutmut(work, "run", "--max-children", str(children), *chosen)
        codes = results(work, target)
        killed = [m for m in chosen if codes.get(m) in KILLED]
        left = [m for m in chosen if codes.get(m) not in KILLED]
        diffs = {
            m: subprocess.run([str(MUTMUT), "show", m], cwd=work, capture_output=True, text=True).stdout for m in left
        }
        equivalent_ones = {m for m in left if m in EQUIVALENT or sql_case_only(diffs[m])}
        survived = [m for m in left if codes.get(m) in SURVIVED and m not in equivalent_ones]
        no_tests = [m for m in left if codes.get(m) in NO_TESTS and m not in equivalent_ones]
        equivalent = len(equivalent_ones)
        if show:
            for m in survived + no_tests:
                print(diffs[m].rstrip() + "\n")
        return Score(
            name, len(every), len(chosen), len(killed), survived, no_tests, equivalent, time.monotonic() - started
        )
    finally:
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(TARGETS), help="default: every module")
    parser.add_argument("--sample", type=int, default=None, help="at most this many mutants per module (seeded)")
    parser.add_argument("--max-children", type=int, default=1, help="parallel test processes (the machine is shared)")
    parser.add_argument("--survivors", action="store_true", help="print the diff of each surviving mutant")
    parser.add_argument("--keep", action="store_true", help="keep the working copies (to run `mutmut browse` there)")
    parser.add_argument("--json", type=Path, help="also write the scores to this file")
    parser.add_argument("--tests", nargs="+", help="run these tests instead of the module's related ones")
    args = parser.parse_args()
    if not MUTMUT.exists():
        print(f"mutmut is not installed next to {sys.executable}: pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores", flush=True)
    print(
        f"{'module':<12} {'mutants':>7} {'run':>4} {'killed':>6} {'survived':>8} {'no test':>7} {'equiv':>5} "
        f"{'score':>6} {'time':>6}",
        flush=True,
    )
    scores = []
    for name in args.module or list(TARGETS):
        try:
            target = TARGETS[name] if not args.tests else Target(TARGETS[name].path, tuple(args.tests))
            s = measure(name, target, args.sample, args.max_children, args.survivors, args.keep)
        except RuntimeError as exc:
            print(f"{name:<12} not measured: {exc}", flush=True)
            continue
        scores.append(s)
        print(
            f"{s.module:<12} {s.mutants:>7} {s.run:>4} {s.killed:>6} {len(s.survived):>8} {len(s.no_tests):>7} "
            f"{s.equivalent:>5} {s.percent:>5.1f}% {s.seconds:>5.0f}s",
            flush=True,
        )
        for m in s.survived:
            print(f"    survived: {m}", flush=True)
        for m in s.no_tests:
            print(f"    no test reaches: {m}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
    if args.json:
        args.json.write_text(json.dumps([s.__dict__ | {"percent": s.percent} for s in scores], indent=2))
    return 0 if all(s.percent >= 85.0 for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
