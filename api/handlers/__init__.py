"""Request handlers: parse, call one core coroutine, render."""
