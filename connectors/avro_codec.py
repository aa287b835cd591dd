"""Avro single-object encoding of the events (Avro specification, "Single-object encoding").

A message is ``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer
schema's Parsing Canonical Form, then the binary datum. Every schema version kept under
``schemas/`` is a known writer; a datum is resolved to the current (reader) schema of its
record, so a producer on a newer or older version with defaulted fields still decodes.

A datum must be the canonical encoding of its record (``_canonical``): anything else is
"corrupt <record> datum". The fingerprints match Java's ``SchemaNormalization.
parsingFingerprint64`` (tests hold the Java-computed values); ``avro`` 1.12's Python
fingerprint differs for logical-type fields, which is why fastavro does the work here.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form
from fastavro.validation import validate

MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8


def _schemas_dir() -> Path:
    """``schemas/``: inside the package where the producer library is installed (it carries
    them as package data), else beside the package in a checkout."""
    packaged = Path(__file__).parent / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "schemas"


SCHEMAS_DIR = _schemas_dir()


class DecodeError(ValueError):
    """The bytes are not a known single-object Avro message; ``str(err)`` is the reason."""


def schema_fingerprint(schema: Mapping[str, Any]) -> bytes:
    """CRC-64-AVRO of the Parsing Canonical Form, as the 8 bytes that go on the wire."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def _without_logical_types(schema: Any) -> Any:
    """The same schema with logicalType removed: timestamps stay epoch millis (ints)."""
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(s) for s in schema]
    return schema


@dataclass(frozen=True)
class SchemaVersion:
    name: str                 # full record name, e.g. live.counters.events.LikeEvent
    path: Path
    fingerprint: bytes
    parsed: dict              # fastavro-parsed, logical types removed


class SchemaRegistry:
    """Every schema version under ``schemas/``: ``<event>.avsc`` is the current version of a
    record, older versions live in ``schemas/versions/``. Loaded once, read-only afterwards."""

    def __init__(self, root: Path = SCHEMAS_DIR) -> None:
        self.current: dict[str, SchemaVersion] = {}
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        for path in sorted(root.rglob("*.avsc")):
            raw = json.loads(path.read_text())
            name = f"{raw['namespace']}.{raw['name']}" if "namespace" in raw else raw["name"]
            version = SchemaVersion(name, path, schema_fingerprint(raw),
                                    parse_schema(_without_logical_types(copy.deepcopy(raw))))
            self.by_fingerprint[version.fingerprint] = version
            if path.parent == root:
                if name in self.current:
                    raise ValueError(f"two current schemas for {name}: {path}, "
                                     f"{self.current[name].path}")
                self.current[name] = version
        if not self.current:
            raise ValueError(f"no schemas in {root}")

    def schema(self, short_name: str) -> SchemaVersion:
        """The current version of a record by its short name (``LikeEvent``)."""
        for name, version in self.current.items():
            if name.rsplit(".", 1)[-1] == short_name:
                return version
        raise KeyError(short_name)

    def encode(self, record: Mapping[str, Any], schema: SchemaVersion) -> bytes:
        buf = io.BytesIO()
        buf.write(MAGIC)
        buf.write(schema.fingerprint)
        schemaless_writer(buf, schema.parsed, dict(record))
        return buf.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict]:
        """(full record name, record as a dict in the current schema), or DecodeError."""
        if data is None or len(data) < HEADER_LEN:
            raise DecodeError(f"too short for a single-object Avro message ({len(data or b'')} "
                              "bytes)")
        if data[:2] != MAGIC:
            raise DecodeError(f"not single-object Avro: header {data[:2].hex()}, expected c301")
        writer = self.by_fingerprint.get(bytes(data[2:HEADER_LEN]))
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:HEADER_LEN].hex()}")
        reader = self.current.get(writer.name, writer)
        datum = bytes(data[HEADER_LEN:])
        if not _canonical(datum, writer):
            raise DecodeError(f"corrupt {writer.name} datum")
        if reader is writer:
            return writer.name, schemaless_reader(io.BytesIO(datum), writer.parsed, None)
        return writer.name, schemaless_reader(io.BytesIO(datum), writer.parsed, reader.parsed)


def _canonical(datum: bytes, writer: SchemaVersion) -> bool:
    """Whether ``datum`` is exactly the bytes a writer makes of a record of ``writer``: it
    reads, ends where the record ends, holds numbers in their type's range encoded no longer
    than needed, and strings in UTF-8. Readers differ on the rest (fastavro reads an 11-byte
    long, Java's reader a string of bad UTF-8), so the job's decoders, this specification and
    ``jobs/counters/jvm`` alike, accept only this and give one reason for anything else."""
    buf = io.BytesIO(datum)
    try:
        record = schemaless_reader(buf, writer.parsed, None)
    except Exception:  # noqa: BLE001 - EOFError, UnicodeDecodeError, ValueError, ... on bad bytes
        return False
    if buf.tell() != len(datum) or not validate(record, writer.parsed, raise_errors=False):
        return False
    out = io.BytesIO()
    schemaless_writer(out, writer.parsed, record)
    return out.getvalue() == datum
