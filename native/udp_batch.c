/*
 * udp_batch: a UDP socket whose datagrams are received and sent in batches (recvmmsg/sendmmsg),
 * for the DNS server's hot path (src/dns/udp-batch.ts is the only user; native/README.md says
 * why). Linux only.
 *
 * One socket = one `Sock`. JavaScript hands over, once, the memory the batches live in:
 *   in:    nslots request slots of `slot` octets each (one Buffer)
 *   addr:  nslots sockaddr_in6-sized (32-octet) source addresses (one Buffer); replies go back
 *          to the address of their request's slot
 *   meta:  Int32Array(2 * nslots): per slot the request length (-1: truncated, i.e. longer than
 *          the slot) and the source port; then JS writes the reply length (0: no reply) into
 *          the first of the pair
 *   out:   nslots reply Buffers (one ResponseWriter buffer per slot)
 *   stats: Float64Array(4): receive errors, send errors, replies dropped (send buffer full),
 *          batches
 * When the socket is readable, libuv calls `on_readable`: recvmmsg fills up to nslots slots,
 * `onBatch(n)` runs in JavaScript (it answers slot by slot, synchronously, writing reply lengths
 * into meta), then one sendmmsg sends every reply. Up to MAX_ROUNDS batches per wake-up, so a
 * flood cannot starve the rest of the event loop (TCP, timers, the store's watch).
 * The JavaScript callback runs through napi_make_callback, so process.nextTick and promise
 * work queued by it runs after it, as for any libuv callback in node.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define ADDR_SLOT 32
#define MAX_SLOTS 256
#define MAX_ROUNDS 16

typedef struct {
  uv_poll_t poll;
  napi_env env;
  int fd;
  int family;
  int closed;
  int polling;
  uint32_t nslots;
  uint32_t slot;
  uint8_t *in;
  uint8_t *addr;
  int32_t *meta;
  double *stats;
  uint8_t *out[MAX_SLOTS];
  struct mmsghdr rmsg[MAX_SLOTS];
  struct iovec riov[MAX_SLOTS];
  struct mmsghdr smsg[MAX_SLOTS];
  struct iovec siov[MAX_SLOTS];
  napi_ref keep; /* an array holding in, addr, meta, out[], stats, onBatch */
  napi_ref on_batch;
  napi_async_context async;
} Sock;

#define CHECK(call)                                                                    \
  do {                                                                                 \
    if ((call) != napi_ok) {                                                           \
      napi_throw_error(env, "EUDPBATCH", "udp_batch: N-API call failed: " #call);      \
      return NULL;                                                                     \
    }                                                                                  \
  } while (0)

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  napi_value msg, code, error, errnum;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  const char *name = err == EADDRINUSE      ? "EADDRINUSE"
                     : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL"
                     : err == EACCES        ? "EACCES"
                     : err == EINVAL        ? "EINVAL"
                                            : "EUDPBATCH";
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_set_named_property(env, error, "code", code);
  napi_create_int32(env, -err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_value sc;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static int get_buffer(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
}

/* Fills `ss` from (family, host text, port); returns its length or 0. */
static socklen_t make_addr(int family, const char *host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return 0;
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return 0;
  return sizeof *a;
}

/* bind(family, host, port, rcvbuf, reuseport) -> fd */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t family, port, rcvbuf;
  bool reuseport;
  char host[64];
  size_t hl;
  CHECK(napi_get_value_int32(env, argv[0], &family));
  CHECK(napi_get_value_string_utf8(env, argv[1], host, sizeof host, &hl));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_int32(env, argv[3], &rcvbuf));
  CHECK(napi_get_value_bool(env, argv[4], &reuseport));
  struct sockaddr_storage ss;
  socklen_t sl = make_addr(family, host, port, &ss);
  if (sl == 0) return throw_errno(env, "inet_pton", EINVAL);
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, zero = 0;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero); /* as node:dgram */
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* best effort */
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

static void on_readable(uv_poll_t *handle, int status, int events);

static void on_closed(uv_handle_t *handle) {
  Sock *s = (Sock *)handle->data;
  free(s);
}

static void sock_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  (void)data; /* freed by close (on_closed); an unclosed socket lives as long as the process */
}

