// Opening a client over socket.io-client (the peer dependency).
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { ChatzzClient, type ChatzzClientOptions } from './client.js';

export interface ConnectOptions extends ChatzzClientOptions {
  /**
   * A JWT, when the server requires one (sent in the Socket.IO handshake). A function is
   * asked again at every (re)connect, so an expired credential can be replaced.
   */
  token?: string | (() => string | Promise<string>);
  /** Passed to socket.io-client's `io()`. */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

/** Connects to a chatzz server at `url` (e.g. `http://127.0.0.1:3000`). */
export function connect(url: string, options: ConnectOptions = {}): ChatzzClient {
  const { token, socket, ...clientOptions } = options;
  const s = io(url, { ...authOption(token), ...socket });
  return new ChatzzClient(s, clientOptions);
}

function authOption(token: ConnectOptions['token']): Partial<SocketOptions> {
  if (token === undefined) return {};
  if (typeof token === 'string') return { auth: { token } };
  return {
    auth: (cb: (data: object) => void) => {
      void Promise.resolve(token()).then((t) => cb({ token: t }));
    },
  };
}
