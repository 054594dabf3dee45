"""terminology store: resources, concepts, word index

Revision ID: 0100_terminology
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_terminology"
down_revision = "0001_core"
branch_labels = ("terminology",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tx_resources",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(length=20), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("version_key", sa.String(length=400), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("content", sa.String(length=20), nullable=True),
        sa.Column("concept_count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("resource_z", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_resources")),
        sa.UniqueConstraint("resource_type", "fhir_id", name="uq_tx_resources_type_id"),
    )
    op.create_index("ix_tx_resources_type_url_version", "tx_resources", ["resource_type", "url", "version"])
    op.create_table(
        "tx_concepts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("display", sa.Text(), nullable=True),
        sa.Column("inactive", sa.Boolean(), nullable=False),
        sa.Column("abstract", sa.Boolean(), nullable=False),
        sa.Column("parents", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["tx_resources.id"],
            name=op.f("fk_tx_concepts_resource_id_tx_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_concepts")),
        sa.UniqueConstraint("resource_id", "code", name="uq_tx_concepts_resource_code"),
    )
    op.create_index(op.f("ix_tx_concepts_resource_id"), "tx_concepts", ["resource_id"])
    op.create_table(
        "tx_concept_words",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["concept_id"],
            ["tx_concepts.id"],
            name=op.f("fk_tx_concept_words_concept_id_tx_concepts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["tx_resources.id"],
            name=op.f("fk_tx_concept_words_resource_id_tx_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_concept_words")),
    )
    op.create_index(op.f("ix_tx_concept_words_concept_id"), "tx_concept_words", ["concept_id"])
    op.create_index("ix_tx_concept_words_resource_word", "tx_concept_words", ["resource_id", "word"])


def downgrade() -> None:
    op.drop_table("tx_concept_words")
    op.drop_table("tx_concepts")
    op.drop_table("tx_resources")
