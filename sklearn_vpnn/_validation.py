"""The one checker for scalar arguments of functions (estimators use ``_parameter_constraints``).

Every message has one style: ``"<name> must be <what>; got <value!r>"``. Booleans are
never numbers here (``True`` is refused where an int or a float is wanted), NaN and
infinities never pass a range check, and NumPy scalars are accepted like Python ones.
"""

import math
import numbers

from sklearn.utils._param_validation import Interval as _SklearnInterval

__all__ = ["Interval", "check_number", "check_choice", "check_sample_rate", "check_seconds"]


class Interval(_SklearnInterval):
    """scikit-learn's ``Interval`` constraint that also refuses booleans.

    For estimators' ``_parameter_constraints``: scikit-learn's own ``Interval(Integral,
    ...)`` accepts ``True`` as the integer 1 (a bool is an ``Integral``); ours refuses it,
    like :func:`check_number`. NaN never satisfies it (scikit-learn already ensures that).

    Examples
    --------
    >>> from numbers import Integral
    >>> from sklearn_vpnn._validation import Interval
    >>> Interval(Integral, 1, None, closed="left").is_satisfied_by(True)
    False
    """

    def is_satisfied_by(self, val):
        if isinstance(val, bool) or type(val).__name__ == "bool_":
            return False
        return super().is_satisfied_by(val)


def _describe(integer, low, high, include_low, include_high, what):
    if what:
        return what
    kind = "an integer" if integer else "a number"
    if low is not None and high is not None:
        left, right = "[" if include_low else "(", "]" if include_high else ")"
        return f"{kind} in {left}{low}, {high}{right}"
    if low is not None:
        return f"{kind} {'>=' if include_low else '>'} {low}"
    if high is not None:
        return f"{kind} {'<=' if include_high else '<'} {high}"
    return f"a finite {kind[2:] if integer else 'number'}" if not integer else kind


def check_number(value, name, *, integer=False, low=None, high=None, include_low=True,
                 include_high=True, allow_none=False, what=None):
    """Validate a scalar argument and return it as a Python ``int`` or ``float``.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        Its name, for the message.
    integer : bool, default=False
        Whether only integers are allowed (then an ``int`` is returned).
    low, high : float or None, default=None
        Bounds of the allowed range (None: unbounded on that side).
    include_low, include_high : bool, default=True
        Whether each bound is allowed itself.
    allow_none : bool, default=False
        Whether ``None`` passes (and is returned).
    what : str, optional
        How to describe the allowed values in the message (default: derived from
        the other arguments, e.g. ``"an integer >= 1"``).

    Returns
    -------
    int, float or None
        ``value`` as a Python number.

    Raises
    ------
    ValueError
        ``"<name> must be <what>; got <value!r>"`` for anything else.

    Examples
    --------
    >>> from sklearn_vpnn._validation import check_number
    >>> check_number(3, "n_layers", integer=True, low=1)
    3
    >>> check_number(True, "n_layers", integer=True, low=1)
    Traceback (most recent call last):
    ...
    ValueError: n_layers must be an integer >= 1; got True
    """
    if value is None and allow_none:
        return None
    ok = not isinstance(value, bool) and type(value).__name__ != "bool_"
    ok = ok and isinstance(value, numbers.Integral if integer else numbers.Real)
    if ok:
        number = int(value) if integer else float(value)
        ok = math.isfinite(number)
        if ok and low is not None:
            ok = number >= low if include_low else number > low
        if ok and high is not None:
            ok = number <= high if include_high else number < high
    if not ok:
        desc = _describe(integer, low, high, include_low, include_high, what)
        raise ValueError(f"{name} must be {desc}{' or None' if allow_none else ''}; got {value!r}")
    return number


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``, else raise a ValueError naming them.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        Its name, for the message.
    choices : sequence
        The allowed values.

    Returns
    -------
    object
        ``value``.

    Examples
    --------
    >>> from sklearn_vpnn._validation import check_choice
    >>> check_choice("median", "aggregate", ("median", "mean"))
    'median'
    """
    try:
        allowed = value in choices
    except TypeError:  # unhashable value against a set
        allowed = False
    if not allowed:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def check_sample_rate(value, name="sample_rate", allow_none=False):
    """A sample rate: a positive integer number of Hz (see :func:`check_number`).

    Parameters
    ----------
    value : object
        The argument.
    name : str, default="sample_rate"
        Its name, for the message.
    allow_none : bool, default=False
        Whether ``None`` passes.

    Returns
    -------
    int or None
        The sample rate.

    Examples
    --------
    >>> from sklearn_vpnn._validation import check_sample_rate
    >>> check_sample_rate(44100)
    44100
    """
    return check_number(value, name, integer=True, low=1, allow_none=allow_none,
                        what="a positive integer (Hz)")


def check_seconds(value, name, *, allow_zero=False, allow_none=False):
    """A duration: a finite number of seconds, > 0 (or >= 0 with ``allow_zero``).

    Parameters
    ----------
    value : object
        The argument.
    name : str
        Its name, for the message.
    allow_zero : bool, default=False
        Whether 0 passes.
    allow_none : bool, default=False
        Whether ``None`` passes.

    Returns
    -------
    float or None
        The duration.

    Examples
    --------
    >>> from sklearn_vpnn._validation import check_seconds
    >>> check_seconds(1, "window")
    1.0
    """
    what = "a non-negative number of seconds" if allow_zero else "a positive number of seconds"
    return check_number(value, name, low=0, include_low=allow_zero, allow_none=allow_none, what=what)
