/* crypto.c - libsodium helpers (crypto.h): keyring with XChaCha20-Poly1305
 * seal/open, node identity files, Ed25519 signatures, BLAKE2b-256. */
#include "crypto.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "log.h"
#include "util.h"

#define KEYFILE_MAX (64 * 1024)

struct keyring {
    uint8_t *keys; /* sodium_malloc'd KEYRING_MAX * CRYPTO_KEY_LEN; [0] is primary */
    int n;
};

int crypto_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- keyring ---- */

keyring_t *keyring_new(void)
{
    keyring_t *kr = calloc(1, sizeof *kr);
    if (!kr)
        return NULL;
    kr->keys = sodium_malloc((size_t)KEYRING_MAX * CRYPTO_KEY_LEN);
    if (!kr->keys) {
        free(kr);
        return NULL;
    }
    sodium_memzero(kr->keys, (size_t)KEYRING_MAX * CRYPTO_KEY_LEN);
    return kr;
}

void keyring_destroy(keyring_t **pkr)
{
    if (!pkr || !*pkr)
        return;
    keyring_t *kr = *pkr;
    sodium_free(kr->keys); /* wipes the memory */
    free(kr);
    *pkr = NULL;
}

static int find_key(const keyring_t *kr, const uint8_t key[CRYPTO_KEY_LEN])
{
    for (int i = 0; i < kr->n; i++)
        if (sodium_memcmp(kr->keys + (size_t)i * CRYPTO_KEY_LEN, key, CRYPTO_KEY_LEN) == 0)
            return i;
    return -1;
}

int keyring_add(keyring_t *kr, const uint8_t key[CRYPTO_KEY_LEN])
{
    assert(kr && key);
    if (find_key(kr, key) >= 0)
        return 0;
    if (kr->n >= KEYRING_MAX)
        return ERR_LIMIT;
    memcpy(kr->keys + (size_t)kr->n * CRYPTO_KEY_LEN, key, CRYPTO_KEY_LEN);
    kr->n++;
    return 0;
}

