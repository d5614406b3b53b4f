"""The trainers' workflow: review, annotate, train behind a gate, version, evaluate.

One job per module; rasa is imported only inside functions that train or evaluate,
never by the serving process through this package.
"""

from bot.training.project import Project, fingerprint
from bot.training.trainer import TrainingFailed, rasa_environment, train

__all__ = ["Project", "TrainingFailed", "fingerprint", "rasa_environment", "train"]
