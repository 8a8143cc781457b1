/*
 * sixswarm_rc4: the RC4 keystream for Message Stream Encryption (src/mse/rc4.ts), the one loop
 * JavaScript runs markedly slower than C.
 *
 *   xor(state, src, dst)   XORs the next src.length keystream bytes over src into dst (dst may be
 *                          src: in place). state is 258 bytes the caller keeps: the permutation
 *                          S[0..255], then i and j. Key scheduling (once per connection) stays in
 *                          JavaScript.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STATE_BYTES 258

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "EINVAL", msg);
  return NULL;
}

/* Whether v is a Uint8Array; its bytes and length in *data and *len. */
static bool bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return false;
  *data = p;
  return true;
}

static napi_value rc4_xor(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return throw_type(env, "xor(state, src, dst): three arguments");
  uint8_t *st, *src, *dst;
  size_t state_len, src_len, dst_len;
  if (!bytes_of(env, argv[0], &st, &state_len) || state_len != STATE_BYTES) return throw_type(env, "xor(state, src, dst): state must be a 258-byte Uint8Array");
  if (!bytes_of(env, argv[1], &src, &src_len) || !bytes_of(env, argv[2], &dst, &dst_len) || dst_len < src_len) {
    return throw_type(env, "xor(state, src, dst): src and dst must be Uint8Arrays, dst at least as long as src");
  }
  /* S as 32-bit words and the keystream XORed 8 bytes at a time: faster than the plain byte loop
     here, and as fast as OpenSSL's assembly RC4 (bench/rc4.mjs). */
  uint32_t s[256];
  for (int q = 0; q < 256; q++) s[q] = st[q];
  uint32_t i = st[256], j = st[257];
  size_t k = 0;
#define STEP(out)                           \
  do {                                      \
    i = (i + 1) & 255;                      \
    uint32_t si = s[i];                     \
    j = (j + si) & 255;                     \
    uint32_t sj = s[j];                     \
    s[i] = sj;                              \
    s[j] = si;                              \
    (out) = (uint8_t)s[(si + sj) & 255];    \
  } while (0)
  for (; k + 8 <= src_len; k += 8) {
    uint8_t ks[8];
    uint64_t w, kw;
    for (int b = 0; b < 8; b++) STEP(ks[b]);
    memcpy(&w, src + k, 8);
    memcpy(&kw, ks, 8);
    w ^= kw;
    memcpy(dst + k, &w, 8);
  }
  for (; k < src_len; k++) {
    uint8_t x;
    STEP(x);
    dst[k] = src[k] ^ x;
  }
#undef STEP
  for (int q = 0; q < 256; q++) st[q] = (uint8_t)s[q];
  st[256] = (uint8_t)i;
  st[257] = (uint8_t)j;
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "xor", NAPI_AUTO_LENGTH, rc4_xor, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "xor", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
