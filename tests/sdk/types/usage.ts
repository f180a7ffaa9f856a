// Type-checks the hand-written chorus.d.ts against the socket.io-client style code a user
// writes (compiled with tsc --noEmit --strict; it is never run).
import { io, Manager, Socket } from "../../../wasm/sdk/chorus";

const socket: Socket = io("/", {
  transports: ["websocket", "sse", "polling"],
  auth: { token: "t" },
  reconnection: true,
  reconnectionAttempts: 5,
  reconnectionDelay: 500,
  reconnectionDelayMax: 5000,
  randomizationFactor: 0.5,
  timeout: 10000,
  ackTimeout: 2000,
  retries: 3,
  path: "/socket.io/",
  query: { room: "a" },
  upgrade: true,
});

socket.on("connect", () => console.log(socket.id, socket.connected, socket.disconnected, socket.recovered));
socket.on("connect_error", (err: Error) => console.log(err.message));
socket.on("disconnect", (reason: string) => console.log(reason));
socket.on("edit", (op: unknown) => console.log(op));
socket.once("edit", () => {});
socket.off("edit");
socket.onAny((event: string, ...args: unknown[]) => console.log(event, args));
socket.offAny();
socket.onAnyOutgoing((event: string) => console.log(event));
socket.emit("edit", { at: 1 }, new Uint8Array([1, 2]), (ok: unknown) => console.log(ok));
socket.volatile.emit("cursor", 3);
socket.timeout(1000).emit("ping", (err: Error | null, reply: unknown) => console.log(err, reply));

async function withAck(): Promise<void> {
  const reply: unknown = await socket.timeout(2000).emitWithAck("ping");
  console.log(reply);
}
void withAck();

const manager = new Manager("http://127.0.0.1:8080", { reconnectionDelayMax: 1000 });
const admin: Socket = manager.socket("/admin", { auth: (cb: (data: object) => void) => cb({ token: "x" }) });
manager.on("reconnect_attempt", (n: number) => console.log(n));
manager.on("reconnect", () => {});
manager.on("reconnect_error", (e: Error) => console.log(e));
manager.on("reconnect_failed", () => {});
admin.connect();
admin.disconnect();
socket.open();
socket.close();
