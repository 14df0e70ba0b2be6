"""Helpers of the flat-file integration tests: the moto bucket's names, uploads, an S3 source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from scalper.adapters.flatfiles import S3Source

BUCKET = "flatfiles"
ACCESS_KEY = "AKIATESTFLATFILES01"
SECRET_KEY = "flatfiles-test-secret-0123456789abcdef"
FIRST, LAST = dt.date(2025, 11, 25), dt.date(2025, 11, 28)  # sessions 25, 26, 28; Thanksgiving on the 27th
DATASETS = ("us_indices/values_v1", "us_indices/minute_aggs_v1", "us_stocks_sip/trades_v1")


def upload(s3: Any, root: Path, datasets: tuple[str, ...] = DATASETS) -> list[str]:
    """Put every file of ``datasets`` under ``root`` into the bucket; returns the keys."""
    keys = []
    for dataset in datasets:
        for path in sorted((root / dataset).rglob("*.csv.gz")):
            key = path.relative_to(root).as_posix()
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
            keys.append(key)
    return keys


def source(endpoint: str) -> S3Source:
    return S3Source(endpoint=endpoint, bucket=BUCKET, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
