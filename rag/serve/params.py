"""The optional fields of a chat completion request, checked as OpenAI checks them.

The answer does not depend on any of them (the answer is the documents' sentence, found greedily), but a
request that OpenAI would refuse is refused here too, with OpenAI's words and codes, so a client learns of its
mistake here rather than when it switches servers: `"max_tokens": "lots"`, `-1` or 10**12, `"temperature":
"hot"`, `"n": 5` (one choice per request is all this server gives), `"tools": "x"`, a number that is not finite.
Fields OpenAI does not know are let through: chat front ends send their own.

    check(body, settings)      raises RequestError (-> 400, `param` the field) for the first field at fault
    finite_json(raw) -> object  json.loads that refuses NaN, Infinity and numbers too large for a float
"""

from __future__ import annotations

import json
import math

from rag.errors import InputError

MAX_STOP = 4  # OpenAI takes at most 4 stop sequences
MAX_TOOLS = 128  # OpenAI takes at most 128 tools
TOP_LOGPROBS_MAX = 20  # OpenAI's bound on top_logprobs
LOGIT_BIAS_MAX = 100  # a logit bias lies in -100..100
TOOL_CHOICES = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


class RequestError(InputError):
    """A request the API refuses with 400, naming the field at fault (OpenAI's `param`) and a `code`."""

    def __init__(self, message: str, param: str | None = "messages", code: str | None = None):
        super().__init__(message)
        self.param = param
        self.code = code or ("invalid_question" if param == "messages" else "invalid_value")


# ---- JSON without NaN ---------------------------------------------------------------------------

def _no_constant(name: str):
    raise RequestError(f"the request body is not valid JSON: {name} is not a JSON number", None, "invalid_json")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # "1e999" reads as infinity in Python
        raise RequestError(f"the request body holds a number too large to represent: {literal[:40]}", None, "invalid_json")
    return value


def finite_json(raw: bytes | str):
    """The body as JSON, as strict JSON reads it: NaN, Infinity and -Infinity (which Python's json accepts) and
    numbers beyond a float's range are refused (RequestError) rather than passed on as non-finite floats."""
    return json.loads(raw, parse_constant=_no_constant, parse_float=_finite)


# ---- the fields ---------------------------------------------------------------------------------

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string", list: "an array",
               dict: "an object", type(None): "null"}


def _kind(value) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _wrong_type(param: str, expected: str, value) -> RequestError:
    return RequestError(f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
                        param, "invalid_type")


def _integer(body: dict, param: str, low: int | None = None, high: int | None = None) -> int | None:
    value = body.get(param)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):  # True is an int in Python, never in OpenAI's API
        raise _wrong_type(param, "an integer", value)
    if low is not None and value < low:
        raise RequestError(f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, but got "
                           f"{value} instead.", param, "integer_below_min_value")
    if high is not None and value > high:
        raise RequestError(f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, but got "
                           f"{value} instead.", param, "integer_above_max_value")
    return value


def _number(body: dict, param: str, low: float, high: float) -> None:
    value = body.get(param)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong_type(param, "a number", value)
    if value < low:
        raise RequestError(f"Invalid '{param}': decimal below minimum value. Expected a value >= {low:g}, but got "
                           f"{value} instead.", param, "decimal_below_min_value")
    if value > high:
        raise RequestError(f"Invalid '{param}': decimal above maximum value. Expected a value <= {high:g}, but got "
                           f"{value} instead.", param, "decimal_above_max_value")


def _boolean(body: dict, param: str) -> None:
    value = body.get(param)
    if value is not None and not isinstance(value, bool):
        raise _wrong_type(param, "a boolean", value)


def _string(body: dict, param: str) -> None:
    value = body.get(param)
    if value is not None and not isinstance(value, str):
        raise _wrong_type(param, "a string", value)


def _object(body: dict, param: str) -> dict | None:
    value = body.get(param)
    if value is not None and not isinstance(value, dict):
        raise _wrong_type(param, "an object", value)
    return value


def _too_long(param: str, limit: int, n: int) -> RequestError:
    return RequestError(f"Invalid '{param}': array too long. Expected an array with maximum length {limit}, but got an "
                        f"array with length {n} instead.", param, "array_above_max_length")