int keyring_use(keyring_t *kr, const uint8_t key[CRYPTO_KEY_LEN])
{
    assert(kr && key);
    int i = find_key(kr, key);
    if (i < 0)
        return ERR_NOTFOUND;
    if (i == 0)
        return 0;
    uint8_t tmp[CRYPTO_KEY_LEN];
    memcpy(tmp, kr->keys + (size_t)i * CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
    /* Shift keys [0, i) up by one so the others keep their relative order. */
    memmove(kr->keys + CRYPTO_KEY_LEN, kr->keys, (size_t)i * CRYPTO_KEY_LEN);
    memcpy(kr->keys, tmp, CRYPTO_KEY_LEN);
    sodium_memzero(tmp, sizeof tmp);
    return 0;
}

int keyring_remove(keyring_t *kr, const uint8_t key[CRYPTO_KEY_LEN])
{
    assert(kr && key);
    int i = find_key(kr, key);
    if (i < 0)
        return ERR_NOTFOUND;
    if (i == 0)
        return ERR_STATE;
    memmove(kr->keys + (size_t)i * CRYPTO_KEY_LEN, kr->keys + (size_t)(i + 1) * CRYPTO_KEY_LEN,
            (size_t)(kr->n - i - 1) * CRYPTO_KEY_LEN);
    kr->n--;
    sodium_memzero(kr->keys + (size_t)kr->n * CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
    return 0;
}

int keyring_count(const keyring_t *kr)
{
    assert(kr);
    return kr->n;
}

int keyring_get(const keyring_t *kr, int i, uint8_t key[CRYPTO_KEY_LEN])
{
    assert(kr && key);
    if (i < 0 || i >= kr->n)
        return ERR_NOTFOUND;
    memcpy(key, kr->keys + (size_t)i * CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int keyring_load_file(keyring_t *kr, const char *path, char *err, size_t errlen)
{
    assert(kr && path);
    char *text;
    size_t len;
    int rc = util_read_file(path, KEYFILE_MAX, &text, &len);
    if (rc) {
        set_err(err, errlen, "%s: %s", path, err_str(rc));
        return rc == ERR_TOOBIG ? ERR_CONFIG : rc;
    }
    /* Parse everything first, so a bad file leaves the ring untouched. */
    uint8_t *keys = sodium_malloc((size_t)KEYRING_MAX * CRYPTO_KEY_LEN);
    if (!keys) {
        sodium_memzero(text, len);
        free(text);
        return -ENOMEM;
    }
    int n = 0, lineno = 0;
    char *save = NULL;
    rc = 0;
    /* strtok_r would skip blank lines and miscount; walk lines by hand. */
    for (char *line = text; line && !rc; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        uint8_t k[CRYPTO_KEY_LEN];
        if (crypto_key_from_b64(s, k) != 0) {
            set_err(err, errlen, "%s:%d: not a base64 %d-byte key", path, lineno, CRYPTO_KEY_LEN);
            rc = ERR_CONFIG;
        } else if (n >= KEYRING_MAX) {
            set_err(err, errlen, "%s:%d: more than %d keys", path, lineno, KEYRING_MAX);
            rc = ERR_CONFIG;
        } else {
            memcpy(keys + (size_t)n * CRYPTO_KEY_LEN, k, CRYPTO_KEY_LEN);
            n++;
        }
        sodium_memzero(k, sizeof k);
    }
    sodium_memzero(text, len);
    free(text);
    if (!rc && n == 0) {
        set_err(err, errlen, "%s: no keys", path);
        rc = ERR_CONFIG;
    }
    for (int i = 0; !rc && i < n; i++) {
        rc = keyring_add(kr, keys + (size_t)i * CRYPTO_KEY_LEN);
        if (rc)
            set_err(err, errlen, "%s: keyring full (%d keys)", path, KEYRING_MAX);
    }
    if (!rc)
        rc = keyring_use(kr, keys);
    sodium_free(keys);
    return rc;
}

int crypto_key_from_b64(const char *b64, uint8_t key[CRYPTO_KEY_LEN])
{
    size_t bin_len = 0;
    const char *end = NULL;
    uint8_t tmp[CRYPTO_KEY_LEN + 3];

    if (!b64 || strlen(b64) != CRYPTO_KEY_B64_LEN)
        return ERR_INVAL;
    if (sodium_base642bin(tmp, sizeof tmp, b64, CRYPTO_KEY_B64_LEN, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != CRYPTO_KEY_LEN || !end || *end != '\0') {
        sodium_memzero(tmp, sizeof tmp);
        return ERR_INVAL;
    }
    memcpy(key, tmp, CRYPTO_KEY_LEN);
    sodium_memzero(tmp, sizeof tmp);
    return 0;
}

void crypto_key_to_b64(const uint8_t key[CRYPTO_KEY_LEN], char *out)
{
    sodium_bin2base64(out, CRYPTO_KEY_B64_LEN + 1, key, CRYPTO_KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
}

void crypto_random(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

/* ---- seal / open ---- */

int crypto_seal(const keyring_t *kr, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                size_t ptlen, uint8_t *out, size_t outcap, size_t *outlen)
{
    assert(kr && out && outlen && (pt || ptlen == 0));
    *outlen = 0;
    if (kr->n == 0)
        return ERR_STATE;
    if (ptlen > SIZE_MAX - CRYPTO_SEAL_OVERHEAD || outcap < ptlen + CRYPTO_SEAL_OVERHEAD)
        return ERR_TOOBIG;
    unsigned long long clen = 0;
    randombytes_buf(out, CRYPTO_NONCE_LEN);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + CRYPTO_NONCE_LEN, &clen, pt, ptlen, ad,
                                                   ad ? adlen : 0, NULL, out, kr->keys) != 0)
        return ERR_CRYPTO;
    *outlen = CRYPTO_NONCE_LEN + (size_t)clen;
    return 0;
}

int crypto_open(const keyring_t *kr, const uint8_t *ad, size_t adlen, const uint8_t *in,
                size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
    assert(kr && outlen && (out || outcap == 0));
    *outlen = 0;
    if (!in || inlen < CRYPTO_SEAL_OVERHEAD)
        return ERR_CRYPTO;
    if (outcap < inlen - CRYPTO_SEAL_OVERHEAD)
        return ERR_TOOBIG;
    for (int i = 0; i < kr->n; i++) {
        unsigned long long mlen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                out, &mlen, NULL, in + CRYPTO_NONCE_LEN, inlen - CRYPTO_NONCE_LEN, ad,
                ad ? adlen : 0, in, kr->keys + (size_t)i * CRYPTO_KEY_LEN) == 0) {
            *outlen = (size_t)mlen;
            return 0;
        }
    }
    return ERR_CRYPTO;
}

/* ---- identity ---- */

static int load_id(const char *path, uint8_t id[CRYPTO_ID_LEN], char *err, size_t errlen)
{
    char *text;
    int rc = util_read_file(path, 256, &text, NULL);
    if (rc == -ENOENT)
        return rc;
    if (rc) {
        set_err(err, errlen, "%s: %s", path, err_str(rc));
        return rc == ERR_TOOBIG ? ERR_CONFIG : rc;
    }
    char *s = trim(text);
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '\n')
        s[n - 1] = '\0';
    rc = crypto_unhex(s, id, CRYPTO_ID_LEN);
    free(text);
    if (rc) {
        set_err(err, errlen, "%s: expected %d hex characters", path, 2 * CRYPTO_ID_LEN);
        return ERR_CONFIG;
    }
    return 0;
}

static int load_key(const char *path, node_identity_t *idn, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (st.st_mode & 0077) {
        set_err(err, errlen,
                "%s: mode %04o lets group/others access the node key; run chmod 600 %s", path,
                (unsigned)(st.st_mode & 07777), path);
        return ERR_CONFIG;
    }
    char *text;
    size_t len;
    int rc = util_read_file(path, 1024, &text, &len);
    if (rc) {
        set_err(err, errlen, "%s: %s", path, err_str(rc));
        return rc == ERR_TOOBIG ? ERR_CONFIG : rc;
    }
    char *s = trim(text);
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    uint8_t sk[CRYPTO_SK_LEN], pk[CRYPTO_PK_LEN], sk2[CRYPTO_SK_LEN];
    size_t bin_len = 0;
    const char *end = NULL;
    rc = ERR_CONFIG;
    if (n == 2 * CRYPTO_SK_LEN) {
        if (crypto_unhex(s, sk, CRYPTO_SK_LEN) == 0)
            rc = 0;
    } else if (sodium_base642bin(sk, sizeof sk, s, n, NULL, &bin_len, &end,
                                 sodium_base64_VARIANT_ORIGINAL) == 0 &&
               bin_len == CRYPTO_SK_LEN && end && *end == '\0') {
        rc = 0;
    }
    sodium_memzero(text, len);
    free(text);
    /* The secret key is seed || public key: rebuild it from the seed to
     * catch a damaged file. */
    if (rc == 0 && (crypto_sign_ed25519_seed_keypair(pk, sk2, sk) != 0 ||
                    sodium_memcmp(sk, sk2, CRYPTO_SK_LEN) != 0))
        rc = ERR_CONFIG;
    if (rc) {
        set_err(err, errlen, "%s: not a valid Ed25519 secret key (base64 or hex of %d bytes)", path,
                CRYPTO_SK_LEN);
    } else {
        memcpy(idn->sk, sk, CRYPTO_SK_LEN);
        memcpy(idn->pk, pk, CRYPTO_PK_LEN);
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(sk2, sizeof sk2);
    return rc;
}

int crypto_id_from_pk(const uint8_t pk[CRYPTO_PK_LEN], uint8_t id[CRYPTO_ID_LEN])
{
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_generichash(h, sizeof h, pk, CRYPTO_PK_LEN, NULL, 0);
    memcpy(id, h, CRYPTO_ID_LEN);
    return 0;
}

int crypto_id_check(const uint8_t id[CRYPTO_ID_LEN], const uint8_t pk[CRYPTO_PK_LEN])
{
    uint8_t want[CRYPTO_ID_LEN];
    crypto_id_from_pk(pk, want);
    return sodium_memcmp(want, id, CRYPTO_ID_LEN) == 0 ? 0 : ERR_CRYPTO;
}

/* node.id holds the id derived from the key. An older data dir holds a
 * random id: it is kept as node.id.old and replaced (identity_load_or_create
 * reports it in *migrated). */
static int write_id(const char *id_path, const uint8_t id[CRYPTO_ID_LEN], int replace, char *err,
                    size_t errlen)
{
    char hex[2 * CRYPTO_ID_LEN + 2];
    crypto_hex(id, CRYPTO_ID_LEN, hex);
    strcat(hex, "\n");
    int rc = util_write_file_atomic(id_path, hex, strlen(hex), 0644, replace ? 0 : UTIL_NO_REPLACE);
    if (rc && rc != ERR_EXISTS)
        set_err(err, errlen, "%s: cannot write: %s", id_path, err_str(rc));
    return rc;
}

int identity_load_or_create(const char *data_dir, node_identity_t *out, char *err, size_t errlen)
{
    char id_path[PATH_MAX], key_path[PATH_MAX], old_path[PATH_MAX + 8];
    assert(data_dir && out);
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (snprintf(id_path, sizeof id_path, "%s/node.id", data_dir) >= (int)sizeof id_path ||
        snprintf(key_path, sizeof key_path, "%s/node.key", data_dir) >= (int)sizeof key_path) {
        set_err(err, errlen, "%s: path too long", data_dir);
        return -ENAMETOOLONG;
    }
    snprintf(old_path, sizeof old_path, "%s.old", id_path);
    int rc = util_mkdir_p(data_dir, 0700);
    if (rc) {
        set_err(err, errlen, "%s: cannot create data directory: %s", data_dir, err_str(rc));
        return rc;
    }

    /* Two processes racing on a fresh directory: creation uses link(), so
     * the loser gets ERR_EXISTS and loads the winner's file. */
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = load_key(key_path, out, err, errlen);
        if (rc != -ENOENT)
            break;
        uint8_t pk[CRYPTO_PK_LEN], sk[CRYPTO_SK_LEN];
        char b64[sodium_base64_ENCODED_LEN(CRYPTO_SK_LEN, sodium_base64_VARIANT_ORIGINAL) + 1];
        crypto_sign_ed25519_keypair(pk, sk);
        sodium_bin2base64(b64, sizeof b64 - 1, sk, sizeof sk, sodium_base64_VARIANT_ORIGINAL);
        strcat(b64, "\n");
        rc = util_write_file_atomic(key_path, b64, strlen(b64), 0600, UTIL_NO_REPLACE);
        sodium_memzero(sk, sizeof sk);
        sodium_memzero(b64, sizeof b64);
        if (rc && rc != ERR_EXISTS) {
            set_err(err, errlen, "%s: cannot write: %s", key_path, err_str(rc));
            break;
        }
    }
    if (rc && err && errlen && !*err)
        set_err(err, errlen, "%s: %s", key_path, err_str(rc));
    if (rc)
        goto fail;

    /* The id is the key's (self-certifying): node.id only records it. */
    crypto_id_from_pk(out->pk, out->id);
    uint8_t have[CRYPTO_ID_LEN];
    rc = load_id(id_path, have, err, errlen);
    if (rc == -ENOENT) {
        rc = write_id(id_path, out->id, 0, err, errlen);
        if (rc == ERR_EXISTS) /* a racing process wrote it: it must agree */
            rc = load_id(id_path, have, err, errlen) == 0 &&
                         memcmp(have, out->id, CRYPTO_ID_LEN) == 0
                     ? 0
                     : ERR_CONFIG;
    } else if (rc == 0 && memcmp(have, out->id, CRYPTO_ID_LEN) != 0) {
        /* a random id from before ids were derived from keys: keep it aside */
        char hex[2 * CRYPTO_ID_LEN + 2];
        crypto_hex(have, CRYPTO_ID_LEN, hex);
        strcat(hex, "\n");
        rc = util_write_file_atomic(old_path, hex, strlen(hex), 0644, 0);
        if (rc)
            set_err(err, errlen, "%s: cannot write: %s", old_path, err_str(rc));
        else
            rc = write_id(id_path, out->id, 1, err, errlen);
        if (rc == 0) {
            char now[2 * CRYPTO_ID_LEN + 1];
            crypto_hex(out->id, CRYPTO_ID_LEN, now);
            hex[2 * CRYPTO_ID_LEN] = '\0';
            log_warn("identity.migrated",
                     "data_dir=%s old=%s id=%s msg=\"node ids now derive from the node key; the "
                     "old random id is kept in node.id.old\"",
                     data_dir, hex, now);
        }
    }
    if (rc && err && errlen && !*err)
        set_err(err, errlen, "%s: %s", id_path, err_str(rc));
    if (rc)
        goto fail;
    return 0;
fail:
    identity_wipe(out);
    return rc;
}

void identity_wipe(node_identity_t *idn)
{
    if (idn)
        sodium_memzero(idn, sizeof *idn);
}

void crypto_sign(const node_identity_t *idn, const void *msg, size_t len,
                 uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(idn && sig && (msg || len == 0));
    crypto_sign_ed25519_detached(sig, NULL, msg, len, idn->sk);
}

int crypto_verify(const uint8_t pk[CRYPTO_PK_LEN], const void *msg, size_t len,
                  const uint8_t sig[CRYPTO_SIG_LEN])
{
    assert(pk && sig && (msg || len == 0));
    return crypto_sign_ed25519_verify_detached(sig, msg, len, pk) == 0 ? 0 : ERR_CRYPTO;
}

void crypto_hash(const void *data, size_t len, uint8_t out[CRYPTO_HASH_LEN])
{
    crypto_generichash(out, CRYPTO_HASH_LEN, data, len, NULL, 0);
}

void crypto_hex(const uint8_t *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int crypto_unhex(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ERR_INVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
