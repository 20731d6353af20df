/* work_attacker.c - the attacks on the coordinator's work socket, for
 * test_work_auth.py. Self-contained (libzmq, libsodium): it speaks both the
 * work protocol before sessions (frames sealed with associated data
 * "petri-work-v1", routing id = node id) and the session handshake, so one
 * binary attacks either.
 *
 *   work_attacker squat ENDPOINT ROUTE_HEX VICTIM_ID_HEX SECONDS [KEY_B64]
 *       holds a connection with routing id ROUTE, sending junk and, with the
 *       cluster key, HELLOs naming the victim (both protocols)
 *   work_attacker impersonate ENDPOINT VICTIM_ID_HEX SECONDS KEY_B64
 *       claims the victim's id with a key of its own: HELLO (old protocol),
 *       OPEN/AUTH (sessions), counting whatever work comes back
 * Prints one JSON object: frames received, challenges, welcomes, batches
 * and items received. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define OLD_AD "petri-work-v1"
#define HS_AD "petri-work-hs-v1"
#define AUTH_DOMAIN "petri-work-auth-v1"

static uint8_t key[32], victim[16], route[16], pk[32], sk[64];
static int have_key;
static unsigned frames, challenges, welcomes, batches, items;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    size_t bin = 0;
    return sodium_hex2bin(out, n, s, strlen(s), NULL, &bin, NULL) == 0 && bin == n ? 0 : -1;
}

typedef struct buf {
    uint8_t d[4096];
    size_t n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void put_u32(buf_t *b, uint32_t v)
{
    uint8_t x[4] = {v >> 24, v >> 16, v >> 8, v};
    put(b, x, 4);
}

/* A wire frame: version 1, type, flags 0, sender, length, payload. */
static void frame(buf_t *b, uint16_t type, const uint8_t *sender, const buf_t *payload)
{
    uint8_t h[4] = {1, type >> 8, type & 0xff, 0};
    b->n = 0;
    put(b, h, 4);
    put(b, sender, 16);
    put_u32(b, (uint32_t)payload->n);
    put(b, payload->d, payload->n);
}

static void seal_send(void *s, int kind, const char *ad, const buf_t *f)
{
    uint8_t out[8192];
    size_t off = kind ? 1 : 0;
    unsigned long long clen = 0;
    out[0] = (uint8_t)kind;
    randombytes_buf(out + off, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + off + 24, &clen, f->d, f->n, (const uint8_t *)ad, strlen(ad), NULL, out + off, key);
    zmq_send(s, out, off + 24 + clen, ZMQ_DONTWAIT);
}

static int open_frame(const uint8_t *in, size_t n, const char *ad, uint8_t *out,
                      unsigned long long *olen)
{
    if (n < 40)
        return -1;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(out, olen, NULL, in + 24, n - 24,
                                                      (const uint8_t *)ad, strlen(ad), in, key);
}

static void hello(buf_t *p)
{
    static const char name[] = "victim";
    p->n = 0;
    put_u32(p, sizeof name - 1);
    put(p, name, sizeof name - 1);
    put(p, pk, 32);
    put_u32(p, 2);  /* vms_ready */
    put_u32(p, 2);  /* vms_total */
    put_u32(p, 16); /* credit */
    put_u32(p, 0);  /* queued */
    uint8_t z[16] = {0};
    put(p, z, 8);  /* load */
    put(p, z, 8);  /* received */
    put_u32(p, 1); /* min_vms */
    put_u32(p, 4); /* max_vms */
}

