"""The user service of examples/user_service on the seeds' stack.

FastAPI + uvicorn + SQLAlchemy async + PyJWT + argon2-cffi + redis.asyncio,
serving what scripts/peers.sh loads, with the same checks and JSON:
POST /api/v1/auth/register, POST /api/v1/auth/login,
GET /api/v1/users/{id} (access token, revocation lookup, owner-or-admin
check, cache-aside read) and GET /health.

Settings from the environment: DATABASE_URL (sqlite+aiosqlite:///path or
postgresql+asyncpg://...), CACHE_URL (memory:// or redis://...),
JWT_SECRET (32 bytes or more).
"""

import asyncio
import json
import os
import re
import time
import uuid
from datetime import datetime, timezone

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, InvalidHashError
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ISSUER = "core-sdk-examples"
ACCESS_TTL_SECS = 900
REFRESH_TTL_SECS = 1_209_600
USER_TTL_SECS = 300
PREFIX = "peer-fastapi:"

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///peer-users.db")
CACHE_URL = os.environ.get("CACHE_URL", "memory://")
JWT_SECRET = os.environ["JWT_SECRET"]
if len(JWT_SECRET.encode()) < 32:
    raise SystemExit("JWT_SECRET must be 32 bytes or more")

# argon2id at OWASP's parameters, as the SDK: 19 MiB, 2 passes, 1 lane.
hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
hashing = asyncio.Semaphore(os.cpu_count() or 2)


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


engine = create_async_engine(DATABASE_URL, pool_size=10)
sessions = async_sessionmaker(engine, expire_on_commit=False)


class MemoryCache:
    """A dict with expiry, per worker process."""

    def __init__(self):
        self.entries = {}

    async def get(self, key):
        entry = self.entries.get(key)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    async def mget(self, keys):
        return [await self.get(key) for key in keys]

    async def set(self, key, value, ttl):
        self.entries[key] = (value, time.monotonic() + ttl)


class RedisCache:
    def __init__(self, url):
        import redis.asyncio

        self.redis = redis.asyncio.from_url(url, decode_responses=True)

    async def get(self, key):
        return await self.redis.get(PREFIX + key)

    async def mget(self, keys):
        return await self.redis.mget([PREFIX + key for key in keys])

    async def set(self, key, value, ttl):
        await self.redis.set(PREFIX + key, value, ex=ttl)


cache = MemoryCache() if CACHE_URL.startswith("memory:") else RedisCache(CACHE_URL)
app = FastAPI()


@app.on_event("startup")
async def create_schema():
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


class ApiError(Exception):
    def __init__(self, status, code, message):
        self.status, self.code, self.message = status, code, message


@app.exception_handler(ApiError)
async def api_error(_request: Request, error: ApiError):
    return JSONResponse({"error": {"code": error.code, "message": error.message}}, status_code=error.status)


def invalid(field, message):
    return ApiError(422, "invalid_input", f"{field} {message}")


def rfc3339(millis):
    stamp = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_user(row):
    return {
        "id": row.id,
        "username": row.username,
        "email": row.email,
        "roles": row.roles.split(","),
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    }


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = ""
    email: str = ""
    password: str = ""


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = ""
    password: str = ""


USERNAME = re.compile(r"^[a-z0-9._-]{3,32}$")


def valid_email(email):
    if len(email) > 254 or any(c.isspace() for c in email) or email.count("@") != 1:
        return False
    local, domain = email.split("@")
    return bool(local) and "." in domain and all(domain.split("."))


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.post("/api/v1/auth/register", status_code=201)
async def register(request: Register):
    username = request.username.strip().lower()
    if not USERNAME.match(username):
        raise invalid("username", "must be 3 to 32 letters, digits, '.', '_' or '-'")
    email = request.email.strip().lower()
    if not valid_email(email):
        raise invalid("email", "is not an e-mail address")
    if not 12 <= len(request.password) <= 128 or username in request.password.lower():
        raise invalid("password", "must be 12 to 128 characters and not contain the user name")
    async with hashing:
        password_hash = await asyncio.to_thread(hasher.hash, request.password)
    now = int(time.time() * 1000)
    row = UserRow(
        id=str(uuid.uuid4()),
        username=username,
        email=email,
        password_hash=password_hash,
        roles="user",
        created_at=now,
        updated_at=now,
    )
    try:
        async with sessions() as session, session.begin():
            session.add(row)
    except IntegrityError:
        raise ApiError(409, "conflict", "the user name or e-mail is taken")
    return JSONResponse(to_user(row), status_code=201, headers={"Location": f"/api/v1/users/{row.id}"})


def issue(subject, roles):
    now = time.time()
    family = str(uuid.uuid4())

    def make(typ, ttl):
        claims = {
            "sub": subject,
            "exp": int(now) + ttl,
            "iat": int(now),
            "iat_ms": int(now * 1000),
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "roles": roles,
            "typ": typ,
            "fam": family,
        }
        return jwt.encode(claims, JWT_SECRET, algorithm="HS256")

    return make("access", ACCESS_TTL_SECS), make("refresh", REFRESH_TTL_SECS)


@app.post("/api/v1/auth/login")
async def login(request: Login):
    username = request.username.strip().lower()
    async with sessions() as session:
        row = (await session.execute(select(UserRow).where(UserRow.username == username))).scalar_one_or_none()
    verified = False
    if row is not None:
        async with hashing:
            try:
                verified = await asyncio.to_thread(hasher.verify, row.password_hash, request.password)
            except (VerificationError, InvalidHashError):
                verified = False
    if not verified:
        raise ApiError(401, "unauthenticated", "wrong user name or password")
    access, refresh = issue(row.id, row.roles.split(","))
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": ACCESS_TTL_SECS}


async def authenticate(authorization):
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "unauthenticated", "a bearer token is required")
    try:
        claims = jwt.decode(authorization[7:], JWT_SECRET, algorithms=["HS256"], issuer=ISSUER, leeway=5)
    except jwt.PyJWTError:
        raise ApiError(401, "unauthenticated", "the token is not valid")
    if claims.get("typ") != "access":
        raise ApiError(401, "unauthenticated", "the token is not valid")
    found = await cache.mget(
        [
            f"auth.revocations:auth:revoked:{claims['jti']}",
            f"auth.revocations:auth:subject-not-before:{claims['sub']}",
            f"auth.revocations:auth:revoked-family:{claims['fam']}",
        ]
    )
    subject_revoked = found[1] is not None and claims["iat_ms"] < int(found[1])
    if found[0] is not None or found[2] is not None or subject_revoked:
        raise ApiError(401, "unauthenticated", "the token has been revoked")
    return claims


@app.get("/api/v1/users/{user_id}")
async def get_user(user_id: str, authorization: str | None = Header(default=None)):
    claims = await authenticate(authorization)
    if claims["sub"] != user_id and "admin" not in claims.get("roles", []):
        raise ApiError(403, "permission_denied", "users:read is not granted")
    key = f"user_service:user:{user_id}"
    cached = await cache.get(key)
    if cached is not None:
        return json.loads(cached)
    async with sessions() as session:
        row = await session.get(UserRow, user_id)
    if row is None:
        raise ApiError(404, "not_found", "no such user")
    user = to_user(row)
    await cache.set(key, json.dumps(user), USER_TTL_SECS)
    return user
