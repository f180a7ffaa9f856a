// Types of the Chorus browser SDK (chorus.mjs): the socket.io-client 4.x API.
//
//   import { io, Manager, Socket } from "/chorus/chorus.mjs";
//
// Differences from socket.io-client: binary arguments arrive as ArrayBuffer everywhere
// (also under Node); the "sse" transport exists; `tryAllTransports` defaults to true;
// `maxPayload` bounds what is accepted from the server.

export type TransportName = "websocket" | "sse" | "polling";

/** Reasons given to the "disconnect" event. */
export type DisconnectReason =
  | "io server disconnect"
  | "io client disconnect"
  | "ping timeout"
  | "transport close"
  | "transport error"
  | "parse error"
  | "forced close";

export type EventListener = (...args: any[]) => void;
export type EventsMap = Record<string, EventListener>;

/** Binary values that can be emitted (Blobs are read before sending, in emit order). */
export type BinaryInput = ArrayBuffer | ArrayBufferView | Blob;

/** component-emitter, as socket.io-client uses it (not exported as a value). */
declare class Emitter {
  on(event: string, listener: EventListener): this;
  addEventListener(event: string, listener: EventListener): this;
  once(event: string, listener: EventListener): this;
  off(event?: string, listener?: EventListener): this;
  removeListener(event?: string, listener?: EventListener): this;
  removeAllListeners(event?: string): this;
  removeEventListener(event?: string, listener?: EventListener): this;
  emit(event: string, ...args: any[]): this;
  emitReserved(event: string, ...args: any[]): this;
  listeners(event: string): EventListener[];
  hasListeners(event: string): boolean;
}

export interface ManagerOptions {
  /** Engine.IO endpoint path. Default "/socket.io". */
  path?: string;
  /** Keep the trailing slash on `path`. Default true. */
  addTrailingSlash?: boolean;
  /** Extra query parameters for every request. */
  query?: string | Record<string, string | number | boolean>;
  /** Transports to try, in order. Default ["polling", "websocket"]. */
  transports?: TransportName[];
  /** When a transport fails while connecting, try the next one. Default true. */
  tryAllTransports?: boolean;
  /** Probe and move to WebSocket when the server offers it. Default true. */
  upgrade?: boolean;
  /** Add a cache-busting "t" parameter to HTTP requests. Default true. */
  timestampRequests?: boolean;
  /** Reconnect after a connection loss. Default true. */
  reconnection?: boolean;
  /** Default Infinity. */
  reconnectionAttempts?: number;
  /** First delay, milliseconds. Default 1000. */
  reconnectionDelay?: number;
  /** Largest delay, milliseconds. Default 5000. */
  reconnectionDelayMax?: number;
  /** Jitter, 0..1. Default 0.5. */
  randomizationFactor?: number;
  /** Connection timeout in milliseconds, or false. Default 20000. */
  timeout?: number | false;
  /** Open the connection at once. Default true. */
  autoConnect?: boolean;
  /** Largest WebSocket message, SSE event or polling body accepted, bytes. Default 10 MB. */
  maxPayload?: number;
  /** Override the URL's secure flag (https/wss). */
  secure?: boolean;
  /** Override the URL's host name / port. */
  hostname?: string;
  port?: string | number;
  /** Send cookies on cross-origin polling / SSE requests. */
  withCredentials?: boolean;
  /** Headers for polling and SSE requests, and for WebSocket under Node with the `ws`
   *  package (a browser's WebSocket cannot send headers). */
  extraHeaders?: Record<string, string>;
  /** WebSocket sub-protocols. */
  protocols?: string | string[];
  /** WebSocket class to use. Default: the global one, else (Node 20) the `ws` package when it
   *  can be imported; without either, the websocket transport fails with a connect_error
   *  whose `description` says to install `ws`. */
  WebSocket?: any;
  /** fetch to use for polling and SSE. Default: the global one. */
  fetch?: typeof fetch;
}

export interface SocketOptions {
  /** Sent with each CONNECT; a function is called before each one. */
  // As socket.io-client types it, so code written against it compiles unchanged.
  auth?: { [key: string]: any } | ((cb: (data: object) => void) => void);
  /** Re-send un-acked emits up to this many times (emits are then queued, one in flight). */
  retries?: number;
  /** Default ack timeout, milliseconds. */
  ackTimeout?: number;
}

export interface ConnectError extends Error {
  /** The server's `data` (CONNECT_ERROR), when it sent one. */
  data?: any;
  /** "TransportError" for transport failures. */
  type?: string;
  description?: string;
}

/** The Engine.IO connection of a Manager (socket.io-client's `manager.engine`). */
export interface Engine extends Emitter {
  readonly id: string;
  readonly transport: { name: TransportName };
  readyState: "open" | "closed";
  on(event: "upgrade", listener: (transport: { name: TransportName }) => void): this;
  on(event: "upgradeError", listener: (err: Error) => void): this;
  on(event: "close", listener: (reason: string, description?: string) => void): this;
  on(event: string, listener: EventListener): this;
}

