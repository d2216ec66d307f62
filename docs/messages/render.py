"""Writes the preparation e-mail of each treatment type, as the shipped templates render it on their sample
session, beside this script, for the README to show: ``.venv/bin/python docs/messages/render.py``.
A unit test fails when these files no longer match the templates."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from services.notifications.adapters.templates import TemplateLibrary, sample_context  # noqa: E402
from services.notifications.domain.outgoing import EMAIL  # noqa: E402
from services.notifications.domain.wording import PREPARATION_INSTRUCTIONS  # noqa: E402

TREATMENT_TYPES = ("iv_infusion", "esketamine_nasal_spray")


def preparation_email(library: TemplateLibrary, treatment_type: str) -> str:
    context = sample_context(PREPARATION_INSTRUCTIONS, treatment_type)
    message = library.render(
        PREPARATION_INSTRUCTIONS, channel=EMAIL, language="en", treatment_type=treatment_type, context=context
    )
    return f"Subject: {message.subject}\n\n{message.body}\n"


def path_for(treatment_type: str) -> Path:
    return HERE / f"preparation-{treatment_type}.txt"


def main() -> None:
    library = TemplateLibrary()
    for treatment_type in TREATMENT_TYPES:
        path_for(treatment_type).write_text(preparation_email(library, treatment_type), encoding="utf-8")
        print(path_for(treatment_type))


if __name__ == "__main__":
    main()
