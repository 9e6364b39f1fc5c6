"""Debugging aid: print every Python function call of the current thread."""
import sys

__all__ = ["enable_call_trace"]


def enable_call_trace():
    """From now on, print ``Call to `f` on line <file>:<line> from <file>:<line>`` for each
    function call in the current thread (calls of ``write`` / ``print`` are skipped, so that
    printing does not trace itself)."""
    def on_event(frame, event, arg):
        if event != "call" or frame.f_code.co_name in ("write", "print"):
            return None
        caller = frame.f_back
        if caller is not None:
            print("Call to `{}` on line {}:{} from {}:{}".format(
                frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno,
                caller.f_code.co_filename, caller.f_lineno))
        return None
    sys.settrace(on_event)
