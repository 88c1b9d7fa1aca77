"""Errbot's decorators (errbot.decorators). They only tag methods with the `_err_command*`
attributes Errbot uses; errbot_host reads the tags to describe the plugin to errbotd."""

import argparse
import functools
import inspect
import re
import shlex

# Dashes and quotes some chat clients make "smart", undone before argparse sees the arguments
# (as Errbot does).
_SMART_CHARACTERS = {"\u2014": "--", "\u201c": '"', "\u201d": '"', "\u2019": "'", "\u2018": "'"}
_SMART_RE = re.compile("|".join(re.escape(c) for c in _SMART_CHARACTERS))


class ArgumentParseError(Exception):
    """The arguments of an arg_botcmd command do not parse."""


class HelpRequested(Exception):
    """`-h` / `--help` was given to an arg_botcmd command."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with errors and help raised instead of printed (and the process exited)."""

    def error(self, message):
        raise ArgumentParseError(message)

    def print_help(self, file=None):
        raise HelpRequested()


def _tag(func, *, hidden=None, name=None, split_args_with="", admin_only=False, historize=True,
         template=None, flow_only=False, syntax=None, regex=None, flags=0, matchall=False,
         prefixed=True, parser=None, re_cmd_name_help=None):
    if hasattr(func, "_err_command"):  # already a command (stacked decorators)
        return func
    func._err_command = True
    func._err_command_name = name or func.__name__
    func._err_command_split_args_with = split_args_with
    func._err_command_admin_only = admin_only
    func._err_command_historize = historize
    func._err_command_template = template
    func._err_command_syntax = syntax
    func._err_command_flow_only = flow_only
    func._err_command_hidden = flow_only if hidden is None else hidden
    func._err_re_command = regex is not None
    if regex is not None:
        func._err_command_re_pattern = re.compile(regex, flags)
        func._err_command_matchall = matchall
        func._err_command_prefix_required = prefixed
        func._err_command_syntax = regex
        func._err_command_re_name_help = re_cmd_name_help
    func._err_arg_command = parser is not None
    if parser is not None:
        func._err_command_parser = parser
    return func


def botcmd(*args, hidden=None, name=None, split_args_with="", admin_only=False, historize=True,
           template=None, flow_only=False, syntax=None):
    """A command: `method(self, msg, args)`, args the argument string, or a list when
    split_args_with is None (whitespace) or a separator (str.split's rules)."""

    def decorator(func):
        return _tag(func, hidden=hidden, name=name, split_args_with=split_args_with,
                    admin_only=admin_only, historize=historize, template=template,
                    flow_only=flow_only, syntax=syntax)

    return decorator(args[0]) if args else decorator


def re_botcmd(*args, hidden=None, name=None, admin_only=False, historize=True, template=None,
              pattern=None, flags=0, matchall=False, prefixed=True, flow_only=False,
              re_cmd_name_help=None):
    """A regex command: `method(self, msg, match)`, match a re.Match (a list of them with
    matchall=True)."""

    def decorator(func):
        return _tag(func, hidden=hidden, name=name, admin_only=admin_only, historize=historize,
                    template=template, regex=pattern, flags=flags, matchall=matchall,
                    prefixed=prefixed, flow_only=flow_only, re_cmd_name_help=re_cmd_name_help)

    return decorator(args[0]) if args else decorator


def botmatch(*args, **kwargs):
    """A regex matched against every message, prefixed or not: `@botmatch(r'^hi$')`."""

    def decorator(func, pattern):
        return _tag(func, hidden=kwargs.get("hidden"), name=kwargs.get("name"),
                    admin_only=kwargs.get("admin_only", False),
                    flow_only=kwargs.get("flow_only", False),
                    historize=kwargs.get("historize", True), template=kwargs.get("template"),
                    regex=pattern, flags=kwargs.get("flags", 0),
                    matchall=kwargs.get("matchall", False), prefixed=False)

    if len(args) == 2:
        return decorator(*args)
    if len(args) == 1:
        return lambda func: decorator(func, args[0])
    raise ValueError("botmatch: You need to pass the pattern as parameter to the decorator.")


def arg_botcmd(*args, hidden=None, name=None, admin_only=False, historize=True, template=None,
               flow_only=False, unpack_args=True, **kwargs):
    """An argparse command: each decorator adds one argument (argparse.add_argument's
    parameters); the method gets the parsed values as keywords (unpack_args=True) or the
    Namespace. Parsing happens here, in the plugin's process, with Python's argparse, so every
    argparse feature works and the replies are Errbot's."""
    argparse_args = args[1:] if args and callable(args[0]) else args

    def decorator(func):
        if not hasattr(func, "_err_command"):
            parser = ArgumentParser(prog=name or func.__name__, description=func.__doc__)

            @functools.wraps(func)
            def wrapper(self, msg, text):
                try:
                    argv = shlex.split(_SMART_RE.sub(lambda m: _SMART_CHARACTERS[m.group()],
                                                     text))
                    parsed = parser.parse_args(argv)
                except ArgumentParseError as e:
                    yield f"I couldn't parse the arguments; {e}"
                    yield parser.format_usage()
                    return
                except HelpRequested:
                    yield parser.format_help()
                    return
                except ValueError as e:  # shlex: an unclosed quote
                    yield f"I couldn't parse this command; {e}"
                    yield parser.format_help()
                    return
                positional, keywords = ([], vars(parsed)) if unpack_args else ([parsed], {})
                result = func(self, msg, *positional, **keywords)
                if inspect.isgenerator(result):
                    yield from result
                else:
                    yield result

            _tag(wrapper, hidden=hidden, name=name, admin_only=admin_only, historize=historize,
                 template=template, flow_only=flow_only, parser=parser)
        else:
            wrapper = func
        wrapper._err_command_parser.add_argument(*argparse_args, **kwargs)
        wrapper.__doc__ = wrapper._err_command_parser.format_help()
        usage = wrapper._err_command_parser.format_usage()
        wrapper._err_command_syntax = usage[len("usage: ") + len(wrapper._err_command_parser.prog)
                                            + 1:-1]
        return wrapper

    return decorator(args[0]) if args and callable(args[0]) else decorator


def cmdfilter(*args, **kwargs):
    """A command filter, run by errbotd before every command (once the access rules allowed
    it): `f(msg, cmd, args, dry_run)` answers `(msg, cmd, args)`, changed to rewrite the
    command, or None to block it."""

    def decorate(func):
        func._err_command_filter = True
        func.catch_unprocessed = kwargs.get("catch_unprocessed", False)
        return func

    return decorate(args[0]) if args else decorate


def webhook(*args, methods=("POST", "GET"), form_param=None, raw=False):
    """A webhook served by errbotd's web server (`[web]` in errbot.toml), as Errbot's: the rule's
    `<name>` parts come as keyword arguments; the function gets the JSON body (or the form's
    fields, or the text), a form field read as JSON (`form_param`), or the request (`raw`)."""

    def tag(func, uri_rule):
        func._err_webhook_uri_rule = uri_rule
        func._err_webhook_methods = methods
        func._err_webhook_form_param = form_param
        func._err_webhook_raw = raw
        return func

    if not args:
        return lambda func: tag(func, "/" + func.__name__)
    if isinstance(args[0], str):
        rule = args[0] if args[0] == "/" else args[0].rstrip("/")
        return lambda func: tag(func, rule)
    return tag(args[0], "/" + args[0].__name__)

