"""scripts/fake_platforms.py: what a person trying the channels by hand points the service at."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from bot.settings import PROJECT_DIR
from tests.support.process import free_port

SCRIPT = PROJECT_DIR / "scripts" / "fake_platforms.py"


def post(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_each_platform_gets_its_own_success_answer_and_every_call_is_printed():
    port = free_port()
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert f"http://127.0.0.1:{port}" in process.stdout.readline()
        for _ in range(50):
            try:
                messenger = post(port, "/v19.0/me/messages", {"recipient": {"id": "6723094417713462"},
                                                              "message": {"text": "We're open 9 to 6."}})
                break
            except OSError:
                time.sleep(0.1)
        assert messenger["recipient_id"] == "6723094417713462" and messenger["message_id"].startswith("m_")
        whatsapp = post(port, "/v19.0/106540352242922/messages", {"messaging_product": "whatsapp",
                                                                 "to": "16505551234", "text": {"body": "hi"}})
        assert whatsapp["messages"][0]["id"].startswith("wamid.")
        x = post(port, "/2/dm_conversations/with/1187365042719219712/messages", {"text": "hi"})
        assert x["data"]["dm_event_id"]
        telegram = post(port, "/bot123:abc/sendMessage", {"chat_id": 6215479032, "text": "hi"})
        assert telegram["ok"] and telegram["result"]["chat"]["id"] == 6215479032
        assert post(port, "/v19.0/122154861349107313_9/comments", {"message": "hi"})["id"]
        printed = [process.stdout.readline() for _ in range(5)]
        assert printed[0].startswith("POST /v19.0/me/messages ") and "We're open 9 to 6." in printed[0]
        assert printed[3].startswith("POST /bot123:abc/sendMessage ")
    finally:
        process.terminate()
        process.wait(10)
