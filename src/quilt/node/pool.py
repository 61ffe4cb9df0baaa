"""The warm pool: pre-started containers per image, claimed by creates that fit.

A member is a running container with its filesystem, namespace, address and minit ready and
no main command. Claiming personalises it (limits, main command); refilling happens behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING

from quilt import logs
from quilt.domain.records import PhaseRecord, now
from quilt.errors import QuiltError
from quilt.node.interface import Launched, LaunchSpec

if TYPE_CHECKING:
    from quilt.node.local import LocalNode

log = logs.get(__name__)
RETRY_SECONDS = 5.0


class WarmPool:
    """Ready members per image, and the task that keeps them topped up."""

    def __init__(self, node: LocalNode, images: tuple[str, ...], size: int) -> None:
        self.node = node
        self.images = images if size > 0 else ()
        self.size = size
        self.ready: dict[str, deque[str]] = {image: deque() for image in self.images}
        self._wake = asyncio.Event()
        self._closing = False

    def fits(self, spec: LaunchSpec) -> bool:
        """Whether a create may take a member: a pooled image and no per-container hardening."""
        return spec.image in self.ready and not spec.strict and spec.container_id is None

    def _member_spec(self, image: str) -> LaunchSpec:
        settings = self.node.settings
        return LaunchSpec(
            image=image,
            command=None,
            environment={},
            working_directory="/",
            memory_limit_mb=settings.default_memory_mb,
            cpu_limit_percent=settings.default_cpu_percent,
            strict=False,
        )

    async def claim(self, spec: LaunchSpec) -> Launched | None:
        """Take a ready member and personalise it, or None to send the create down the cold path."""
        if not self.fits(spec):
            return None
        members = self.ready[spec.image]
        while members:
            member = members.popleft()
            self._wake.set()
            started = time.perf_counter()
            at = now()
            pid = self.node.init_pid(member)
            if pid is None:
                await self._discard(member)
                continue
            try:
                await self.node.personalize(member, spec)
            except QuiltError as exc:
                log.warning("pool.claim_failed", container_id=member, error=exc.message)
                await self._discard(member)
                continue
            address = self.node.store.addresses.of(member) or ""
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            return Launched(
                container_id=member,
                pid=pid,
                ip_address=address,
                started_at=now(),
                from_pool=True,
                phases=[PhaseRecord("claim", at, elapsed)],
            )
        return None

    async def _discard(self, member: str) -> None:
        with contextlib.suppress(Exception):
            await self.node.remove(member)

    async def run(self) -> None:
        """Keep every image's pool full until cancelled."""
        while not self._closing:
            self._wake.clear()
            try:
                for image in self.images:
                    while len(self.ready[image]) < self.size and not self._closing:
                        launched = await self.node.launch_cold(self._member_spec(image))
                        self.ready[image].append(launched.container_id)
            except Exception as exc:  # noqa: BLE001 - the pool must outlive any one failure
                log.warning("pool.refill_failed", error=getattr(exc, "message", repr(exc)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), RETRY_SECONDS)
                continue
            await self._wake.wait()

    def members(self) -> set[str]:
        """Ids of every ready member."""
        return {m for members in self.ready.values() for m in members}

    async def drain(self) -> None:
        """Remove every ready member (on shutdown)."""
        self._closing = True
        self._wake.set()
        for members in self.ready.values():
            while members:
                await self._discard(members.popleft())
