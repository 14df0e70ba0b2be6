"""A real S3 API (moto's HTTP server on 127.0.0.1) holding synthetic flat files in the exact formats."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from flatfile_s3 import ACCESS_KEY, BUCKET, FIRST, SECRET_KEY, source

from scalper.adapters.flatfiles import Backfill, FileCache, LoadOptions
from scalper.synthetic.writer import write_synthetic


@pytest.fixture(scope="session")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Flat files of three synthetic sessions (25, 26 and 28 Nov 2025), written once per test run."""
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic(out, start=FIRST, sessions=3, seed=11, what={"flatfiles"})
    return out / "flatfiles"


@pytest.fixture
def s3(s3_endpoint: str) -> Iterator[Any]:
    """A boto3 client on an empty ``flatfiles`` bucket (emptied again afterwards)."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def backfill(db: psycopg.Connection[Any], s3_endpoint: str, tmp_path: Path) -> Backfill:
    """A backfill from the moto bucket into a fresh migrated database, caching under tmp_path."""
    return Backfill(db, source(s3_endpoint), FileCache(tmp_path / "cache"), LoadOptions(store_trades=True))
