"""Releases everything a data dir holds on the host: containers, namespaces, mounts, the pool."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from quilt.drivers.network import bridge
from quilt.drivers.storage import pool
from quilt.node.local import LocalNode
from quilt.store.store import Store

if TYPE_CHECKING:
    from quilt.settings import Settings


async def purge(settings: Settings) -> list[str]:
    """Remove every container this data dir has on the host, then unmount its storage pool.

    The bridge and its firewall tables are deleted too when no other namespace is still
    attached to it.
    """
    store = Store(settings.resolved_database_url)
    try:
        store.migrate()
        node = LocalNode(settings, store)
        hosted = sorted(node.hosted() | {r.container_id for r in store.containers.list(None)})
        for container_id in hosted:
            await node.remove(container_id)
            store.containers.delete(container_id)  # type: ignore[arg-type]
        sockets = node.layout.sockets
        firewall = node.network.firewall
    finally:
        store.close()
    pool.release(settings.data_dir)
    shutil.rmtree(sockets, ignore_errors=True)
    # The kernel frees veth pairs a few tens of ms after their namespace goes.
    if bridge.wait_until_unused(settings.bridge, timeout=2.0):
        bridge.delete_bridge(settings.bridge)
    if not bridge.bridge_state(settings.bridge).exists:  # its rules go with it, whoever removed it
        firewall.uninstall()
    return hosted
