/*
 * sixswarm_udp: many UDP datagrams in few system calls each way, and path MTU probes.
 *
 *   sendMany(fd, address, port, packets, lengths, count) -> number
 *       Sends packets[0..count) (packet i: the first lengths[i] bytes of the Uint8Array
 *       packets[i], lengths a Uint32Array) from the non-blocking
 *       UDP socket `fd` to `address` (a Uint8Array of 4 or 16 bytes) and `port`. Runs of
 *       consecutive packets of one size go as one sendmsg(2) with UDP_SEGMENT (UDP GSO: the
 *       kernel cuts them up, Linux 4.18+); the rest, and everything if GSO is refused, go by
 *       sendmmsg(2), 64 at a time. Returns how many packets were taken: sent, or dropped for an
 *       error that concerns that packet alone (the caller's protocol counts them lost). Fewer
 *       than `count` means the socket's send buffer is full (EAGAIN): the rest were not sent.
 *       Returns -errno if the socket itself is unusable (EBADF, ENOTSOCK). Throws a TypeError
 *       on arguments of other shapes.
 *
 *   sendProbe(fd, address, port, packet, length) -> number
 *       Sends one datagram (the first `length` bytes of `packet`) with the IP "don't fragment"
 *       bit set whatever the kernel knows of the path MTU (IP_PMTUDISC_PROBE for this send
 *       only; the socket goes back to its mode, by default IP_PMTUDISC_WANT, which fragments
 *       rather than drops).
 *       A path MTU probe must be lost when it is too big, not fragmented into success.
 *       Returns 0, or the errno of the send (EMSGSIZE: larger than the interface allows).
 *
 *   receive(fd, buffer, slot, lengths, addresses, ports, onBatch) -> handle
 *       Takes over reading the UDP socket `fd` (Node's own reading must be stopped): a dup of it
 *       is polled on Node's event loop, and each time it is readable recvmmsg(2) reads up to 64
 *       datagrams at a time, datagram i into buffer[i * slot ..], its length into lengths[i] (one
 *       longer than the slot is cut to it: the slot is bigger than anything read here takes,
 *       so the cut one is still dropped as too big by whoever reads it), its source address into addresses[i * 16 ..]
 *       (4 bytes for IPv4) and port into ports[i]; then onBatch(count) is called (with Node's
 *       callback scope: microtasks and ticks run after it). At most 8 batches per wake-up, so
 *       a flood cannot starve the rest of the loop. The arrays are the caller's, reused.
 *   stopReceiving(handle)
 *       Stops polling and closes the dup; call before the socket closes.
 *
 * Why: Node's dgram costs about 10 microseconds per datagram (a request object, an address
 * lookup in the next tick, one syscall each), which caps a uTP upload at about 90,000 packets a
 * second; the kernel's own work per packet is a fraction of that.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define BATCH 64
/* A GSO send carries at most 64 segments and 64 KiB in all (less the UDP and IP headers). */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000

/* Turned off for good once the kernel refuses GSO (too old, or a device that cannot do it). */
static bool gso_works = true;

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "EINVAL", msg);
  return NULL;
}

