"""The languages of ``Code.run_code`` and how they are named: the official client's rules
(0.17+), applied by the SDK before a request and by the local runtime to every caller's."""

from __future__ import annotations

from typing import Final

#: The languages a session's kernels run, by their canonical names.
LANGUAGES: Final = ("python", "javascript", "r", "java")
#: Other names the official client accepts for them (compared in lower case).
ALIASES: Final = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
}


def canonical_language(language: str) -> str | None:
    """The canonical name of ``language`` (any case, surrounding spaces, the aliases), or
    None for a language no kernel runs."""
    name = str(language).strip().lower()
    name = ALIASES.get(name, name)
    return name if name in LANGUAGES else None


def unsupported_language_message(language: str) -> str:
    """The official client's message for a language it does not run."""
    return (
        f"Unsupported language: {language}. Supported languages are 'python', 'javascript', "
        "'r', and 'java'"
    )
