"""Historical backfill from Polygon/Massive flat files (one gzip CSV per dataset and day).

* :mod:`.formats` -- key layout, exact headers, which sessions have files.
* :mod:`.source` -- an S3-compatible bucket (boto3) or a local directory with the same layout.
* :mod:`.cache` -- complete local copies with their ETag; resumable downloads.
* :mod:`.manifest` -- the ``flatfile_manifest`` table: what was loaded from which version.
* :mod:`.reader` -- streaming gzip CSV reading, filtered on ticker block by block.
* :mod:`.loaders` / :mod:`.options` -- per-dataset conversion into store batches.
* :mod:`.pipeline` -- one file into the store, parsing overlapped with writing.
* :mod:`.backfill` -- the run over datasets and sessions: skip, load, replace, fail.
"""

from scalper.adapters.flatfiles.backfill import Backfill, FileResult, ProgressSink
from scalper.adapters.flatfiles.cache import FileCache
from scalper.adapters.flatfiles.errors import FlatFileError
from scalper.adapters.flatfiles.formats import (
    DEFAULT_DATASETS,
    HEADERS,
    check_datasets,
    object_key,
    sessions_before,
    sessions_between,
)
from scalper.adapters.flatfiles.loaders import LoadOptions
from scalper.adapters.flatfiles.manifest import Manifest, ManifestEntry
from scalper.adapters.flatfiles.source import LocalSource, RemoteFile, S3Source, Source

__all__ = [
    "DEFAULT_DATASETS",
    "HEADERS",
    "Backfill",
    "FileCache",
    "FileResult",
    "FlatFileError",
    "LoadOptions",
    "LocalSource",
    "Manifest",
    "ManifestEntry",
    "ProgressSink",
    "RemoteFile",
    "S3Source",
    "Source",
    "check_datasets",
    "object_key",
    "sessions_before",
    "sessions_between",
]
