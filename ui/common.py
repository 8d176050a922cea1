"""Shared UI helpers: user-facing errors, raw number inputs and small input coercions."""

import functools
import inspect
import logging
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

from core.errors import BadInputError, CensorscopeError
from core.paths import public_text

log = logging.getLogger("censorscope.ui")


def _message(err: BaseException) -> str:
    """What the user reads for an exception a handler raised."""
    if isinstance(err, CensorscopeError | ValueError) and not isinstance(err, UnicodeError):
        return public_text(str(err))
    if isinstance(err, RecursionError):
        return "the input is nested too deeply to read"
    # Not bad input we know of: say so plainly; the traceback goes to the server log.
    log.exception("handler failed")
    return f"the server could not handle this request ({type(err).__name__}); see the server log"


def check_text_args(fn, args, kwargs) -> None:
    """Refuse text with lone UTF-16 surrogates (the raw API lets them in; nothing can encode them)."""
    names = list(inspect.signature(fn).parameters)
    named = [*zip(names, args, strict=False), *kwargs.items()]
    for name, value in named:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as err:
                raise BadInputError(
                    f"{name.replace('_', ' ')} holds an invalid character (a lone surrogate, "
                    f"U+{ord(value[err.start]):04X}, at position {err.start}); remove it"
                ) from None


def user_errors(fn):
    """Turn any exception into a gr.Error with a message, never a bare 'Error'.

    CensorscopeError / ValueError carry a message meant for the user; anything else is logged
    with its traceback and reported by type. Text arguments are checked first (lone surrogates).
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                check_text_args(fn, args, kwargs)
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as err:
                raise gr.Error(_message(err)) from err

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            check_text_args(fn, args, kwargs)
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as err:
            raise gr.Error(_message(err)) from err

    return wrapper


def raw_value(component):
    """`component` (a gr.Number or gr.Slider) hands the handler the value as sent.

    Their own preprocessing rounds 1.5 to 2 when precision is 0 (a feature id or a seed would be
    silently changed) and fails with no message on a string or NaN sent through the API; the
    handlers check the raw value with as_int / as_float instead. (An instance attribute, not a
    subclass: gradio writes a .pyi file beside every module that subclasses a component.)
    """
    component.preprocess = lambda payload: payload
    return component


EXPORTS = "censorscope-exports"
EXPORT_KEEP_S = 600


def export_file(name: str, text: str) -> str:
    """Write `text` as a download called `name`, in one folder under the temp directory.

    Gradio copies a returned file into its own cache, so ours is only needed for a moment;
    exports older than EXPORT_KEEP_S are removed on each new export, instead of every export
    leaving a folder of its own behind.
    """
    root = Path(tempfile.gettempdir()) / EXPORTS
    root.mkdir(exist_ok=True)
    for old in root.iterdir():
        try:
            if time.time() - old.stat().st_mtime > EXPORT_KEEP_S:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:  # another export removed it first
            pass
    folder = root / secrets.token_hex(8)  # one per export: two users may export at once
    folder.mkdir()
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def as_int(value, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """A whole number from a gr.Number/Slider value, with a message naming `what` otherwise."""
    if value is None or value == "":
        raise BadInputError(f"{what} is empty; enter a whole number")
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"{what} must be a whole number, got {value!r}") from err
    if number != number or number in (float("inf"), float("-inf")) or number != int(number):
        raise BadInputError(f"{what} must be a whole number, got {value!r}")
    number = int(number)
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise BadInputError(f"{what} must be in {lo}..{hi}, got {number}")
    return number


def as_float(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"{what} must be a number, got {value!r}") from err
    if number != number or abs(number) == float("inf"):
        raise BadInputError(f"{what} must be a finite number, got {value!r}")
    return number


def unavailable(reason: str) -> str:
    """The Markdown panel shown where data or code is missing; never a crash."""
    return f"> **Not available yet:** {public_text(reason)}"
