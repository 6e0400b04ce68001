#!/usr/bin/env python3
"""Drives python-socketio's AsyncClient for ChemChat's Socket.IO tests.

Commands come in on stdin, one JSON object a line; everything the client sees goes out on
stdout, one JSON object a line. The same commands drive driver.cjs (socket.io-client), so one
Rust test checks both clients:

  {"op":"connect","url":…,"auth":{…}?,"headers":{…}?,"transports":["polling"]?}
  {"op":"emit","event":…,"data":…,"ack":true?,"tag":…}
  {"op":"transport"}          -> {"type":"transport","name":"websocket"|"polling"}
  {"op":"disconnect"}

  out: {"type":"connect"} {"type":"connect_error","data":…} {"type":"connect_failed","message":…}
       {"type":"emit_failed","message":…} (python-socketio only: emitting once disconnected)
       {"type":"event","event":…,"data":…} {"type":"ack","tag":…,"data":…}
       {"type":"disconnect","reason":…}
"""
import asyncio
import json
import sys

import socketio


def out(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main():
    sio = socketio.AsyncClient(reconnection=False)

    @sio.event
    async def connect():
        out({"type": "connect"})

    @sio.event
    async def connect_error(data):
        out({"type": "connect_error", "data": data})

    @sio.event
    async def disconnect(reason=None):
        out({"type": "disconnect", "reason": str(reason)})

    @sio.on("*")
    async def any_event(event, data=None):
        out({"type": "event", "event": event, "data": data})

    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        op = command["op"]
        if op == "connect":
            try:
                await sio.connect(
                    command["url"],
                    auth=command.get("auth"),
                    headers=command.get("headers") or {},
                    transports=command.get("transports"),
                    socketio_path="socket.io",
                    wait_timeout=10,
                )
            except socketio.exceptions.ConnectionError as error:
                out({"type": "connect_failed", "message": str(error)})
        elif op == "emit":
            callback = None
            if command.get("ack"):
                tag = command["tag"]

                def callback(*args, tag=tag):
                    out({"type": "ack", "tag": tag, "data": args[0] if args else None})

            try:
                await sio.emit(command["event"], command.get("data"), callback=callback)
            except socketio.exceptions.BadNamespaceError as error:
                # The server disconnected the client (a flood, say) while commands were queued.
                out({"type": "emit_failed", "message": str(error)})
        elif op == "transport":
            out({"type": "transport", "name": sio.transport()})
        elif op == "disconnect":
            await sio.disconnect()
    if sio.connected:
        await sio.disconnect()


asyncio.run(main())
