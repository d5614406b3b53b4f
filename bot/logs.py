"""What the service and the trainers' commands print: our own lines and real errors.

TensorFlow, Rasa, SQLAlchemy, sanic and setuptools fill a first start with dozens of
deprecation notices, CPU-feature notes and "UserWarning"s that nobody running the
assistant can act on, and that bury the lines that matter (the URLs, the model's
progress, a real error). They are switched off here, at the start of every command,
and in the child processes (the engine, `rasa train`), which inherit the environment.
An operator who wants them back sets PYTHONWARNINGS (e.g. `default`) or
TF_CPP_MIN_LOG_LEVEL themselves: what is set is never overridden.
"""

from __future__ import annotations

import logging
import os
import warnings

# Libraries whose INFO and WARNING lines are about themselves, not about the messages.
QUIET_LOGGERS = ("rasa", "tensorflow", "absl", "h5py", "matplotlib", "sanic", "apscheduler", "urllib3",
                 "aiohttp.access", "rasa_sdk", "alembic",
                 # SQLAlchemy's pool logs under its class's name: "pool disposed" is not news.
                 "bot.storage.database._OneConnectionPool")
# Their warnings about the connection to the broker are the operator's business.
WARNING_LOGGERS = ("pika", "aio_pika")

QUIET_ENVIRONMENT = {
    # TensorFlow's C++ notes (CPU features, no CUDA, no TensorRT): errors only.
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # Python warnings in this process and its children (the engine, `rasa train`).
    "PYTHONWARNINGS": "ignore",
    # SQLAlchemy 1.4's notice about Rasa's use of 2.0-deprecated APIs.
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


def configure_logging(level: str) -> None:
    quiet_libraries()
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for name in WARNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def quiet_libraries() -> None:
    """Before TensorFlow or Rasa is imported: their notices are decided at import."""
    for name, value in QUIET_ENVIRONMENT.items():
        if not os.environ.get(name):
            os.environ[name] = value
    if os.environ["PYTHONWARNINGS"] == "ignore":
        # The variable is read when Python starts: this process needs the filter too.
        warnings.simplefilter("ignore")
        # Filters are not enough: sanic, imported with Rasa, puts its own "once" filter
        # for DeprecationWarning in front of ours. What gets through is logged as
        # py.warnings, which is kept for errors only.
        logging.captureWarnings(True)
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