def _stop(body: dict) -> None:
    value = body.get("stop")
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        raise _wrong_type("stop", "a string or an array of strings", value)
    if len(value) > MAX_STOP:
        raise _too_long("stop", MAX_STOP, len(value))
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _wrong_type(f"stop[{i}]", "a string", item)


def _function_named(value, param: str) -> None:
    """{"type": "function", "function": {"name": "..."}}: a tool, or a tool_choice that names one."""
    if not isinstance(value, dict):
        raise _wrong_type(param, "an object", value)
    if value.get("type") != "function":
        raise RequestError(f"Invalid value for '{param}.type': expected 'function'.", f"{param}.type", "invalid_value")
    function = value.get("function")
    if not isinstance(function, dict):
        raise _wrong_type(f"{param}.function", "an object", function)
    if not isinstance(function.get("name"), str) or not function["name"]:
        raise RequestError(f"Missing required parameter: '{param}.function.name'.", f"{param}.function.name",
                           "missing_required_parameter")


def _tools(body: dict) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _wrong_type("tools", "an array", tools)
        if len(tools) > MAX_TOOLS:
            raise _too_long("tools", MAX_TOOLS, len(tools))
        for i, tool in enumerate(tools):
            _function_named(tool, f"tools[{i}]")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise RequestError(f"Invalid value: '{choice[:40]}'. Supported values are: "
                               + ", ".join(f"'{c}'" for c in TOOL_CHOICES) + ".", "tool_choice", "invalid_value")
        if choice == "required" and not tools:
            raise RequestError("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                               "specified.", "tool_choice", "invalid_value")
        return
    _function_named(choice, "tool_choice")


def _response_format(body: dict) -> None:
    value = _object(body, "response_format")
    if value is None:
        return
    kind = value.get("type")
    if kind not in RESPONSE_FORMATS:
        raise RequestError("Invalid value for 'response_format.type': supported values are "
                           + ", ".join(f"'{c}'" for c in RESPONSE_FORMATS) + ".", "response_format.type", "invalid_value")
    if kind == "json_schema" and not isinstance(value.get("json_schema"), dict):
        raise RequestError("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema",
                           "missing_required_parameter")


def _logit_bias(body: dict) -> None:
    bias = _object(body, "logit_bias")
    for token, value in (bias or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong_type(f"logit_bias.{token[:20]}", "a number", value)
        if not -LOGIT_BIAS_MAX <= value <= LOGIT_BIAS_MAX:
            raise RequestError(f"Invalid 'logit_bias': the bias of token {token[:20]} is {value}; it must lie in "
                               f"-{LOGIT_BIAS_MAX}..{LOGIT_BIAS_MAX}.", "logit_bias", "invalid_value")


def check(body: dict, settings) -> None:
    """Every optional field OpenAI checks for a chat completion, checked the same way (None means absent, as
    there). `max_tokens` is bounded by the model's context (`n_ctx`): no reply can be longer."""
    for param in ("max_tokens", "max_completion_tokens"):
        _integer(body, param, 1, settings.n_ctx)
    n = _integer(body, "n", 1)
    if n is not None and n != 1:
        raise RequestError(f"Invalid 'n': this server gives one choice per request, so 'n' must be 1 (got {n}).",
                           "n", "unsupported_value")
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    _integer(body, "seed")
    _boolean(body, "logprobs")
    if _integer(body, "top_logprobs", 0, TOP_LOGPROBS_MAX) is not None and body.get("logprobs") is not True:
        raise RequestError("Invalid 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.",
                           "top_logprobs", "invalid_value")
    _logit_bias(body)
    _stop(body)
    _string(body, "user")
    _tools(body)
    _boolean(body, "parallel_tool_calls")
    _response_format(body)
    _boolean(body, "store")
    _object(body, "metadata")
    options = _object(body, "stream_options")
    if options is not None and body.get("stream") is not True:
        raise RequestError("Invalid 'stream_options': the 'stream_options' parameter is only allowed when 'stream' "
                           "is enabled.", "stream_options", "invalid_value")
