"""The strict pydantic base for every user-written section, and its one error formatter."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

MAX_PROBLEM_CHARS = 200
MAX_PROBLEMS = 5


class Strict(BaseModel):
    """Settings, pipeline and preset sections: unknown keys are errors; values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_validation_error(source: str, error: ValidationError, within: str = "") -> str:
    """One bounded line naming each bad key (dotted, under `within`) and why."""
    problems = []
    for item in error.errors()[:MAX_PROBLEMS]:
        key = ".".join(str(part) for part in (within, *item["loc"]) if part) or "(top level)"
        reason = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        problem = f"{key}: {reason}"
        if len(problem) > MAX_PROBLEM_CHARS:
            problem = problem[: MAX_PROBLEM_CHARS - 3] + "..."
        problems.append(problem)
    hidden = error.error_count() - len(problems)
    more = f"; and {hidden} more" if hidden > 0 else ""
    return f"{source}: " + "; ".join(problems) + more
