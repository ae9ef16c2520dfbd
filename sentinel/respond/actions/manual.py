"""A manual step: an instruction for the analyst; the run waits until someone confirms it is done."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sentinel.respond.actions import ActionContext, ActionSpec


class ManualArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=3)


def run_manual(args: ManualArgs, ctx: ActionContext) -> dict[str, Any]:
    return {"instruction": args.instruction, "confirmed_by": ctx.approved_by}


SPECS = [
    ActionSpec(
        "manual",
        ManualArgs,
        run_manual,
        side_effect=False,
        needs_approval=True,
        summary="an analyst does this by hand and confirms it",
    )
]
