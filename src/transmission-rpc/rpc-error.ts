/** A request the RPC refuses: its message goes back as the response's `result`, as Transmission does. */
export class RpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpcError';
  }
}
