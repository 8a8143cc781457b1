/**
 * Types of the native TUN addon (native/tun.c, built to native/build/Release/sixswarm_tun.node).
 * Loaded at run time by src/tunnel/native.ts; this file only describes it.
 */

/** Errors thrown by the addon carry the errno name in `code` (EACCES, ENOENT, EPERM, EBUSY, ...). */
export interface TunAddonError extends Error {
  code: string;
}

export interface OpenedTun {
  /** Non-blocking, close-on-exec fd; one read or write is one IPv6 packet (IFF_TUN | IFF_NO_PI). */
  fd: number;
  /** The name the kernel gave the device (the requested one, or the next free for `name%d`). */
  name: string;
}

/**
 * Calls `onReadable(null)` whenever `fd` is readable (level triggered: it fires again while
 * packets are left), or `onReadable(error)` once if polling fails, after which it has stopped.
 * Keeps the event loop alive until `stop()`; stop before closing the fd.
 */
export declare class Poller {
  constructor(fd: number, onReadable: (error: TunAddonError | null) => void);
  stop(): void;
}

/**
 * Opens /dev/net/tun and attaches a TUN device (created if absent; removed when the fd closes).
 * With `vnetHdr` (IFF_VNET_HDR) every packet read or written starts with a 10-byte virtio_net_hdr.
 */
export declare function open(name: string, vnetHdr?: boolean): OpenedTun;

/** TUNSETOFFLOAD: the offloads (TUN_F_* bits) the kernel may leave to the reader of `fd`. */
export declare function setOffload(fd: number, flags: number): void;

export interface TunAddon {
  open: typeof open;
  setOffload: typeof setOffload;
  Poller: typeof Poller;
}
