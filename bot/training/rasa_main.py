"""`python -m rasa`, as the trainers' commands run it, without the libraries' notices.

`rasa train` runs in a child process; Python's warnings filters are not enough there
(sanic and Rasa put their own in front), so the same quieting as the service's
(bot/logs.py) is installed before Rasa starts. Rasa's own progress lines stay.
"""

from __future__ import annotations

from bot.logs import quiet_libraries


def main() -> None:
    quiet_libraries()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
