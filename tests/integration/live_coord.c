/* live_coord.c - the coordinator's side of live individuals, faked for
 * test_live_agent.py: binds a work ROUTER, welcomes one agent through the
 * real session handshake (shared/wsess.h), sends WIRE_WORK_LIVE commands
 * read from stdin, and prints every LIVE_EVENT and LIVE_STATUS it gets as
 * a JSON line, each event's signature checked (attest_verify_live).
 *
 *   live_coord tcp://127.0.0.1:PORT KEY_B64 [FEATURES]
 * FEATURES: what its WELCOMEs offer (wire.h WIRE_FEAT_*); without it they
 * are empty, as a coordinator's from before them were.
 * stdin, one command a line ("-" = an empty file):
 *   start POP IND INC LANG VERSION NEXT SPEC TRACE BREED_SPEC_JSON SOURCE SNAPSHOT
 *   upgrade POP IND INC UPID OP SEED PROBATION JUDGE SOURCE [PARENT...]
 *   stop POP IND INC
 *   raw POP IND INC CMD          (a command with nothing after its head)
 *   breed POP DEME DSEQ OP SEED SPEC_JSON PARENT   (a WIRE_WORK_BATCH of one
 *                                breed-and-score item)
 * stdout: {"type":"session",...}, {"type":"event",...}, {"type":"status",...}
 * (snapshots as hex), {"type":"result",...} for each RESULT item: its
 * frame's flags, breeder (hex, null when the frame carries none), status,
 * fitness and whether its signature checks out under the attest version
 * the frame's layout says (3 with breeders, else 2). Ends on EOF of stdin. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "attest.h"
#include "crypto.h"
#include "err.h"
#include "spec.h"
#include "util.h"
#include "wire.h"
#include "wire_live.h"
#include "wsess.h"

static void *sock;
static keyring_t *kr;
static uint8_t coord_id[CRYPTO_ID_LEN], cnonce[WSESS_NONCE_LEN];
static uint8_t route[256], agent_pk[CRYPTO_PK_LEN];
static size_t route_len;
static wsess_t sess;
static int ready;
static uint32_t features; /* offered in WELCOME; 0 = send an empty one */
static int has_features;
static uint8_t buf[WIRE_WORK_MAX_FRAME + 1024];

