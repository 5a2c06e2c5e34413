"""File bytes: staging, the content-addressed blob store, sniffing and image processing.

`store` (the `BlobStore` interface and the local-disk store), `s3` (the object store, an
optional extra, imported only when configured), `staging` (hashed temporary files), `sniff`
(the media type from the bytes), `images` (metadata stripping, thumbnails).
Nothing here knows about files' names, owners or permissions: that is `services.files`.
"""

from federatie.blobs.staging import StagedFile, Staging
from federatie.blobs.store import BlobReader, BlobStore, LocalBlobStore, open_blob_store

__all__ = ["BlobReader", "BlobStore", "LocalBlobStore", "StagedFile", "Staging", "open_blob_store"]
