"""the reports' hand-over facts kept where the history is written: every past hand-over's
worked out here, in batches of conversations, so no report has to (bot/storage/handover_facts.py)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
from alembic import op

from bot.storage import handover_facts


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Until now reports wrote these rows as they covered them; from here on the service
    # writes them with the history, so every row is worked out again from the history.
    handover_facts.fill(op.get_bind())


def downgrade() -> None:
    # The rows stay valid for 0006's reports, which bring them up to date themselves.
    pass
