// The part of a socket.io-client `Socket` this package uses, so that tests (or another
// transport) can stand in for it.

export type Listener = (...args: any[]) => void;

export interface SocketLike {
  readonly connected: boolean;
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  connect(): unknown;
  disconnect(): unknown;
}
