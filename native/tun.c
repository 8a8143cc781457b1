/*
 * sixswarm_tun: the smallest native piece the tunnel needs.
 *
 *   open(name, vnetHdr)   -> { fd, name }   a TUN device (IFF_TUN | IFF_NO_PI, plus IFF_VNET_HDR when
 *                            vnetHdr: every packet then starts with a 10-byte struct virtio_net_hdr),
 *                            O_NONBLOCK | O_CLOEXEC
 *   setOffload(fd, flags) -> TUNSETOFFLOAD: which offloads (TUN_F_CSUM, TUN_F_TSO6, ...) the kernel
 *                            may leave to us, i.e. whether reads may carry partial checksums and
 *                            TCP segments up to 64 KiB (only meaningful with vnetHdr)
 *   new Poller(fd, cb)    -> cb(null) each time fd is readable (libuv uv_poll, level triggered),
 *                            cb(Error) once if polling fails; poller.stop() ends it.
 *
 * Packet IO stays in JavaScript (fs.readSync / fs.writeSync on the fd: one packet per call):
 * measured on this platform that drains ~375 kpps with no idle CPU, and keeps this file tiny.
 * The device is not persistent: it disappears when the fd is closed or the process dies,
 * taking its addresses and routes with it, so a crash never leaves a half-configured host.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), "ESIXSWARMNATIVE", "N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static const char *errno_code(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    default: return "EUNKNOWN";
  }
}

/* Throws an Error whose .code is the errno name (EACCES, ENOENT, ...) so JS can explain it. */
static void throw_errno(napi_env env, const char *what, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, errno_code(e), msg);
}

static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "open(name): name must be a string");
    return NULL;
  }
  if (len >= IFNAMSIZ) {
    napi_throw_range_error(env, "EINVAL", "open(name): interface names have at most 15 characters");
    return NULL;
  }
  bool vnet_hdr = false;
  if (argc >= 2 && napi_get_value_bool(env, argv[1], &vnet_hdr) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "open(name, vnetHdr): vnetHdr must be a boolean");
    return NULL;
  }

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, "open /dev/net/tun", errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "TUNSETIFF", e);
    return NULL;
  }

  napi_value result, fd_value, name_value;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_int32(env, fd, &fd_value));
  CHECK(env, napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name_value));
  CHECK(env, napi_set_named_property(env, result, "fd", fd_value));
  CHECK(env, napi_set_named_property(env, result, "name", name_value));
  return result;
}

static napi_value tun_set_offload(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  uint32_t flags = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "setOffload(fd, flags): fd must be a file descriptor, flags a number");
    return NULL;
  }
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) {
    throw_errno(env, "TUNSETOFFLOAD", errno);
    return NULL;
  }
  return NULL;
}

/*
 * Lifetime: the C struct is shared by the JS object (finalizer) and the libuv handle (close
 * callback); whichever lets go last frees it. While polling, a strong reference keeps the JS
 * object (and so the callback) alive even if JavaScript drops it.
 */
typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_ref self;
  napi_async_context async;
  int polling;
  int handle_closed;
  int js_finalized;
} poller_t;

static void poller_release(poller_t *p) {
  if (p->handle_closed && p->js_finalized) free(p);
}

static void on_handle_closed(uv_handle_t *h) {
  poller_t *p = (poller_t *)h->data;
  p->handle_closed = 1;
  poller_release(p);
}

/* Stops polling and drops the JS references; safe to call more than once. */
static void poller_stop(poller_t *p) {
  if (!p->polling) return;
  p->polling = 0;
  uv_poll_stop(&p->handle);
  uv_close((uv_handle_t *)&p->handle, on_handle_closed);
  if (!p->js_finalized) {
    napi_delete_reference(p->env, p->callback);
    napi_delete_reference(p->env, p->self);
    napi_async_destroy(p->env, p->async);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  poller_t *p = (poller_t *)h->data;
  if (!p->polling) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  napi_value cb, recv, arg, ignored;
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_reference_value(env, p->self, &recv) == napi_ok && recv != NULL) {
    if (status < 0) {
      napi_value code, msg;
      napi_create_string_utf8(env, uv_err_name(status), NAPI_AUTO_LENGTH, &code);
      napi_create_string_utf8(env, uv_strerror(status), NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, code, msg, &arg);
    } else {
      napi_get_null(env, &arg);
    }
    /* napi_make_callback (not napi_call_function) so promises and nextTicks run afterwards. */
    if (napi_make_callback(env, p->async, recv, cb, 1, &arg, &ignored) == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    /* libuv reports nothing more after an error: end the poller (a no-op if JS already did). */
    if (status < 0) poller_stop(p);
  }
  napi_close_handle_scope(env, scope);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  poller_t *p = (poller_t *)data;
  if (p->polling) {
    /* Only reachable at environment teardown: the strong self reference is gone. */
    p->polling = 0;
    uv_poll_stop(&p->handle);
    uv_close((uv_handle_t *)&p->handle, on_handle_closed);
  }
  p->js_finalized = 1;
  poller_release(p);
}

static napi_value poller_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t fd = -1;
  napi_valuetype cb_type = napi_undefined;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_typeof(env, argv[1], &cb_type) != napi_ok || cb_type != napi_function) {
    napi_throw_type_error(env, "EINVAL", "new Poller(fd, callback): fd must be a file descriptor, callback a function");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));

  poller_t *p = calloc(1, sizeof *p);
  if (!p) {
    throw_errno(env, "new Poller", ENOMEM);
    return NULL;
  }
  p->env = env;
  p->handle.data = p;
  int rc = uv_poll_init(loop, &p->handle, fd);
  if (rc < 0) {
    free(p);
    napi_throw_error(env, uv_err_name(rc), uv_strerror(rc));
    return NULL;
  }
  rc = uv_poll_start(&p->handle, UV_READABLE, on_poll);
  if (rc < 0) {
    /* The handle is initialised: it must be closed through libuv before the memory goes. */
    p->js_finalized = 1;
    uv_close((uv_handle_t *)&p->handle, on_handle_closed);
    napi_throw_error(env, uv_err_name(rc), uv_strerror(rc));
    return NULL;
  }
  p->polling = 1;

  napi_value resource_name;
  CHECK(env, napi_create_string_utf8(env, "SixswarmTunPoller", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(env, napi_async_init(env, self, resource_name, &p->async));
  CHECK(env, napi_create_reference(env, argv[1], 1, &p->callback));
  CHECK(env, napi_create_reference(env, self, 1, &p->self));
  CHECK(env, napi_wrap(env, self, p, poller_finalize, NULL, NULL));
  return self;
}

static napi_value poller_stop_js(napi_env env, napi_callback_info info) {
  napi_value self;
  CHECK(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  poller_t *p = NULL;
  CHECK(env, napi_unwrap(env, self, (void **)&p));
  if (p) poller_stop(p);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value open_fn, offload_fn, poller_class;
  CHECK(env, napi_create_function(env, "open", NAPI_AUTO_LENGTH, tun_open, NULL, &open_fn));
  CHECK(env, napi_set_named_property(env, exports, "open", open_fn));
  CHECK(env, napi_create_function(env, "setOffload", NAPI_AUTO_LENGTH, tun_set_offload, NULL, &offload_fn));
  CHECK(env, napi_set_named_property(env, exports, "setOffload", offload_fn));
  napi_property_descriptor methods[] = {
      {"stop", NULL, poller_stop_js, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_class(env, "Poller", NAPI_AUTO_LENGTH, poller_new, NULL, 1, methods, &poller_class));
  CHECK(env, napi_set_named_property(env, exports, "Poller", poller_class));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
