"""Two real bot processes (webhook mode) behind a round-robin proxy, sharing one PostgreSQL.

Proves: updates are answered whichever instance gets them; a question asked by one instance is
answered through the other (no conversation state in process memory); reminder sweeps and
outbox delivery running in both processes deliver every message exactly once; /healthz; SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from asyncio.subprocess import DEVNULL, Process
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot import db
from bot.db import transaction
from bot.models import Cadre, Measure, MeasureEvent, MeasureStatus, OutboxMessage, OutboxStatus, ReminderItem
from bot.sandbox import RateLimits, Sandbox
from bot.services import cadres
from bot.services.seed import seed_sample_data
from tests.cli_runner import PROJECT
from tests.conftest import DATA, new_postgres_database
from tests.pg_server import PostgresServer, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class _RoundRobin(RequestHandler):
    def initialize(self, backends: list[str], counts: Counter[str]) -> None:
        self.backends = backends
        self.counts = counts

    async def post(self) -> None:
        backend = self.backends[sum(self.counts.values()) % len(self.backends)]
        self.counts[backend] += 1
        response = await AsyncHTTPClient().fetch(HTTPRequest(
            backend, method="POST", body=self.request.body, headers=dict(self.request.headers)), raise_error=False)
        self.set_status(response.code)

    def data_received(self, chunk: bytes) -> None:  # pragma: no cover
        pass


async def _start(port: int, proxy: str, url: str, sandbox: Sandbox, log: Path) -> Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TELEGRAM_"))}
    env.update(DATABASE_URL=url, TELEGRAM_BOT_TOKEN=sandbox.token, TELEGRAM_API_BASE_URL=sandbox.url,
               REMINDER_TIME="00:00", REMINDER_LATEST="23:59", SKIP_NON_WORKDAYS="false",
               REMINDER_CHECK_SECONDS="2", LOG_FORMAT="json", PYTHONIOENCODING="utf-8")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--webhook-url", proxy, "--listen", "127.0.0.1", "--port", str(port),
        cwd=PROJECT, env=env, stdout=DEVNULL, stderr=log.open("wb"))


async def _healthy(port: int, timeout: float = 60.0) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(int(timeout * 10)):
            try:
                response = await client.get(f"http://127.0.0.1:{port}/healthz")
                if response.status_code == 200:
                    assert response.json() == {"status": "ok", "database": True}
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"instance on port {port} never became healthy")


@pytest.fixture
def shared_database(pg_server: PostgresServer) -> str:
    return new_postgres_database(pg_server)


async def test_two_instances_share_the_work_and_send_every_reminder_once(shared_database: str,
                                                                         tmp_path: Path) -> None:
    engine = db.create_engine(shared_database)
    factory = db.create_session_factory(engine)
    await seed_sample_data(factory, DATA)
    async with Sandbox(limits=RateLimits()) as sandbox:
        users: dict[str, int] = {}
        async with transaction(factory) as session:
            for cadre in await session.scalars(select(Cadre)):
                user = sandbox.add_user(cadre.name, started=True)
                cadre.telegram_user_id = user.id
                users[cadre.name] = user.id
        ports = [free_port(), free_port()]
        proxy_port = free_port()
        counts: Counter[str] = Counter()
        proxy = HTTPServer(Application([("/telegram", _RoundRobin, {
            "backends": [f"http://127.0.0.1:{p}/telegram" for p in ports], "counts": counts})]))
        proxy.listen(proxy_port, address="127.0.0.1")
        log_files = [tmp_path / f"instance-{n}.log" for n in range(2)]
        processes = [await _start(p, f"http://127.0.0.1:{proxy_port}/telegram", shared_database, sandbox, log)
                     for p, log in zip(ports, log_files, strict=True)]
        try:
            await asyncio.gather(*(_healthy(p) for p in ports))
            await sandbox.wait_until(lambda: len(sandbox.calls_to("setWebhook")) >= 2, timeout=30)

            # Updates through the proxy alternate between the instances; every one is answered once.
            zhang = users["张伟"]
            for question in ("请假超过三天要谁批", "/mine", "逾期的有哪些", "教師工作紀律"):
                await sandbox.send_text(zhang, question)
                await sandbox.wait_for_messages(zhang, timeout=20)
            assert counts[f"http://127.0.0.1:{ports[0]}/telegram"] >= 2
            assert counts[f"http://127.0.0.1:{ports[1]}/telegram"] >= 2

            # A question asked by one instance, answered through the other: the state is in the database.
            async with transaction(factory) as session:
                invite = await cadres.create_invite(session, "陈建华", actor_id=None, ttl_days=1,
                                                    bot_username=sandbox.bot_username)
            chen = sandbox.add_user("陈建华·新账号")
            await sandbox.send_text(chen.id, f"/start {invite.code}")
            await sandbox.wait_for_messages(chen.id, timeout=20)
            await sandbox.send_text(chen.id, "ZG2025013 进展")  # 已完成, awaiting his sign-off
            [card] = await sandbox.wait_for_messages(chen.id, timeout=20)
            index = next(i for i, text in enumerate(card.button_texts) if "退回" in text)
            await sandbox.press(chen.id, card.message_id, index=index)
            [prompt] = await sandbox.wait_for_messages(chen.id, timeout=20)
            assert "原因" in prompt.text
            await sandbox.send_text(chen.id, "佐证材料不全，请补充发放明细")
            await sandbox.wait_for_messages(chen.id, timeout=20)
            async with transaction(factory) as session:
                measure = await session.scalar(select(Measure).where(Measure.code == "ZG2025013"))
                assert measure is not None and measure.status is MeasureStatus.IN_PROGRESS
                reject = await session.scalar(select(MeasureEvent).where(
                    MeasureEvent.measure_id == measure.id, MeasureEvent.action == "reject"))
                assert reject is not None and reject.note == "佐证材料不全，请补充发放明细"

            # Both processes sweep every 2 s and deliver: wait until everything owed is sent.
            async def settled() -> bool:
                async with transaction(factory) as session:
                    items = await session.scalar(select(func.count()).select_from(ReminderItem))
                    waiting = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
                        OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])))
                return bool(items) and not waiting

            for _ in range(300):
                if await settled():
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the outbox never drained")
            await asyncio.sleep(3)  # a few more sweeps by both instances: they must add nothing
            async with transaction(factory) as session:
                sent = list(await session.scalars(select(OutboxMessage).where(
                    OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.kind.in_(["reminder", "digest"]))))
            expected = Counter(m.chat_id for m in sent)
            for chat, owed in expected.items():
                delivered = [m for m in sandbox.messages(chat) if m.text.startswith(("⏰ 整改催办", "📊 每日整改督办"))]
                assert len(delivered) == owed, (chat, len(delivered), owed)
            # Two processes pace chats independently, so a chat may now and then see a 429 (a reminder
            # racing a reply); it is honoured and retried — every message above arrived exactly once.
        finally:
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            codes = [await asyncio.wait_for(p.wait(), timeout=40) for p in processes]
            proxy.stop()
            await engine.dispose()
        logs = [log.read_text(encoding="utf-8", errors="replace") for log in log_files]
        assert codes == [0, 0], logs
        assert all(sandbox.token.split(":")[1] not in log for log in logs)  # the token never reaches a log
        for log in logs:
            for line in log.splitlines():
                if line.startswith("{"):
                    json.loads(line)  # LOG_FORMAT=json: every line parses
