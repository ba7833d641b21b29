"""The original Python design, rebuilt for examples/load/python/compare.sh.

FastAPI + SQLAlchemy (sync ORM, psycopg2) + PostgreSQL, one schema per tenant,
the tenant chosen by the "tenant" request header: the pattern of mergeboard.com's
"Multitenancy with FastAPI, SQLAlchemy and PostgreSQL" that the Python app this
library replaces was built on (see README.md here). Per request:

  1. get_tenant: a session on the shared engine looks the header up in the
     shared tenants table (shared.tenants, the table tenancy's Registry reads);
     unknown tenant -> 404, no header -> 400;
  2. get_db: a second session whose connection runs in the tenant's schema:
     SCHEMA_MODE=search_path (default) sets search_path for its transaction
     (set_config('search_path', '"<schema>"', true)), SCHEMA_MODE=translate uses
     SQLAlchemy's schema_translate_map instead (the "tenant" placeholder schema of
     the models is rewritten to the tenant's schema in the SQL);
  3. GET /users/ selects the users page with the ORM -- the same columns, order
     and limit as examples/benchserver's list (id > 0 ORDER BY id LIMIT 100) --
     and FastAPI serialises it through a pydantic response model.

Endpoints are plain `def`s (FastAPI runs them in its thread pool), as in the
original. Environment: DATABASE_URL (postgres://... or postgresql://...),
POOL_SIZE (8 per worker: 2 workers x 8 = the 16 connections benchserver gives
each of its handlers), MAX_OVERFLOW (0), SCHEMA_MODE (search_path|translate).

Run: /usr/bin/python3 -m uvicorn app:app --workers 2 --host 127.0.0.1 --port 8090
"""

import os
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator, List, Optional

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, DateTime, Integer, String, create_engine, select, text
from sqlalchemy.orm import Session, declarative_base

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
if DATABASE_URL.startswith("postgres://"):
    DATABASE_URL = "postgresql://" + DATABASE_URL[len("postgres://"):]
POOL_SIZE = int(os.environ.get("POOL_SIZE", "8"))
MAX_OVERFLOW = int(os.environ.get("MAX_OVERFLOW", "0"))
SCHEMA_MODE = os.environ.get("SCHEMA_MODE", "search_path")
if SCHEMA_MODE not in ("search_path", "translate"):
    raise SystemExit(f"SCHEMA_MODE={SCHEMA_MODE!r}: want search_path or translate")

engine = create_engine(
    DATABASE_URL,
    pool_size=POOL_SIZE,
    max_overflow=MAX_OVERFLOW,
    pool_pre_ping=False,
    future=True,
)

Base = declarative_base()


class Tenant(Base):
    """A row of the shared tenant registry (tenancy's shared.tenants)."""

    __tablename__ = "tenants"
    __table_args__ = {"schema": "shared"}
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    schema = Column(String(63), nullable=False, unique=True)
    host = Column(String(253))


class User(Base):
    """A tenant's users row. In translate mode "tenant" becomes the tenant's
    schema; in search_path mode the table is named unqualified."""

    __tablename__ = "users"
    __table_args__ = {"schema": "tenant"} if SCHEMA_MODE == "translate" else {}
    id = Column(BigInteger, primary_key=True)
    email = Column(String(256))
    first_name = Column(String(100))
    last_name = Column(String(100))
    user_role_id = Column(BigInteger)
    created_at = Column(DateTime(timezone=True))
    updated_at = Column(DateTime(timezone=True))


class UserOut(BaseModel):
    id: int
    email: Optional[str]
    first_name: Optional[str]
    last_name: Optional[str]
    user_role_id: Optional[int]
    created_at: Optional[datetime]
    updated_at: Optional[datetime]

    class Config:
        orm_mode = True


@contextmanager
def with_db(tenant_schema: Optional[str]) -> Iterator[Session]:
    """A session on the pool; with a schema, its connection runs in it."""
    if tenant_schema and SCHEMA_MODE == "translate":
        bind = engine.execution_options(schema_translate_map={"tenant": tenant_schema})
    else:
        bind = engine
    db = Session(autocommit=False, autoflush=False, bind=bind, future=True)
    try:
        if tenant_schema and SCHEMA_MODE == "search_path":
            # Transaction-local: the pool's rollback on return leaves the
            # connection as it was.
            db.execute(text("SELECT set_config('search_path', :p, true)"),
                       {"p": '"' + tenant_schema.replace('"', '""') + '"'})
        yield db
    finally:
        db.close()


app = FastAPI()


def get_tenant(tenant: Optional[str] = Header(None)) -> Tenant:
    if not tenant:
        raise HTTPException(status_code=400, detail="missing tenant header")
    with with_db(None) as db:
        t = db.execute(select(Tenant).where(Tenant.schema == tenant)).scalar_one_or_none()
        if t is None:
            raise HTTPException(status_code=404, detail="unknown tenant")
        db.expunge(t)
    return t


def get_db(tenant: Tenant = Depends(get_tenant)) -> Iterator[Session]:
    with with_db(tenant.schema) as db:
        yield db


@app.get("/users/", response_model=List[UserOut])
def read_users(db: Session = Depends(get_db)):
    return db.execute(select(User).where(User.id > 0).order_by(User.id).limit(100)).scalars().all()


@app.get("/health")
def health():
    return {}