static napi_value number(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

/* Errors that concern one packet (or the path): skip it. Anything else stops the batch. */
static bool per_packet_error(int e) {
  return e == EMSGSIZE || e == ENETUNREACH || e == EHOSTUNREACH || e == ECONNREFUSED || e == EACCES || e == EPERM ||
         e == EADDRNOTAVAIL || e == ENETDOWN || e == EHOSTDOWN || e == EINVAL;
}

/* One GSO sendmsg of packets [from, from + n), all `segment` bytes but maybe the last. 1: sent; 0: EAGAIN; -1: GSO refused; -2: other error (errno). */
/* The socket address of `alen` (4 or 16) address bytes and `port`; its length. */
static socklen_t to_address(struct sockaddr_storage *ss, const void *bytes, size_t alen, int32_t port) {
  memset(ss, 0, sizeof(*ss));
  if (alen == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    memcpy(&a->sin_addr, bytes, 4);
    return sizeof(*a);
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  memcpy(&a->sin6_addr, bytes, 16);
  return sizeof(*a);
}

static int send_gso(int fd, struct sockaddr *to, socklen_t tolen, struct iovec *iov, size_t n, uint16_t segment) {
  char control[CMSG_SPACE(sizeof(uint16_t))];
  memset(control, 0, sizeof(control));
  struct msghdr msg = {0};
  msg.msg_name = to;
  msg.msg_namelen = tolen;
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  memcpy(CMSG_DATA(c), &segment, sizeof(segment));
  for (;;) {
    if (sendmsg(fd, &msg, 0) >= 0) return 1;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return 0;
    if (errno == EIO || errno == EOPNOTSUPP || errno == ENOPROTOOPT) return -1;
    return -2;
  }
}

static napi_value send_many(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) return throw_type(env, "sendMany(fd, address, port, packets, lengths, count): six arguments");
  int32_t fd, port;
  uint32_t count, length;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_type(env, "sendMany: fd must be a descriptor");
  bool is_typed = false;
  napi_typedarray_type type;
  size_t alen;
  void *abytes = NULL;
  if (napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &alen, &abytes, NULL, NULL) != napi_ok || type != napi_uint8_array || (alen != 4 && alen != 16)) {
    return throw_type(env, "sendMany: address must be a Uint8Array of 4 or 16 bytes");
  }
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535) return throw_type(env, "sendMany: port must be 1-65535");
  bool is_array = false;
  if (napi_is_array(env, argv[3], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[3], &length) != napi_ok) return throw_type(env, "sendMany: packets must be an array");
  size_t nlengths;
  void *lbytes = NULL;
  if (napi_is_typedarray(env, argv[4], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[4], &type, &nlengths, &lbytes, NULL, NULL) != napi_ok || type != napi_uint32_array) {
    return throw_type(env, "sendMany: lengths must be a Uint32Array");
  }
  const uint32_t *lengths = lbytes;
  if (napi_get_value_uint32(env, argv[5], &count) != napi_ok || count > length || count > nlengths) return throw_type(env, "sendMany: count must be at most packets.length and lengths.length");

  struct sockaddr_storage ss;
  socklen_t tolen = to_address(&ss, abytes, alen, port);

  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  uint32_t done = 0;
  while (done < count) {
    /* Gather up to BATCH packets. */
    uint32_t n = 0;
    for (; n < BATCH && done + n < count; n++) {
      napi_value el;
      void *data = NULL;
      size_t len = 0;
      if (napi_get_element(env, argv[3], done + n, &el) != napi_ok || napi_is_typedarray(env, el, &is_typed) != napi_ok || !is_typed ||
          napi_get_typedarray_info(env, el, &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
        return throw_type(env, "sendMany: every packet must be a Uint8Array");
      }
      if (lengths[done + n] > len) return throw_type(env, "sendMany: a length runs past its packet");
      iov[n].iov_base = data;
      iov[n].iov_len = lengths[done + n];
    }
    uint32_t i = 0;
    while (i < n) {
      /* A run of packets of one size (the last may be shorter) goes as one GSO send. */
      uint32_t run = 1;
      size_t segment = iov[i].iov_len, bytes = segment;
      while (gso_works && i + run < n && run < GSO_MAX_SEGMENTS && iov[i + run - 1].iov_len == segment && iov[i + run].iov_len <= segment &&
             bytes + iov[i + run].iov_len <= GSO_MAX_BYTES) {
        bytes += iov[i + run].iov_len;
        run++;
      }
      if (run >= 2) {
        int r = send_gso(fd, (struct sockaddr *)&ss, tolen, &iov[i], run, (uint16_t)segment);
        if (r == 1) {
          i += run;
          continue;
        }
        if (r == 0) return number(env, done + i);
        if (r == -1) gso_works = false;
        else if (!per_packet_error(errno)) return number(env, -errno);
        /* Refused, or an error about this destination: these packets go one by one below. */
      }
      /* Without GSO: everything left of this batch (or the run GSO could not send) by sendmmsg. */
      uint32_t m = gso_works ? run : n - i;
      for (uint32_t k = 0; k < m; k++) {
        memset(&msgs[k], 0, sizeof(msgs[k]));
        msgs[k].msg_hdr.msg_name = &ss;
        msgs[k].msg_hdr.msg_namelen = tolen;
        msgs[k].msg_hdr.msg_iov = &iov[i + k];
        msgs[k].msg_hdr.msg_iovlen = 1;
      }
      int sent = sendmmsg(fd, msgs, m, 0);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return number(env, done + i);
        if (!per_packet_error(errno)) return number(env, -errno);
        sent = 1; /* the first of them is lost; go on with the next */
      }
      i += (uint32_t)sent;
    }
    done += n;
  }
  return number(env, done);
}