/* open(fd, family, slotSize, in, addr, meta, out[], stats, onBatch) -> handle */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9], result, keep;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) {
    napi_throw_type_error(env, "EUDPBATCH", "udp_batch.open: 9 arguments");
    return NULL;
  }
  Sock *s = calloc(1, sizeof *s);
  if (s == NULL) return throw_errno(env, "calloc", ENOMEM);
  int32_t fd, family, slot;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &family));
  CHECK(napi_get_value_int32(env, argv[2], &slot));
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->slot = (uint32_t)slot;
  size_t inlen, addrlen, n;
  uint32_t nout;
  if (!get_buffer(env, argv[3], &s->in, &inlen) || !get_buffer(env, argv[4], &s->addr, &addrlen)) {
    free(s);
    napi_throw_type_error(env, "EUDPBATCH", "udp_batch.open: in and addr must be Buffers");
    return NULL;
  }
  napi_typedarray_type tt;
  napi_value ab;
  size_t off;
  void *data;
  CHECK(napi_get_typedarray_info(env, argv[5], &tt, &n, &data, &ab, &off));
  s->meta = data;
  CHECK(napi_get_array_length(env, argv[6], &nout));
  s->nslots = nout;
  if (nout == 0 || nout > MAX_SLOTS || tt != napi_int32_array || n < 2 * (size_t)nout ||
      inlen < (size_t)nout * s->slot || addrlen < (size_t)nout * ADDR_SLOT) {
    free(s);
    napi_throw_range_error(env, "EUDPBATCH", "udp_batch.open: buffers do not match the slot count");
    return NULL;
  }
  for (uint32_t i = 0; i < nout; i++) {
    napi_value b;
    size_t bl;
    CHECK(napi_get_element(env, argv[6], i, &b));
    if (!get_buffer(env, b, &s->out[i], &bl)) {
      free(s);
      napi_throw_type_error(env, "EUDPBATCH", "udp_batch.open: out[] must be Buffers");
      return NULL;
    }
  }
  CHECK(napi_get_typedarray_info(env, argv[7], &tt, &n, &data, &ab, &off));
  if (tt != napi_float64_array || n < 4) {
    free(s);
    napi_throw_type_error(env, "EUDPBATCH", "udp_batch.open: stats must be a Float64Array(4)");
    return NULL;
  }
  s->stats = data;
  for (uint32_t i = 0; i < nout; i++) {
    s->riov[i].iov_base = s->in + (size_t)i * s->slot;
    s->riov[i].iov_len = s->slot;
    s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsg[i].msg_hdr.msg_iovlen = 1;
    s->rmsg[i].msg_hdr.msg_name = s->addr + (size_t)i * ADDR_SLOT;
  }
  /* keep every buffer and the callback alive while the socket is open */
  CHECK(napi_create_array_with_length(env, 9, &keep));
  for (uint32_t i = 0; i < 9; i++) CHECK(napi_set_element(env, keep, i, argv[i]));
  CHECK(napi_create_reference(env, keep, 1, &s->keep));
  CHECK(napi_create_reference(env, argv[8], 1, &s->on_batch));
  napi_value name, resource;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "hades.udpBatch", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, resource, name, &s->async));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (uv_poll_init(loop, &s->poll, fd) != 0) {
    free(s);
    return throw_errno(env, "uv_poll_init", EINVAL);
  }
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  s->polling = 1;
  CHECK(napi_create_external(env, s, sock_finalize, NULL, &result));
  return result;
}

static Sock *get_sock(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "EUDPBATCH", "udp_batch: not a socket handle");
    return NULL;
  }
  Sock *s = p;
  if (s->closed) {
    napi_throw_error(env, "EUDPBATCH", "udp_batch: socket is closed");
    return NULL;
  }
  return s;
}