static void on_message(void *s, const uint8_t *m, size_t n)
{
    uint8_t plain[1 << 16];
    unsigned long long pl = 0;
    frames++;
    if (open_frame(m, n, OLD_AD, plain, &pl) == 0 && pl >= 24) {
        uint16_t type = (uint16_t)(plain[1] << 8 | plain[2]);
        if (type == 201) { /* BATCH: population:str spec:bytes items:list */
            batches++;
            size_t off = 24;
            for (int k = 0; k < 2 && off + 4 <= pl; k++) {
                uint32_t len = (uint32_t)plain[off] << 24 | plain[off + 1] << 16 |
                               plain[off + 2] << 8 | plain[off + 3];
                off += 4 + len;
            }
            if (off + 4 <= pl)
                items += (uint32_t)plain[off] << 24 | plain[off + 1] << 16 | plain[off + 2] << 8 |
                         plain[off + 3];
        }
    } else if (n > 0 && m[0] == 1 && open_frame(m + 1, n - 1, HS_AD, plain, &pl) == 0 &&
               pl >= 24 + 32) {
        uint16_t type = (uint16_t)(plain[1] << 8 | plain[2]);
        if (type != 205)
            return;
        challenges++; /* sign it with our own key, claiming the victim's id */
        const uint8_t *coord = plain + 4, *cnonce = plain + 24;
        uint8_t anonce[32], sid[32], sig[64];
        randombytes_buf(anonce, sizeof anonce);
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 32);
        crypto_generichash_update(&st, (const uint8_t *)AUTH_DOMAIN, sizeof AUTH_DOMAIN);
        crypto_generichash_update(&st, victim, 16);
        crypto_generichash_update(&st, pk, 32);
        crypto_generichash_update(&st, coord, 16);
        crypto_generichash_update(&st, route, 16);
        crypto_generichash_update(&st, cnonce, 32);
        crypto_generichash_update(&st, anonce, 32);
        crypto_generichash_final(&st, sid, 32);
        crypto_sign_ed25519_detached(sig, NULL, sid, 32, sk);
        buf_t p = {.n = 0}, f;
        put(&p, pk, 32);
        put(&p, anonce, 32);
        put(&p, sig, 64);
        frame(&f, 206, victim, &p);
        seal_send(s, 1, HS_AD, &f);
    } else if (n > 0 && m[0] == 2) {
        welcomes++; /* a session frame: only a welcomed session gets these */
    }
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || argc < 5)
        return 2;
    int squat = strcmp(argv[1], "squat") == 0;
    const char *ep = argv[2];
    int ai = 3;
    if (squat) {
        if (argc < 6 || unhex(argv[ai++], route, 16) != 0)
            return 2;
    }
    if (unhex(argv[ai++], victim, 16) != 0)
        return 2;
    if (!squat)
        memcpy(route, victim, 16); /* the old protocol wants routing id = node id */
    double secs = atof(argv[ai++]);
    if (ai < argc) {
        size_t bin = 0;
        if (sodium_base642bin(key, 32, argv[ai], strlen(argv[ai]), NULL, &bin, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            bin != 32)
            return 2;
        have_key = 1;
    }
    crypto_sign_ed25519_keypair(pk, sk);
    void *z = zmq_ctx_new(), *s = zmq_socket(z, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, route, 16);
    if (zmq_connect(s, ep) != 0)
        return 1;
    uint64_t end = now_ms() + (uint64_t)(secs * 1000), next = 0;
    while (now_ms() < end) {
        if (now_ms() >= next) {
            next = now_ms() + 300;
            uint8_t junk[120];
            randombytes_buf(junk, sizeof junk);
            zmq_send(s, junk, sizeof junk, ZMQ_DONTWAIT);
            if (have_key) {
                buf_t p, f;
                hello(&p);
                frame(&f, 200, victim, &p);
                seal_send(s, 0, OLD_AD, &f); /* the old protocol */
                p.n = 0;
                frame(&f, 204, victim, &p); /* OPEN */
                seal_send(s, 1, HS_AD, &f);
            }
        }
        zmq_pollitem_t pi = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 50) > 0) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0)
                on_message(s, zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
        }
    }
    printf("{\"frames\": %u, \"challenges\": %u, \"welcomes\": %u, \"batches\": %u, "
           "\"items\": %u}\n",
           frames, challenges, welcomes, batches, items);
    zmq_close(s);
    zmq_ctx_term(z);
    return 0;
}
