"""Shared UI helpers: user-facing errors and small input coercions."""

import functools
import inspect

import gradio as gr

from core.errors import BadInputError, CensorscopeError


def user_errors(fn):
    """Show CensorscopeError / ValueError messages as a gr.Error toast, never a traceback."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except (CensorscopeError, ValueError) as err:
                raise gr.Error(str(err)) from err

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (CensorscopeError, ValueError) as err:
            raise gr.Error(str(err)) from err

    return wrapper


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
    return f"> **Not available yet:** {reason}"
