"""User-facing errors. The CLI prints these without a traceback."""
from __future__ import annotations


class SftpipeError(Exception):
    """Base class for errors caused by the user's input, config or environment."""

    exit_code = 1


class ConfigError(SftpipeError):
    """The config is invalid. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("invalid config:\n" + "\n".join(f"  - {p}" for p in self.problems))


class InputError(SftpipeError):
    """An input file cannot be read. Names the file, the line (when known) and the cause."""

    def __init__(self, file: str, message: str, line: int | None = None):
        self.file, self.line, self.message = file, line, message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")

    def as_dict(self) -> dict:
        """The form stored in ``manifest.errors``."""
        return {"file": self.file, "line": self.line, "message": self.message}


class NoInputError(SftpipeError):
    """No readable input at all: nothing is written."""


class MissingExtraError(SftpipeError):
    """An optional dependency is missing; the message says what to install."""

    def __init__(self, package: str, extra: str):
        super().__init__(f"{package} is not installed; install it with: pip install 'sftpipe[{extra}]'")
