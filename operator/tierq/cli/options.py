"""Options every command shares, and the one-line error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import pydantic
import typer
import yaml

from tierq.cli.kube import CliError
from tierq.cli.output import Output
from tierq.core.errors import PolicyError

P = ParamSpec("P")
R = TypeVar("R")

OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table, json or yaml.")]
NamespaceOption = Annotated[
    str | None, typer.Option("--namespace", "-n", help="Namespace (default: the context's).")
]
KubeconfigOption = Annotated[
    str | None,
    typer.Option("--kubeconfig", help="Path of the kubeconfig (default: $KUBECONFIG or "
                 "~/.kube/config).", show_default=False),
]
ContextOption = Annotated[
    str | None, typer.Option("--context", help="kubeconfig context (default: the current one).")
]


def fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(1)


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can act on into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CliError as error:
            raise fail(str(error)) from None
        except PolicyError as error:
            raise fail(f"policy: {error}") from None
        except pydantic.ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise fail(f"{error.title}: {where}: {first['msg']}") from None
        except (ValueError, OSError, yaml.YAMLError) as error:
            raise fail(str(error).splitlines()[0] if str(error) else repr(error)) from None

    return wrapper