/* Sends the slots whose meta length is > 0 (and sets it back to 0). */
static void send_replies(Sock *s) {
  uint32_t m = 0;
  for (uint32_t i = 0; i < s->nslots; i++) {
    int32_t len = s->meta[2 * i];
    if (len <= 0) continue;
    s->meta[2 * i] = 0;
    s->siov[m].iov_base = s->out[i];
    s->siov[m].iov_len = (size_t)len;
    memset(&s->smsg[m].msg_hdr, 0, sizeof s->smsg[m].msg_hdr);
    s->smsg[m].msg_hdr.msg_iov = &s->siov[m];
    s->smsg[m].msg_hdr.msg_iovlen = 1;
    s->smsg[m].msg_hdr.msg_name = s->addr + (size_t)i * ADDR_SLOT;
    s->smsg[m].msg_hdr.msg_namelen = s->rmsg[i].msg_hdr.msg_namelen;
    m++;
  }
  uint32_t done = 0;
  while (done < m) {
    int r = sendmmsg(s->fd, s->smsg + done, m - done, MSG_DONTWAIT);
    if (r > 0) {
      done += (uint32_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      s->stats[2] += m - done; /* the kernel's send buffer is full: UDP drops, we count */
      return;
    }
    s->stats[1] += 1; /* this destination failed (EPERM, unreachable...): skip it */
    done++;
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  Sock *s = (Sock *)handle->data;
  if (s->closed) return;
  if (status < 0) {
    s->stats[0] += 1;
    return;
  }
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[1];
  napi_get_reference_value(env, s->on_batch, &cb);
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  for (int round = 0; round < MAX_ROUNDS && !s->closed; round++) {
    for (uint32_t i = 0; i < s->nslots; i++) s->rmsg[i].msg_hdr.msg_namelen = ADDR_SLOT;
    int n = recvmmsg(s->fd, s->rmsg, s->nslots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) s->stats[0] += 1;
      break;
    }
    if (n == 0) break;
    for (int i = 0; i < n; i++) {
      struct msghdr *h = &s->rmsg[i].msg_hdr;
      s->meta[2 * i] = (h->msg_flags & MSG_TRUNC) ? -1 : (int32_t)s->rmsg[i].msg_len;
      const struct sockaddr *sa = h->msg_name;
      s->meta[2 * i + 1] = sa->sa_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)sa)->sin6_port)
                                                     : ntohs(((struct sockaddr_in *)sa)->sin_port);
    }
    s->stats[3] += 1;
    napi_create_int32(env, n, &argv[0]);
    napi_value ignored;
    napi_status st = napi_make_callback(env, s->async, recv, cb, 1, argv, &ignored);
    if (st != napi_ok) {
      /* nothing of this batch is sent: its lengths are requests', not replies' */
      for (uint32_t i = 0; i < s->nslots; i++) s->meta[2 * i] = 0;
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
        napi_fatal_exception(env, err); /* as any throwing callback: 'uncaughtException' */
      }
      break;
    }
    if (s->closed) break;
    /* lengths of slots past n are 0 (cleared by the previous send), so only this batch goes */
    for (uint32_t i = (uint32_t)n; i < s->nslots; i++) s->meta[2 * i] = 0;
    send_replies(s);
    /* on to the next round: the socket is drained when recvmmsg says EAGAIN (a round that
       comes back with fewer than nslots often finds more: the client answered meanwhile) */
  }
  napi_close_handle_scope(env, scope);
}

/* addressText(handle, slot) -> the slot's source address as text (inet_ntop) */
static napi_value js_address_text(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Sock *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  uint32_t i;
  CHECK(napi_get_value_uint32(env, argv[1], &i));
  if (i >= s->nslots) {
    napi_throw_range_error(env, "EUDPBATCH", "udp_batch.addressText: slot out of range");
    return NULL;
  }
  const struct sockaddr *sa = (const struct sockaddr *)(s->addr + (size_t)i * ADDR_SLOT);
  char text[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
  CHECK(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &result));
  return result;
}

/* sendTo(handle, buf, len, host, port) -> 0, or -errno (EAGAIN: dropped) */
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Sock *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  uint8_t *buf;
  size_t bl;
  int32_t len, port;
  char host[64];
  size_t hl;
  if (!get_buffer(env, argv[1], &buf, &bl)) {
    napi_throw_type_error(env, "EUDPBATCH", "udp_batch.sendTo: buf must be a Buffer");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, argv[2], &len));
  CHECK(napi_get_value_string_utf8(env, argv[3], host, sizeof host, &hl));
  CHECK(napi_get_value_int32(env, argv[4], &port));
  if (len < 0 || (size_t)len > bl) {
    napi_throw_range_error(env, "EUDPBATCH", "udp_batch.sendTo: len out of range");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = make_addr(s->family, host, port, &ss);
  int rc = 0;
  if (sl == 0) rc = -EINVAL;
  else {
    ssize_t r;
    do r = sendto(s->fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
    while (r < 0 && errno == EINTR);
    if (r < 0) rc = -errno;
  }
  CHECK(napi_create_int32(env, rc, &result));
  return result;
}

/* localPort(fd) -> the bound port */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) return throw_errno(env, "getsockname", errno);
  int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                      : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  CHECK(napi_create_int32(env, port, &result));
  return result;
}

/* closeFd(fd): for a bound fd never opened (listen failed half-way) */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  close(fd);
  return NULL;
}

/* close(handle): stops polling, closes the socket; idempotent */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) return NULL;
  Sock *s = p;
  if (s->closed) return NULL;
  s->closed = 1;
  uv_poll_stop(&s->poll);
  close(s->fd);
  napi_delete_reference(env, s->keep);
  napi_delete_reference(env, s->on_batch);
  napi_async_destroy(env, s->async);
  uv_close((uv_handle_t *)&s->poll, on_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addressText", NULL, js_address_text, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
