"""Resource identifiers: prefixed, random, opaque to clients."""

from __future__ import annotations

import secrets
from typing import Final, NewType

ContainerId = NewType("ContainerId", str)
OperationId = NewType("OperationId", str)
TenantId = NewType("TenantId", str)
ApiKeyId = NewType("ApiKeyId", str)
RequestId = NewType("RequestId", str)
SnapshotId = NewType("SnapshotId", str)
VolumeId = NewType("VolumeId", str)
SessionId = NewType("SessionId", str)
ServiceId = NewType("ServiceId", str)

API_KEY_PREFIX: Final = "quilt_sk_"
DEFAULT_TENANT: Final = TenantId("ten_default")


def _token(nbytes: int) -> str:
    return secrets.token_hex(nbytes)


def new_container_id() -> ContainerId:
    """A fresh container id, e.g. `ctr_3f9a0c1b2d4e5f60`."""
    return ContainerId(f"ctr_{_token(8)}")


def new_operation_id() -> OperationId:
    """A fresh operation id, e.g. `op_…`."""
    return OperationId(f"op_{_token(8)}")


def new_session_id() -> SessionId:
    """A fresh terminal session id, e.g. `term_…`."""
    return SessionId(f"term_{_token(8)}")


def new_service_id() -> ServiceId:
    """A fresh published service id, e.g. `lnx_…`."""
    return ServiceId(f"lnx_{_token(8)}")


def new_snapshot_id() -> SnapshotId:
    """A fresh snapshot id, e.g. `snap_…`."""
    return SnapshotId(f"snap_{_token(8)}")


def new_volume_id() -> VolumeId:
    """A fresh volume id, e.g. `vol_…` (volumes are addressed by name; the id never changes)."""
    return VolumeId(f"vol_{_token(8)}")


def new_api_key_id() -> ApiKeyId:
    """A fresh API key id (the public handle, not the secret)."""
    return ApiKeyId(f"key_{_token(6)}")


def new_request_id() -> RequestId:
    """A fresh request id for the `X-Request-ID` header and error bodies."""
    return RequestId(f"req_{_token(8)}")


def new_api_key_secret() -> str:
    """A new API key secret with the visible `quilt_sk_` prefix (256 bits of entropy)."""
    return f"{API_KEY_PREFIX}{secrets.token_urlsafe(32)}"


def new_activity_id() -> str:
    """A fresh activity entry id, e.g. `act_…`."""
    return f"act_{_token(8)}"


def new_notification_id() -> str:
    """A fresh notification id, e.g. `ntf_…`."""
    return f"ntf_{_token(8)}"


def new_cleanup_task_id() -> str:
    """A fresh cleanup task id, e.g. `cln_…`."""
    return f"cln_{_token(8)}"


def new_job_id() -> str:
    """A fresh (legacy) exec job id, e.g. `job_…`."""
    return f"job_{_token(8)}"