/* Sets the socket's path MTU discovery mode for its family (IPv6 sockets here are IPv6-only). */
static int set_pmtu_mode(int fd, bool v6, int mode) {
  return v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &mode, sizeof(mode)) : setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof(mode));
}

static napi_value send_probe(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return throw_type(env, "sendProbe(fd, address, port, packet, length): five arguments");
  int32_t fd, port;
  uint32_t length;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t alen, plen;
  void *abytes = NULL, *pbytes = NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_type(env, "sendProbe: fd must be a descriptor");
  if (napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &alen, &abytes, NULL, NULL) != napi_ok || type != napi_uint8_array || (alen != 4 && alen != 16)) {
    return throw_type(env, "sendProbe: address must be a Uint8Array of 4 or 16 bytes");
  }
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535) return throw_type(env, "sendProbe: port must be 1-65535");
  if (napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[3], &type, &plen, &pbytes, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    return throw_type(env, "sendProbe: packet must be a Uint8Array");
  }
  if (napi_get_value_uint32(env, argv[4], &length) != napi_ok || length > plen) return throw_type(env, "sendProbe: length runs past the packet");
  struct sockaddr_storage ss;
  socklen_t tolen = to_address(&ss, abytes, alen, port);
  bool v6 = alen == 16;
  int before = v6 ? IPV6_PMTUDISC_WANT : IP_PMTUDISC_WANT;
  socklen_t blen = sizeof(before);
  if (v6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &before, &blen) : getsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &before, &blen)) return number(env, errno);
  if (set_pmtu_mode(fd, v6, v6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE) != 0) return number(env, errno);
  int err = 0;
  while (sendto(fd, pbytes, length, 0, (struct sockaddr *)&ss, tolen) < 0) {
    if (errno == EINTR) continue;
    err = errno;
    break;
  }
  set_pmtu_mode(fd, v6, before);
  return number(env, err);
}

#define RECV_BATCH 64
#define RECV_ROUNDS 8

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  napi_ref refs[5]; /* onBatch, buffer, lengths, addresses, ports */
  napi_async_context context;
  uint8_t *buffer;
  size_t slot;
  uint32_t *lengths;
  uint8_t *addresses;
  uint16_t *ports;
} receiver;

static void receiver_closed(uv_handle_t *h) {
  receiver *r = h->data;
  close(r->fd);
  for (int i = 0; i < 5; i++) napi_delete_reference(r->env, r->refs[i]);
  napi_async_destroy(r->env, r->context);
  free(r);
}

static void readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  receiver *r = poll->data;
  if (status < 0) return;
  napi_env env = r->env;
  for (int round = 0; round < RECV_ROUNDS; round++) {
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    struct sockaddr_storage from[RECV_BATCH];
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < RECV_BATCH; i++) {
      iov[i].iov_base = r->buffer + (size_t)i * r->slot;
      iov[i].iov_len = r->slot;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
    int n = recvmmsg(r->fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* EAGAIN: drained; other errors (ICMP reports) are not ours to act on */
    for (int i = 0; i < n; i++) {
      /* Longer than a slot: its first `slot` bytes, still too big for anything that reads it. */
      r->lengths[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? (uint32_t)r->slot : msgs[i].msg_len;
      uint8_t *a = r->addresses + (size_t)i * 16;
      if (from[i].ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&from[i];
        memcpy(a, &s4->sin_addr, 4);
        r->ports[i] = ntohs(s4->sin_port);
      } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&from[i];
        memcpy(a, &s6->sin6_addr, 16);
        r->ports[i] = ntohs(s6->sin6_port);
      }
    }
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value fn, recv, argv[1], result; /* the receiver must be an object: the global one */
    bool ok = napi_get_reference_value(env, r->refs[0], &fn) == napi_ok && napi_get_global(env, &recv) == napi_ok &&
              napi_create_uint32(env, (uint32_t)n, &argv[0]) == napi_ok;
    if (ok && napi_make_callback(env, r->context, recv, fn, 1, argv, &result) != napi_ok) {
      bool pending = false;
      napi_value error;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending && napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
    napi_close_handle_scope(env, scope);
    if (n < RECV_BATCH) return;
  }
}

/* A typed array's data and byte length, and a reference that keeps it alive. */
static bool typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length, napi_ref *ref) {
  bool is_typed = false;
  napi_typedarray_type type;
  return napi_is_typedarray(env, v, &is_typed) == napi_ok && is_typed && napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) == napi_ok && type == want &&
         napi_create_reference(env, v, 1, ref) == napi_ok;
}