export declare class Manager extends Emitter {
  constructor(uri?: string, opts?: Partial<ManagerOptions & SocketOptions>);
  constructor(opts: Partial<ManagerOptions & SocketOptions>);
  readonly opts: Partial<ManagerOptions & SocketOptions>;
  readonly uri: string | undefined;
  readonly nsps: Record<string, Socket>;
  /** The current Engine.IO connection, once one has opened. */
  engine: Engine | null;
  readonly _readyState: "closed" | "opening" | "open";
  readonly _reconnecting: boolean;

  reconnection(): boolean;
  reconnection(v: boolean): this;
  reconnectionAttempts(): number;
  reconnectionAttempts(v: number): this;
  reconnectionDelay(): number;
  reconnectionDelay(v: number): this;
  reconnectionDelayMax(): number;
  reconnectionDelayMax(v: number): this;
  randomizationFactor(): number;
  randomizationFactor(v: number): this;
  timeout(): number | false;
  timeout(v: number | false): this;

  open(fn?: (err?: Error) => void): this;
  connect(fn?: (err?: Error) => void): this;
  socket(nsp: string, opts?: Partial<SocketOptions>): Socket;
  close(): this;
  disconnect(): this;

  on(event: "open", listener: () => void): this;
  on(event: "error", listener: (err: ConnectError) => void): this;
  on(event: "close", listener: (reason: DisconnectReason, description?: string) => void): this;
  on(event: "reconnect_attempt", listener: (attempt: number) => void): this;
  on(event: "reconnect", listener: (attempt: number) => void): this;
  on(event: "reconnect_error", listener: (err: ConnectError) => void): this;
  on(event: "reconnect_failed", listener: () => void): this;
  on(event: string, listener: EventListener): this;
}

export declare class Socket extends Emitter {
  constructor(io: Manager, nsp: string, opts?: Partial<SocketOptions>);
  readonly io: Manager;
  readonly nsp: string;
  /** Session id, set while connected. */
  id: string | undefined;
  connected: boolean;
  readonly disconnected: boolean;
  /** Whether the socket is subscribed to its Manager (will reconnect). */
  readonly active: boolean;
  /** Whether the last connection recovered the previous session (connection state recovery). */
  recovered: boolean;
  auth: SocketOptions["auth"];
  flags: { volatile?: boolean; timeout?: number; compress?: boolean };

  connect(): this;
  open(): this;
  disconnect(): this;
  close(): this;

  /** Emits to the server; a function as last argument is the ack callback. */
  emit(event: string, ...args: any[]): this;
  send(...args: any[]): this;
  /** Emits and resolves with the server's first ack argument (rejects on timeout / disconnect). */
  emitWithAck(event: string, ...args: any[]): Promise<any>;
  /** The next emit's ack must come within `ms`; its callback then takes an error first. */
  timeout(ms: number): this;
  /** The next emit is dropped unless it can be written at once. */
  readonly volatile: this;
  compress(compress: boolean): this;

  onAny(listener: (event: string, ...args: any[]) => void): this;
  prependAny(listener: (event: string, ...args: any[]) => void): this;
  offAny(listener?: (event: string, ...args: any[]) => void): this;
  listenersAny(): Array<(event: string, ...args: any[]) => void>;
  onAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  prependAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  offAnyOutgoing(listener?: (event: string, ...args: any[]) => void): this;
  listenersAnyOutgoing(): Array<(event: string, ...args: any[]) => void>;

  on(event: "connect", listener: () => void): this;
  on(event: "connect_error", listener: (err: ConnectError) => void): this;
  on(event: "disconnect", listener: (reason: DisconnectReason, description?: string) => void): this;
  on(event: string, listener: EventListener): this;
  once(event: "connect", listener: () => void): this;
  once(event: "connect_error", listener: (err: ConnectError) => void): this;
  once(event: "disconnect", listener: (reason: DisconnectReason, description?: string) => void): this;
  once(event: string, listener: EventListener): this;
}

export interface Io {
  (uri?: string, opts?: Partial<ManagerOptions & SocketOptions> & { forceNew?: boolean; multiplex?: boolean }): Socket;
  (opts: Partial<ManagerOptions & SocketOptions> & { forceNew?: boolean; multiplex?: boolean }): Socket;
  Manager: typeof Manager;
  Socket: typeof Socket;
  io: Io;
  connect: Io;
  protocol: number;
}

/** Looks up (or creates) the Manager for the URL's origin and returns the namespace's Socket. */
export declare const io: Io;
export declare const connect: Io;
export declare const protocol: number;
export default io;
