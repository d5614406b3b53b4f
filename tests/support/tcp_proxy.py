"""A TCP proxy on loopback that a test can cut and restore: PostgreSQL or Redis "going away".

It runs on its own thread and event loop (like the fake platform), so one proxy can sit
between the real service processes and a real server for a whole test module. Cut, it
drops every open connection and closes each new one at once, as a server that is down
(or a network that resets) does; restored, it forwards again.
"""

from __future__ import annotations

import asyncio
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._cut = False
        self.connections = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> TcpProxy:
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), name="tcp-proxy", daemon=True).start()
        if not started.wait(10):
            raise RuntimeError("the TCP proxy did not start")
        return self

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def close() -> None:
            self._drop_all()
            if self._server is not None:
                self._server.close()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    # -- the fault ---------------------------------------------------------------------
    def cut(self) -> None:
        """Drop every connection now and refuse new ones until `restore()`."""
        def cut() -> None:
            self._cut = True
            self._drop_all()

        self._call(cut)

    def restore(self) -> None:
        def restore() -> None:
            self._cut = False

        self._call(restore)

    @property
    def is_cut(self) -> bool:
        return self._cut

    def _call(self, function) -> None:
        done = threading.Event()

        def run() -> None:
            try:
                function()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def _drop_all(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()  # a reset, not a polite FIN: as when the server dies
        self._open.clear()

    # -- forwarding --------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._open.update((writer, upstream_writer))
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()