static void finalize_nothing(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

static napi_value start_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7) return throw_type(env, "receive(fd, buffer, slot, lengths, addresses, ports, onBatch): seven arguments");
  int32_t fd;
  uint32_t slot;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_type(env, "receive: fd must be a descriptor");
  if (napi_get_value_uint32(env, argv[2], &slot) != napi_ok || slot < 1500) return throw_type(env, "receive: slot must be at least 1500 bytes");
  napi_valuetype t;
  if (napi_typeof(env, argv[6], &t) != napi_ok || t != napi_function) return throw_type(env, "receive: onBatch must be a function");
  receiver *r = calloc(1, sizeof(*r));
  if (!r) {
    napi_throw_error(env, "ENOMEM", "receive: out of memory");
    return NULL;
  }
  size_t blen, llen, alen, plen;
  void *b, *l, *a, *p;
  if (napi_create_reference(env, argv[6], 1, &r->refs[0]) != napi_ok || !typed(env, argv[1], napi_uint8_array, &b, &blen, &r->refs[1]) ||
      !typed(env, argv[3], napi_uint32_array, &l, &llen, &r->refs[2]) || !typed(env, argv[4], napi_uint8_array, &a, &alen, &r->refs[3]) ||
      !typed(env, argv[5], napi_uint16_array, &p, &plen, &r->refs[4]) || blen < (size_t)slot * RECV_BATCH || llen < RECV_BATCH || alen < 16 * RECV_BATCH ||
      plen < RECV_BATCH) {
    free(r); /* the references made so far leak with it: only reachable with bad arguments */
    return throw_type(env, "receive: buffer must hold 64 slots, lengths and ports 64 entries, addresses 64 * 16 bytes");
  }
  r->env = env;
  r->buffer = b;
  r->slot = slot;
  r->lengths = l;
  r->addresses = a;
  r->ports = p;
  r->fd = dup(fd);
  uv_loop_t *loop;
  napi_value name, handle;
  if (r->fd < 0) {
    int e = errno;
    free(r);
    return number(env, -e);
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || napi_create_string_utf8(env, "sixswarm:udp-receive", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &r->context) != napi_ok || uv_poll_init(loop, &r->poll, r->fd) != 0) {
    close(r->fd);
    free(r);
    napi_throw_error(env, "EIO", "receive: cannot poll the socket");
    return NULL;
  }
  r->poll.data = r;
  uv_poll_start(&r->poll, UV_READABLE, readable);
  if (napi_create_external(env, r, finalize_nothing, NULL, &handle) != napi_ok) return NULL;
  return handle;
}

static napi_value stop_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    return throw_type(env, "stopReceiving(handle): a handle from receive()");
  }
  receiver *r = data;
  if (!uv_is_closing((uv_handle_t *)&r->poll)) {
    uv_poll_stop(&r->poll);
    uv_close((uv_handle_t *)&r->poll, receiver_closed);
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "sendMany", NAPI_AUTO_LENGTH, send_many, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sendMany", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "sendProbe", NAPI_AUTO_LENGTH, send_probe, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sendProbe", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "receive", NAPI_AUTO_LENGTH, start_receiving, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "receive", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "stopReceiving", NAPI_AUTO_LENGTH, stop_receiving, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "stopReceiving", fn) != napi_ok) return NULL;
  return exports;
}
