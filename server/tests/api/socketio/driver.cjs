// Drives socket.io-client (npm) for ChemChat's Socket.IO tests, with the same commands and
// output as driver.py: commands on stdin, what the client sees on stdout, one JSON object a line.
// CommonJS, so node finds socket.io-client through NODE_PATH.
"use strict";
const { io } = require("socket.io-client");
const readline = require("node:readline");

const out = (message) => process.stdout.write(JSON.stringify(message) + "\n");
let socket = null;

const commands = readline.createInterface({ input: process.stdin });
commands.on("line", (line) => {
  const command = JSON.parse(line);
  switch (command.op) {
    case "connect":
      socket = io(command.url, {
        auth: command.auth,
        extraHeaders: command.headers,
        transports: command.transports ?? ["polling", "websocket"],
        reconnection: false,
        forceNew: true,
      });
      socket.on("connect", () => out({ type: "connect" }));
      socket.on("connect_error", (error) =>
        out({ type: "connect_error", data: { message: error.message, data: error.data ?? null } }),
      );
      socket.on("disconnect", (reason) => out({ type: "disconnect", reason }));
      socket.onAny((event, data) => out({ type: "event", event, data: data ?? null }));
      break;
    case "emit":
      if (command.ack) {
        socket.emit(command.event, command.data, (reply) =>
          out({ type: "ack", tag: command.tag, data: reply ?? null }),
        );
      } else {
        socket.emit(command.event, command.data);
      }
      break;
    case "transport":
      out({ type: "transport", name: socket.io.engine.transport.name });
      break;
    case "disconnect":
      socket.disconnect();
      break;
  }
});
commands.on("close", () => {
  if (socket) socket.disconnect();
  setTimeout(() => process.exit(0), 100);
});