static void out(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static void send_body(const uint8_t *body, size_t len)
{
    zmq_send(sock, route, route_len, ZMQ_SNDMORE);
    zmq_send(sock, body, len, 0);
}

static void send_session(wire_buf_t *b)
{
    size_t n = 0;
    if (wire_end(b) != 0 || wsess_seal(&sess, kr, b->data, b->len, buf, sizeof buf, &n) != 0) {
        fprintf(stderr, "live_coord: cannot seal\n");
        exit(1);
    }
    send_body(buf, n);
}

static int read_file(const char *path, char **p, size_t *len)
{
    *p = NULL;
    *len = 0;
    if (!strcmp(path, "-"))
        return 0;
    int rc = util_read_file(path, 64u << 20, p, len);
    if (rc)
        fprintf(stderr, "live_coord: %s: %s\n", path, err_str(rc));
    return rc;
}

static void head(wire_buf_t *b, char **tok, uint8_t cmd)
{
    wire_begin(b, WIRE_WORK_LIVE, 0, coord_id);
    wire_put_str(b, tok[1]);
    wire_put_u32(b, (uint32_t)strtoul(tok[2], NULL, 10));
    wire_put_u64(b, strtoull(tok[3], NULL, 10));
    wire_put_u8(b, cmd);
}

static void put_file(wire_buf_t *b, const char *path)
{
    char *p;
    size_t n;
    if (read_file(path, &p, &n) != 0)
        exit(1);
    wire_put_bytes(b, p, n);
    free(p);
}

static void command(char *line)
{
    char *tok[32];
    int n = 0;
    for (char *t = strtok(line, " \t\n"); t && n < 32; t = strtok(NULL, " \t\n"))
        tok[n++] = t;
    if (n == 0 || !ready)
        return;
    wire_buf_t b;
    wire_buf_init(&b);
    if (!strcmp(tok[0], "start") && n == 12) {
        head(&b, tok, WIRE_LIVE_CMD_START);
        put_file(&b, tok[7]);
        put_file(&b, tok[8]);
        if (!strcmp(tok[9], "-")) {
            wire_put_bytes(&b, NULL, 0);
        } else {
            spec_t *s = NULL;
            char err[512];
            if (spec_load_file(tok[9], &s, err, sizeof err) != 0) {
                fprintf(stderr, "live_coord: %s\n", err);
                exit(1);
            }
            wire_buf_t sb;
            wire_buf_init(&sb);
            spec_encode(s, -1, &sb);
            wire_put_bytes(&b, sb.data, sb.len);
            wire_buf_free(&sb);
            spec_destroy(&s);
        }
        wire_put_u8(&b, (uint8_t)atoi(tok[4]));
        put_file(&b, tok[10]);
        wire_put_u32(&b, (uint32_t)atoi(tok[5]));
        put_file(&b, tok[11]);
        wire_put_u32(&b, (uint32_t)atoi(tok[6]));
    } else if (!strcmp(tok[0], "upgrade") && n >= 10) {
        head(&b, tok, WIRE_LIVE_CMD_UPGRADE);
        wire_put_u64(&b, strtoull(tok[4], NULL, 10));
        wire_put_str(&b, tok[5]);
        wire_put_u64(&b, strtoull(tok[6], NULL, 10));
        wire_put_u32(&b, (uint32_t)(n - 10));
        for (int i = 10; i < n; i++)
            put_file(&b, tok[i]);
        put_file(&b, tok[9]);
        wire_put_u32(&b, (uint32_t)atoi(tok[7]));
        wire_put_u8(&b, (uint8_t)atoi(tok[8]));
    } else if (!strcmp(tok[0], "stop") && n == 4) {
        head(&b, tok, WIRE_LIVE_CMD_STOP);
    } else if (!strcmp(tok[0], "raw") && n == 5) {
        head(&b, tok, (uint8_t)atoi(tok[4]));
    } else if (!strcmp(tok[0], "breed") && n == 8) {
        spec_t *sp = NULL;
        char err[512];
        if (spec_load_file(tok[6], &sp, err, sizeof err) != 0) {
            fprintf(stderr, "live_coord: %s\n", err);
            exit(1);
        }
        wire_begin(&b, WIRE_WORK_BATCH, 0, coord_id);
        wire_put_str(&b, tok[1]);
        wire_buf_t sb;
        wire_buf_init(&sb);
        spec_encode(sp, -1, &sb);
        wire_put_bytes(&b, sb.data, sb.len);
        wire_buf_free(&sb);
        spec_destroy(&sp);
        wire_put_u32(&b, 1);
        wire_put_u32(&b, (uint32_t)strtoul(tok[2], NULL, 10));
        wire_put_u64(&b, strtoull(tok[3], NULL, 10));
        wire_put_u8(&b, WIRE_ITEM_BREED_EVAL);
        wire_put_str(&b, tok[4]);
        wire_put_u64(&b, strtoull(tok[5], NULL, 10));
        wire_put_u32(&b, 1);
        put_file(&b, tok[7]);
        wire_put_bytes(&b, NULL, 0);
        wire_put_u8(&b, 255);
    } else {
        fprintf(stderr, "live_coord: bad command '%s'\n", tok[0]);
        exit(2);
    }
    send_session(&b);
    wire_buf_free(&b);
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    crypto_hex(p, n, h);
    json_t *s = json_string(h);
    free(h);
    return s;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void on_event(wire_rd_t *r)
{
    char pop[WIRE_POP_MAX + 1], op[WIRE_OP_MAX + 1], reason[WIRE_LIVE_REASON_MAX];
    uint32_t ind = 0, probation = 0, snap_len = 0, src_len = 0;
    uint64_t inc = 0, upid = 0, at_seq = 0, seed = 0;
    uint8_t kind = 0, child[32], sig[CRYPTO_SIG_LEN];
    const uint8_t *snap = NULL, *src = NULL;
    attest_live_t x = {0};
    wire_get_str(r, pop, sizeof pop);
    wire_get_u32(r, &ind);
    wire_get_u64(r, &inc);
    wire_get_u8(r, &kind);
    wire_get_u64(r, &upid);
    wire_get_u32(r, &x.version);
    wire_get_u64(r, &at_seq);
    wire_get_str(r, op, sizeof op);
    wire_get_u64(r, &seed);
    wire_get_raw(r, child, 32);
    wire_get_raw(r, x.parent_hash, 32);
    wire_get_raw(r, x.state_before, 32);
    wire_get_raw(r, x.state_after, 32);
    wire_get_f64(r, &x.parent_score);
    wire_get_f64(r, &x.child_score);
    wire_get_u32(r, &probation);
    wire_get_str(r, reason, sizeof reason);
    wire_get_bytes(r, &snap, &snap_len, WIRE_LIVE_SNAPSHOT_MAX);
    wire_get_bytes(r, &src, &src_len, 1u << 22);
    wire_get_raw(r, sig, sizeof sig);
    json_t *o = json_pack("{s:s, s:b}", "type", "event", "malformed", r->err != 0);
    if (!r->err) {
        x.kind = kind;
        x.status = (uint8_t)wire_live_status(kind);
        x.probation = probation;
        attest_reason_hash(reason, strlen(reason), x.reason_hash);
        uint8_t h[32];
        crypto_hash(src, src_len, h);
        json_object_set_new(
            o, "sig_ok",
            json_boolean(attest_verify_live(agent_pk, pop, ind, upid, child, &x, sig) == 0));
        json_object_set_new(o, "kind", json_string(wire_live_event_str(kind)));
        json_object_set_new(o, "population", json_string(pop));
        json_object_set_new(o, "individual", json_integer(ind));
        json_object_set_new(o, "incarnation", json_integer((json_int_t)inc));
        json_object_set_new(o, "upgrade_id", json_integer((json_int_t)upid));
        json_object_set_new(o, "version", json_integer(x.version));
        json_object_set_new(o, "at_seq", json_integer((json_int_t)at_seq));
        json_object_set_new(o, "op", json_string(op));
        json_object_set_new(o, "seed", json_integer((json_int_t)seed));
        json_object_set_new(o, "child_hash", hex_json(child, 32));
        json_object_set_new(o, "parent_hash", hex_json(x.parent_hash, 32));
        json_object_set_new(o, "state_before", hex_json(x.state_before, 32));
        json_object_set_new(o, "state_after", hex_json(x.state_after, 32));
        json_object_set_new(o, "parent_score", num(x.parent_score));
        json_object_set_new(o, "child_score", num(x.child_score));
        json_object_set_new(o, "probation", json_integer(probation));
        json_object_set_new(o, "reason", json_string(reason));
        json_object_set_new(o, "snapshot", hex_json(snap, snap_len));
        json_object_set_new(o, "source", json_stringn((const char *)src, src_len));
        json_object_set_new(o, "source_hash", hex_json(h, 32));
    }
    out(o);
}

static void on_status(wire_rd_t *r)
{
    uint32_t n = 0;
    wire_get_count(r, &n, 1024, 8);
    json_t *items = json_array();
    for (uint32_t i = 0; i < n && !r->err; i++) {
        char pop[WIRE_POP_MAX + 1];
        uint32_t ind = 0, version = 0;
        uint64_t inc, req, correct, wrong, failed, p50, p99, lost, twice;
        double fit = 0;
        uint8_t prob = 0;
        wire_get_str(r, pop, sizeof pop);
        wire_get_u32(r, &ind);
        wire_get_u64(r, &inc);
        wire_get_u32(r, &version);
        wire_get_u64(r, &req);
        wire_get_u64(r, &correct);
        wire_get_u64(r, &wrong);
        wire_get_u64(r, &failed);
        wire_get_f64(r, &fit);
        wire_get_u64(r, &p50);
        wire_get_u64(r, &p99);
        wire_get_u64(r, &lost);
        wire_get_u64(r, &twice);
        wire_get_u8(r, &prob);
        json_t *it = json_pack(
            "{s:s, s:i, s:I, s:i, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, "
            "s:i}",
            "population", pop, "individual", (int)ind, "incarnation", (json_int_t)inc, "version",
            (int)version, "requests", (json_int_t)req, "correct", (json_int_t)correct, "wrong",
            (json_int_t)wrong, "failed", (json_int_t)failed, "fitness", num(fit), "p50_us",
            (json_int_t)p50, "p99_us", (json_int_t)p99, "lost", (json_int_t)lost, "twice",
            (json_int_t)twice, "on_probation", (int)prob);
        json_array_append_new(items, it);
    }
    out(json_pack("{s:s, s:b, s:o}", "type", "status", "malformed", r->err != 0, "items", items));
}

/* A WIRE_WORK_RESULT frame: one line per item. */
static void on_results(const wire_hdr_t *h, wire_rd_t *r)
{
    uint32_t credit = 0, n = 0;
    uint64_t received = 0;
    wire_get_u32(r, &credit);
    wire_get_u64(r, &received);
    wire_get_count(r, &n, 4096, 1);
    int with = (h->flags & WIRE_RESULT_BREEDER) != 0;
    for (uint32_t i = 0; i < n && !r->err; i++) {
        char pop[WIRE_POP_MAX + 1], detail[1024];
        uint32_t deme = 0, len = 0, nerr = 0;
        uint64_t dseq = 0;
        uint8_t status = 0, sig[CRYPTO_SIG_LEN], h32[CRYPTO_HASH_LEN];
        double fitness = NAN;
        const uint8_t *src = NULL;
        attest_ext_t x = {.with_breeder = (uint8_t)with};
        wire_get_str(r, pop, sizeof pop);
        wire_get_u32(r, &deme);
        wire_get_u64(r, &dseq);
        wire_get_u8(r, &status);
        wire_get_f64(r, &fitness);
        wire_get_str(r, detail, sizeof detail);
        wire_get_bytes(r, &src, &len, 1u << 20);
        wire_get_raw(r, sig, sizeof sig);
        wire_get_u32(r, &x.passed);
        wire_get_u32(r, &x.cases);
        wire_get_f64(r, &x.cost);
        wire_get_u8(r, &x.reused);
        wire_get_count(r, &nerr, SPEC_MAX_CASES, 8);
        double *errs = calloc(nerr ? nerr : 1, sizeof *errs);
        for (uint32_t k = 0; k < nerr && errs; k++)
            wire_get_f64(r, &errs[k]);
        if (with)
            wire_get_raw(r, x.breeder, WIRE_BREEDER_LEN);
        if (r->err || !errs) {
            free(errs);
            out(json_pack("{s:s, s:s}", "type", "result", "error", err_str(r->err)));
            return;
        }
        attest_errors_hash(errs, nerr, x.errors_hash);
        free(errs);
        crypto_hash(src, len, h32);
        int ok = attest_verify_v2(agent_pk, pop, deme, dseq, h32, status,
                                  status == WIRE_ST_OK ? fitness : NAN, &x, sig) == 0;
        out(json_pack("{s:s, s:i, s:o, s:s, s:I, s:b, s:s#}", "type", "result", "flags",
                      (int)h->flags, "breeder",
                      with ? hex_json(x.breeder, WIRE_BREEDER_LEN) : json_null(), "status",
                      wire_status_str(status), "dseq", (json_int_t)dseq, "sig_ok", ok, "source",
                      (const char *)src, (int)len));
    }
}

/* A WELCOME, with the features when they were given. */
static void send_welcome(void)
{
    wire_buf_t b;
    wire_buf_init(&b);
    wire_begin(&b, WIRE_WORK_WELCOME, 0, coord_id);
    if (has_features)
        wire_put_u32(&b, features);
    send_session(&b);
    wire_buf_free(&b);
}

static void on_message(void)
{
    uint8_t rid[256];
    int rl = zmq_recv(sock, rid, sizeof rid, ZMQ_DONTWAIT);
    if (rl < 0)
        return;
    static uint8_t body[WIRE_WORK_MAX_FRAME + 1024];
    int bl = zmq_recv(sock, body, sizeof body, 0);
    if (bl <= 0)
        return;
    size_t plen = 0;
    wire_hdr_t h;
    wire_rd_t r;
    if (body[0] == WSESS_KIND_HS) {
        if (wsess_open_hs(kr, body, (size_t)bl, buf, sizeof buf, &plen) != 0 ||
            wire_parse(buf, plen, &h, &r) != 0)
            return;
        if (h.type == WIRE_WORK_OPEN) {
            memcpy(route, rid, (size_t)rl);
            route_len = (size_t)rl;
            crypto_random(cnonce, sizeof cnonce);
            wire_buf_t b;
            wire_buf_init(&b);
            wire_begin(&b, WIRE_WORK_CHALLENGE, 0, coord_id);
            wire_put_raw(&b, cnonce, sizeof cnonce);
            wire_end(&b);
            size_t n = 0;
            wsess_seal_hs(kr, b.data, b.len, buf, sizeof buf, &n);
            send_body(buf, n);
            wire_buf_free(&b);
        } else if (h.type == WIRE_WORK_AUTH && route_len == (size_t)rl &&
                   !memcmp(route, rid, route_len)) {
            uint8_t anonce[WSESS_NONCE_LEN], sig[CRYPTO_SIG_LEN], sid[WSESS_SID_LEN], id[16];
            wire_get_raw(&r, agent_pk, sizeof agent_pk);
            wire_get_raw(&r, anonce, sizeof anonce);
            wire_get_raw(&r, sig, sizeof sig);
            if (r.err || crypto_id_from_pk(agent_pk, id) != 0 || memcmp(id, h.sender, 16))
                return;
            wsess_transcript(h.sender, agent_pk, coord_id, route, cnonce, anonce, sid);
            if (crypto_verify(agent_pk, sid, sizeof sid, sig) != 0)
                return;
            wsess_init(&sess, sid, 0);
            ready = 1;
            send_welcome();
            out(json_pack("{s:s, s:o}", "type", "session", "agent_pk", hex_json(agent_pk, 32)));
        }
        return;
    }
    if (!ready || route_len != (size_t)rl || memcmp(route, rid, route_len) ||
        wsess_open(&sess, kr, body, (size_t)bl, buf, sizeof buf, &plen) != 0 ||
        wire_parse(buf, plen, &h, &r) != 0)
        return;
    if (h.type == WIRE_WORK_HELLO) {
        send_welcome();
    } else if (h.type == WIRE_WORK_RESULT) {
        on_results(&h, &r);
    } else if (h.type == WIRE_WORK_LIVE_EVENT) {
        on_event(&r);
    } else if (h.type == WIRE_WORK_LIVE_STATUS) {
        on_status(&r);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: live_coord tcp://HOST:PORT KEY_B64 [FEATURES] < commands\n");
        return 2;
    }
    if (argc == 4) {
        features = (uint32_t)strtoul(argv[3], NULL, 10);
        has_features = 1;
    }
    uint8_t key[CRYPTO_KEY_LEN];
    if (crypto_init() != 0 || crypto_key_from_b64(argv[2], key) != 0) {
        fprintf(stderr, "live_coord: bad key\n");
        return 2;
    }
    kr = keyring_new();
    keyring_add(kr, key);
    crypto_random(coord_id, sizeof coord_id);
    void *ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(sock, argv[1]) != 0) {
        fprintf(stderr, "live_coord: bind %s: %s\n", argv[1], zmq_strerror(errno));
        return 1;
    }
    char line[8192];
    size_t have = 0;
    pid_t parent = getppid();
    for (;;) {
        if (getppid() != parent)
            break; /* the test that ran it is gone (its pipe may live on in others) */
        zmq_pollitem_t it[2] = {{sock, 0, ZMQ_POLLIN, 0}, {NULL, 0, ZMQ_POLLIN, 0}};
        struct pollfd hup = {.fd = 0, .events = POLLIN};
        if (poll(&hup, 1, 0) == 1 && (hup.revents & POLLHUP) && !(hup.revents & POLLIN))
            break; /* stdin closed (zmq_poll does not report a hang-up) */
        if (zmq_poll(it, 2, 100) < 0)
            break;
        if (it[0].revents & ZMQ_POLLIN)
            for (int k = 0; k < 64; k++)
                on_message();
        if (it[1].revents & ZMQ_POLLIN) {
            ssize_t n = read(0, line + have, sizeof line - 1 - have);
            if (n <= 0)
                break;
            have += (size_t)n;
            line[have] = 0;
            char *nl;
            while ((nl = memchr(line, '\n', have))) {
                *nl = 0;
                size_t used = (size_t)(nl - line) + 1;
                command(line);
                memmove(line, line + used, have - used);
                have -= used;
            }
        }
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    keyring_destroy(&kr);
    return 0;
}
