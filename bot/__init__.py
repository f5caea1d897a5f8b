"""整改助手 (zhenggai-bot): the core package."""

import os

# python-telegram-bot 22 gives durations (e.g. RetryAfter.retry_after) as timedeltas when asked to;
# the int form is deprecated. Opt in before telegram is imported anywhere.
os.environ.setdefault("PTB_TIMEDELTA", "true")
