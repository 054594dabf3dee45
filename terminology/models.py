"""Tables of the terminology store (on the shared ``bridge.models.Base``).

Each FHIR terminology resource (CodeSystem, ValueSet, ConceptMap) is one :class:`TxResource` row
holding the complete resource JSON (zlib-compressed) plus indexed columns (url, version, name,
title, status). Several versions per url are separate rows. CodeSystem concepts are also stored
one row each in :class:`TxConcept` (hierarchy as a parent list, properties and designations as JSON)
and their display/designation words in :class:`TxConceptWord`, a portable inverted index that
serves ``$expand?filter=`` with an indexed prefix range scan on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bridge.models import Base, utcnow


class TxResource(Base):
    """One version of a CodeSystem / ValueSet / ConceptMap, stored as full JSON."""

    __tablename__ = "tx_resources"
    __table_args__ = (
        UniqueConstraint("resource_type", "fhir_id", name="uq_tx_resources_type_id"),
        Index("ix_tx_resources_type_url_version", "resource_type", "url", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(20))
    fhir_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[str | None] = mapped_column(String(100))
    version_key: Mapped[str] = mapped_column(String(400), default="")
    name: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str | None] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(String(20))
    concept_count: Mapped[int] = mapped_column(Integer, default=0)
    digest: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer, default=1)
    resource_z: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class TxConcept(Base):
    """One concept of a stored CodeSystem version (indexed for lookup and hierarchy)."""

    __tablename__ = "tx_concepts"
    __table_args__ = (UniqueConstraint("resource_id", "code", name="uq_tx_concepts_resource_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("tx_resources.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(200))
    display: Mapped[str | None] = mapped_column(Text)
    inactive: Mapped[bool] = mapped_column(Boolean, default=False)
    abstract: Mapped[bool] = mapped_column(Boolean, default=False)
    parents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TxConceptWord(Base):
    """Inverted index: one lower-cased word of a concept's code, display or designations."""

    __tablename__ = "tx_concept_words"
    __table_args__ = (Index("ix_tx_concept_words_resource_word", "resource_id", "word"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("tx_resources.id", ondelete="CASCADE"))
    concept_id: Mapped[int] = mapped_column(ForeignKey("tx_concepts.id", ondelete="CASCADE"), index=True)
    word: Mapped[str] = mapped_column(String(100))
