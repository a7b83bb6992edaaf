"""Print pip constraints holding each runtime dependency to the lowest release series declared.

`name>=X` becomes `name==X.*`: the lowest declared series, with its last bug-fix release (the
one with wheels for current Pythons). The `dev` extra is left out (the linters check the code
in the default environment), and so is torch: `make test-lowest` installs the CPU wheel of
the Makefile's TORCH_CPU range, because PyPI's oldest torch is a multi-GB CUDA build.
"""

import re
import sys
import tomllib
from pathlib import Path

SKIP = {"torch"}
EXTRAS = ("satellite", "maps")
BOUND = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def lowest(pyproject: Path) -> list[str]:
    """`name==version.*` for each `name>=version` runtime requirement (and satellite extra)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements.extend(project["optional-dependencies"][extra])
    pins = []
    for requirement in requirements:
        match = BOUND.match(requirement)
        if match and match.group(1).lower() not in SKIP:
            pins.append(f"{match.group(1)}=={match.group(2)}.*")
    return pins


if __name__ == "__main__":
    print("\n".join(lowest(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml"))))
