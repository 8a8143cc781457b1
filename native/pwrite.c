/*
 * sixswarm_pwrite: a verified piece written to its file in one task of libuv's thread pool.
 *
 *   pwriteChunks(fd, data, position, chunk) -> Promise<number>
 *       pwrite(2)s all of `data` (a Uint8Array) at `position` of `fd`, at most `chunk` bytes per
 *       call, one call after another (a short write continues where it stopped; EINTR retries).
 *       Resolves with 0 once every byte is written, or with the errno of the call that failed.
 *
 * Why: the kernel sizes page-cache folios by the write, and large folios are slow to fill on this
 * kind of VM, so pieces go out in 32 KiB writes (src/storage/file-store.ts). Issued from JavaScript
 * that is 32 thread-pool tasks per MiB, and handing each one to a worker thread costs the main
 * thread more than the write itself; here the same writes are one task.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref data_ref; /* keeps `data` alive while the task runs */
  int fd;
  uint8_t *data;
  size_t length;
  int64_t position;
  size_t chunk;
  int error;
} write_task;

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "EINVAL", msg);
  return NULL;
}

static void execute(napi_env env, void *arg) {
  (void)env;
  write_task *t = arg;
  size_t done = 0;
  while (done < t->length) {
    size_t n = t->length - done;
    if (n > t->chunk) n = t->chunk;
    ssize_t r = pwrite(t->fd, t->data + done, n, (off_t)(t->position + (int64_t)done));
    if (r < 0) {
      if (errno == EINTR) continue;
      t->error = errno;
      return;
    }
    if (r == 0) {
      /* No progress on a regular file means the write cannot go on (a device that takes nothing). */
      t->error = EIO;
      return;
    }
    done += (size_t)r;
  }
}

static void complete(napi_env env, napi_status status, void *arg) {
  write_task *t = arg;
  napi_value result;
  napi_create_int32(env, status == napi_ok ? t->error : EIO, &result);
  napi_resolve_deferred(env, t->deferred, result);
  napi_delete_reference(env, t->data_ref);
  napi_delete_async_work(env, t->work);
  free(t);
}

static napi_value pwrite_chunks(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return throw_type(env, "pwriteChunks(fd, data, position, chunk): four arguments");
  int32_t fd;
  int64_t position, chunk;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_type(env, "pwriteChunks: fd must be a descriptor");
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    return throw_type(env, "pwriteChunks: data must be a Uint8Array");
  }
  if (napi_get_value_int64(env, argv[2], &position) != napi_ok || position < 0) return throw_type(env, "pwriteChunks: position must be a non-negative integer");
  if (napi_get_value_int64(env, argv[3], &chunk) != napi_ok || chunk <= 0) return throw_type(env, "pwriteChunks: chunk must be a positive integer");

  write_task *t = calloc(1, sizeof(*t));
  if (!t) {
    napi_throw_error(env, "ENOMEM", "pwriteChunks: out of memory");
    return NULL;
  }
  t->fd = fd;
  t->data = data;
  t->length = length;
  t->position = position;
  t->chunk = (size_t)chunk;
  napi_value promise, name;
  if (napi_create_reference(env, argv[1], 1, &t->data_ref) != napi_ok ||
      napi_create_promise(env, &t->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "sixswarm:pwriteChunks", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, t, &t->work) != napi_ok ||
      napi_queue_async_work(env, t->work) != napi_ok) {
    /* Only reachable when the engine is failing; what was created leaks with it. */
    napi_throw_error(env, "EIO", "pwriteChunks: cannot queue the write");
    return NULL;
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "pwriteChunks", NAPI_AUTO_LENGTH, pwrite_chunks, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "pwriteChunks", fn) != napi_ok) return NULL;
  return exports;
}
