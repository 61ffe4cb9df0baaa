"""The platform: one server's engine, wired to its store and node, with start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from quilt import logs
from quilt.engine.activity import Activity
from quilt.engine.api_keys import ApiKeys
from quilt.engine.archives import Archives
from quilt.engine.cleanup import Cleanup, Teardown
from quilt.engine.containers import Containers, HostFacts
from quilt.engine.events import Events
from quilt.engine.exec import Exec
from quilt.engine.forks import Forks
from quilt.engine.network import Network
from quilt.engine.notifications import Notifications
from quilt.engine.operations import Operations
from quilt.engine.services import Services, load_secret
from quilt.engine.snapshots import Snapshots
from quilt.engine.tasks import Tasks
from quilt.engine.terminals import Terminals
from quilt.engine.volumes import Volumes
from quilt.node.local import LocalNode
from quilt.store.store import Store

if TYPE_CHECKING:
    from quilt.settings import Settings

log = logs.get(__name__)


class Platform:
    """Everything one server runs, in the order it must start and stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = time.time()
        self.store = Store(settings.resolved_database_url)
        self.store.migrate()
        self.events = Events()
        self.events.watch(self.store)
        self.notifications = Notifications(self.store, self.events)
        self.activity = Activity(self.store, self.events, self.notifications)
        self.node = LocalNode(settings, self.store)
        self.tasks = Tasks()
        self.operations = Operations(self.store, self.tasks)
        teardown = Teardown(self.store, self.node, self.activity)
        self.containers = Containers(
            settings,
            self.store,
            self.node,
            self.operations,
            self.tasks,
            HostFacts.read(),
            teardown,
        )
        self.network = Network(self.store, self.node.network, self.containers)
        self.services = Services(
            self.store,
            self.containers,
            self.activity,
            load_secret(settings.data_dir / "linx.key"),
            token_ttl_seconds=settings.linx_token_ttl_seconds,
        )
        self.exec = Exec(
            self.containers,
            output_limit=settings.exec_output_limit,
            default_timeout_ms=settings.exec_default_timeout_ms,
        )
        self.snapshots = Snapshots(self.store, self.node, self.containers, self.operations)
        self.forks = Forks(self.node, self.containers, self.operations)
        self.volumes = Volumes(
            self.store, self.node, self.operations, file_limit_bytes=settings.file_limit_mb << 20
        )
        self.cleanup = Cleanup(
            self.store,
            teardown,
            self.containers,
            self.volumes,
            retry_seconds=settings.cleanup_retry_seconds,
        )
        self.archives = Archives(
            self.node, self.operations, limit_bytes=settings.upload_limit_mb << 20
        )
        self.terminals = Terminals(settings, self.containers, self.tasks)
        self.api_keys = ApiKeys(self.store)
        self.dev_key: str | None = None
        self._pool_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Seed keys, finish what a previous server left, re-adopt containers, fill the pool."""
        self.events.bind(asyncio.get_running_loop())
        self.dev_key = self.api_keys.seed(self.settings.api_key, self.settings.api_keys)
        failed = self.operations.fail_interrupted()
        report = (
            await self.containers.reconcile()
            | self.snapshots.reconcile()
            | {"volumes": self.volumes.reconcile()}
            | {"uploads": self.node.clear_uploads()}
        )
        log.info(
            "server.reconciled",
            interrupted_operations=len(failed),
            **{k: len(v) for k, v in report.items()},
        )
        self._pool_task = self.tasks.spawn(self.node.pool.run(), name="warm pool")
        self.tasks.spawn(
            self.snapshots.run_reaper(self.settings.snapshot_reap_seconds), name="snapshot expiry"
        )
        self.tasks.spawn(self.snapshots.run_measurer(), name="snapshot sizes")
        self.tasks.spawn(self.terminals.run_reaper(), name="terminal upkeep")
        self.tasks.spawn(
            self.services.run_prober(self.settings.services_probe_seconds), name="service probes"
        )
        self.tasks.spawn(self.cleanup.run_retrier(), name="cleanup retries")

    async def close(self) -> None:
        """Stop background work and drain the warm pool; containers keep running.

        Steps, in order: stop the pool's refill task (so no member appears after the drain);
        remove idle members (they hold resources nobody asked for); cancel every other task
        (exit watchers, operations); close the database. User containers are left running
        and re-adopted by the next start.
        """
        if self._pool_task is not None:
            self._pool_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pool_task
        await self.node.pool.drain()
        self.terminals.close()
        await self.tasks.close()
        self.store.close()
