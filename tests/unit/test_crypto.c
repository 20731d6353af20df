/* test_crypto.c - cmocka tests of shared/crypto.c: keyring seal/open and
 * rotation, tamper detection, identity files, signatures, hashes, codecs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "err.h"

static char tmpdir[256];

static int setup(void **state)
{
    if (crypto_init() != 0)
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/petri_test_crypto_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

static void test_seal_open_round_trip(void **state)
{
    uint8_t key[CRYPTO_KEY_LEN], pt[100], ct[200], out[200];
    size_t ctlen, outlen;
    keyring_t *kr = keyring_new();
    assert_non_null(kr);
    crypto_random(key, sizeof key);
    crypto_random(pt, sizeof pt);
    assert_int_equal(crypto_seal(kr, NULL, 0, pt, sizeof pt, ct, sizeof ct, &ctlen), ERR_STATE);
    assert_int_equal(keyring_add(kr, key), 0);
    assert_int_equal(keyring_count(kr), 1);

    const uint8_t ad[] = "header";
    assert_int_equal(crypto_seal(kr, ad, sizeof ad, pt, sizeof pt, ct, sizeof ct, &ctlen), 0);
    assert_int_equal(ctlen, sizeof pt + CRYPTO_SEAL_OVERHEAD);
    assert_int_equal(crypto_open(kr, ad, sizeof ad, ct, ctlen, out, sizeof out, &outlen), 0);
    assert_int_equal(outlen, sizeof pt);
    assert_memory_equal(out, pt, sizeof pt);
    /* wrong associated data */
    assert_int_equal(crypto_open(kr, NULL, 0, ct, ctlen, out, sizeof out, &outlen), ERR_CRYPTO);
    /* output too small */
    assert_int_equal(crypto_open(kr, ad, sizeof ad, ct, ctlen, out, sizeof pt - 1, &outlen),
                     ERR_TOOBIG);
    assert_int_equal(crypto_seal(kr, NULL, 0, pt, sizeof pt, ct, sizeof pt + 39, &ctlen),
                     ERR_TOOBIG);

    /* two seals of the same text differ (random nonce) */
    uint8_t ct2[200];
    size_t ct2len;
    assert_int_equal(crypto_seal(kr, ad, sizeof ad, pt, sizeof pt, ct2, sizeof ct2, &ct2len), 0);
    assert_memory_not_equal(ct, ct2, CRYPTO_NONCE_LEN);

    /* empty plaintext */
    assert_int_equal(crypto_seal(kr, NULL, 0, NULL, 0, ct, sizeof ct, &ctlen), 0);
    assert_int_equal(ctlen, CRYPTO_SEAL_OVERHEAD);
    assert_int_equal(crypto_open(kr, NULL, 0, ct, ctlen, out, sizeof out, &outlen), 0);
    assert_int_equal(outlen, 0);
    keyring_destroy(&kr);
    assert_null(kr);
    keyring_destroy(&kr); /* NULL is fine */
}

static void test_wrong_key_and_tampering(void **state)
{
    uint8_t k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN], pt[33], ct[100], out[100];
    size_t ctlen, outlen;
    keyring_t *a = keyring_new(), *b = keyring_new();
    crypto_random(k1, sizeof k1);
    crypto_random(k2, sizeof k2);
    crypto_random(pt, sizeof pt);
    keyring_add(a, k1);
    keyring_add(b, k2);
    assert_int_equal(crypto_seal(a, NULL, 0, pt, sizeof pt, ct, sizeof ct, &ctlen), 0);
    assert_int_equal(crypto_open(b, NULL, 0, ct, ctlen, out, sizeof out, &outlen), ERR_CRYPTO);
    assert_int_equal(outlen, 0);

    /* every single-bit flip anywhere (nonce, ciphertext, tag) is caught */
    for (size_t i = 0; i < ctlen * 8; i++) {
        ct[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(crypto_open(a, NULL, 0, ct, ctlen, out, sizeof out, &outlen), ERR_CRYPTO);
        ct[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* every truncation is caught */
    for (size_t n = 0; n < ctlen; n++)
        assert_int_equal(crypto_open(a, NULL, 0, ct, n, out, sizeof out, &outlen), ERR_CRYPTO);
    assert_int_equal(crypto_open(a, NULL, 0, ct, ctlen, out, sizeof out, &outlen), 0);
    keyring_destroy(&a);
    keyring_destroy(&b);
}

static void test_keyring_ops(void **state)
{
    uint8_t k[KEYRING_MAX + 1][CRYPTO_KEY_LEN], got[CRYPTO_KEY_LEN];
    keyring_t *kr = keyring_new();
    for (int i = 0; i <= KEYRING_MAX; i++)
        crypto_random(k[i], CRYPTO_KEY_LEN);
    assert_int_equal(keyring_get(kr, 0, got), ERR_NOTFOUND);
    for (int i = 0; i < KEYRING_MAX; i++)
        assert_int_equal(keyring_add(kr, k[i]), 0);
    assert_int_equal(keyring_add(kr, k[3]), 0); /* present: no-op */
    assert_int_equal(keyring_count(kr), KEYRING_MAX);
    assert_int_equal(keyring_add(kr, k[KEYRING_MAX]), ERR_LIMIT);
    assert_int_equal(keyring_get(kr, 0, got), 0);
    assert_memory_equal(got, k[0], CRYPTO_KEY_LEN); /* first added = primary */
    assert_int_equal(keyring_use(kr, k[KEYRING_MAX]), ERR_NOTFOUND);
    assert_int_equal(keyring_remove(kr, k[KEYRING_MAX]), ERR_NOTFOUND);
    assert_int_equal(keyring_remove(kr, k[0]), ERR_STATE);
    assert_int_equal(keyring_use(kr, k[5]), 0);
    assert_int_equal(keyring_get(kr, 0, got), 0);
    assert_memory_equal(got, k[5], CRYPTO_KEY_LEN);
    assert_int_equal(keyring_remove(kr, k[0]), 0);
    assert_int_equal(keyring_count(kr), KEYRING_MAX - 1);
    assert_int_equal(keyring_get(kr, KEYRING_MAX - 1, got), ERR_NOTFOUND);
    assert_int_equal(keyring_get(kr, -1, got), ERR_NOTFOUND);
    keyring_destroy(&kr);
}

static void test_open_with_non_primary_and_rotation(void **state)
{
    uint8_t old[CRYPTO_KEY_LEN], new[CRYPTO_KEY_LEN], pt[] = "membership ping", ct[128], out[128];
    size_t ctlen, outlen;
    crypto_random(old, sizeof old);
    crypto_random(new, sizeof new);
    /* Two nodes share the old key. */
    keyring_t *a = keyring_new(), *b = keyring_new();
    keyring_add(a, old);
    keyring_add(b, old);

    /* Step 1: install the new key everywhere (not primary yet). */
    keyring_add(a, new);
    keyring_add(b, new);
    assert_int_equal(crypto_seal(a, NULL, 0, pt, sizeof pt, ct, sizeof ct, &ctlen), 0);
    assert_int_equal(crypto_open(b, NULL, 0, ct, ctlen, out, sizeof out, &outlen), 0);

    /* Step 2: a makes it primary first; b still seals with old: both open. */
    assert_int_equal(keyring_use(a, new), 0);
    assert_int_equal(crypto_seal(a, NULL, 0, pt, sizeof pt, ct, sizeof ct, &ctlen), 0);
    assert_int_equal(crypto_open(b, NULL, 0, ct, ctlen, out, sizeof out, &outlen), 0);
    assert_memory_equal(out, pt, sizeof pt);
    assert_int_equal(crypto_seal(b, NULL, 0, pt, sizeof pt, ct, sizeof ct, &ctlen), 0);
    assert_int_equal(crypto_open(a, NULL, 0, ct, ctlen, out, sizeof out, &outlen), 0);

    /* Step 3: b switches, then both remove the old key. */
    assert_int_equal(keyring_use(b, new), 0);
    assert_int_equal(keyring_remove(a, old), 0);
    assert_int_equal(keyring_remove(b, old), 0);
    assert_int_equal(crypto_seal(b, NULL, 0, pt, sizeof pt, ct, sizeof ct, &ctlen), 0);
    assert_int_equal(crypto_open(a, NULL, 0, ct, ctlen, out, sizeof out, &outlen), 0);

    /* A ring holding only the old key no longer opens anything. */
    keyring_t *stale = keyring_new();
    keyring_add(stale, old);
    assert_int_equal(crypto_open(stale, NULL, 0, ct, ctlen, out, sizeof out, &outlen), ERR_CRYPTO);
    keyring_destroy(&stale);
    keyring_destroy(&a);
    keyring_destroy(&b);
}

static void test_b64(void **state)
{
    uint8_t key[CRYPTO_KEY_LEN], back[CRYPTO_KEY_LEN];
    char b64[CRYPTO_KEY_B64_LEN + 1];
    crypto_random(key, sizeof key);
    crypto_key_to_b64(key, b64);
    assert_int_equal(strlen(b64), CRYPTO_KEY_B64_LEN);
    assert_int_equal(b64[CRYPTO_KEY_B64_LEN - 1], '=');
    assert_int_equal(crypto_key_from_b64(b64, back), 0);
    assert_memory_equal(key, back, sizeof key);
    assert_int_equal(crypto_key_from_b64("", back), ERR_INVAL);
    assert_int_equal(crypto_key_from_b64("AAAA", back), ERR_INVAL);
    b64[5] = '*';
    assert_int_equal(crypto_key_from_b64(b64, back), ERR_INVAL);
    /* 33 bytes of base64 is not a key */
    assert_int_equal(crypto_key_from_b64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", back),
                     ERR_INVAL);
}

static void test_keyring_load_file(void **state)
{
    uint8_t k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN], got[CRYPTO_KEY_LEN];
    char b1[CRYPTO_KEY_B64_LEN + 1], b2[CRYPTO_KEY_B64_LEN + 1], text[512], path[300], err[256];
    crypto_random(k1, sizeof k1);
    crypto_random(k2, sizeof k2);
    crypto_key_to_b64(k1, b1);
    crypto_key_to_b64(k2, b2);
    snprintf(path, sizeof path, "%s/keys", tmpdir);
    snprintf(text, sizeof text, "# cluster keys\n\n  %s  \n# old\n%s\r\n", b2, b1);
    write_text(path, text, 0600);

    keyring_t *kr = keyring_new();
    keyring_add(kr, k1); /* already present: file order still decides primary */
    assert_int_equal(keyring_load_file(kr, path, err, sizeof err), 0);
    assert_int_equal(keyring_count(kr), 2);
    assert_int_equal(keyring_get(kr, 0, got), 0);
    assert_memory_equal(got, k2, sizeof got);
    keyring_destroy(&kr);

    snprintf(text, sizeof text, "%s\n\nnot-a-key\n", b1);
    write_text(path, text, 0600);
    kr = keyring_new();
    assert_int_equal(keyring_load_file(kr, path, err, sizeof err), ERR_CONFIG);
    char want[320];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_non_null(strstr(err, want));
    assert_int_equal(keyring_count(kr), 0); /* a bad file changes nothing */

    write_text(path, "# only comments\n", 0600);
    assert_int_equal(keyring_load_file(kr, path, err, sizeof err), ERR_CONFIG);
    snprintf(path, sizeof path, "%s/missing", tmpdir);
    assert_int_equal(keyring_load_file(kr, path, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "missing"));
    keyring_destroy(&kr);
}

static void test_identity(void **state)
{
    char dir[300], path[320], err[256];
    node_identity_t a, b;
    struct stat st;

    snprintf(dir, sizeof dir, "%s/data/sub", tmpdir); /* parents created too */
    assert_int_equal(identity_load_or_create(dir, &a, err, sizeof err), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/node.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/node.id", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 33); /* 32 hex + newline */

    assert_int_equal(identity_load_or_create(dir, &b, err, sizeof err), 0);
    assert_memory_equal(&a, &b, sizeof a);

    /* the id derives from the key, and from no other key */
    uint8_t want[CRYPTO_ID_LEN];
    crypto_id_from_pk(a.pk, want);
    assert_memory_equal(a.id, want, CRYPTO_ID_LEN);
    assert_int_equal(crypto_id_check(a.id, a.pk), 0);
    node_identity_t other;
    crypto_sign_ed25519_keypair(other.pk, other.sk);
    assert_int_equal(crypto_id_check(a.id, other.pk), ERR_CRYPTO);
    want[0] ^= 1;
    assert_int_equal(crypto_id_check(want, a.pk), ERR_CRYPTO);

    /* a data dir of an older petri: a random id is moved aside, replaced */
    char old_hex[] = "00112233445566778899aabbccddeeff\n", text[64] = "";
    write_text(path, old_hex, 0644);
    assert_int_equal(identity_load_or_create(dir, &b, err, sizeof err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    char hex[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(a.id, CRYPTO_ID_LEN, hex);
    assert_int_equal(strncmp(text, hex, 2 * CRYPTO_ID_LEN), 0);
    snprintf(path, sizeof path, "%s/node.id.old", dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    assert_string_equal(text, old_hex);

    /* signatures */
    uint8_t sig[CRYPTO_SIG_LEN];
    const char msg[] = "lineage record";
    crypto_sign(&a, msg, sizeof msg, sig);
    assert_int_equal(crypto_verify(a.pk, msg, sizeof msg, sig), 0);
    sig[10] ^= 1;
    assert_int_equal(crypto_verify(a.pk, msg, sizeof msg, sig), ERR_CRYPTO);
    sig[10] ^= 1;
    assert_int_equal(crypto_verify(a.pk, msg, sizeof msg - 1, sig), ERR_CRYPTO);

    /* a group-readable key is refused with a clear message */
    snprintf(path, sizeof path, "%s/node.key", dir);
    chmod(path, 0640);
    assert_int_equal(identity_load_or_create(dir, &b, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "node.key"));
    assert_non_null(strstr(err, "chmod 600"));
    chmod(path, 0600);

    /* a damaged key file */
    write_text(path, "garbage\n", 0600);
    assert_int_equal(identity_load_or_create(dir, &b, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "node.key"));

    /* a damaged id file (with a sound key: the key is read first) */
    unlink(path);
    snprintf(path, sizeof path, "%s/node.id", dir);
    write_text(path, "xyz\n", 0644);
    assert_int_equal(identity_load_or_create(dir, &b, err, sizeof err), ERR_CONFIG);
    assert_non_null(strstr(err, "node.id"));

    /* a data dir that is a file */
    snprintf(path, sizeof path, "%s/afile", tmpdir);
    write_text(path, "x", 0600);
    assert_true(identity_load_or_create(path, &b, err, sizeof err) < 0);
    identity_wipe(&a);
    uint8_t zero[sizeof a] = {0};
    assert_memory_equal(&a, zero, sizeof a);
}

static void test_hash_and_hex(void **state)
{
    uint8_t h[CRYPTO_HASH_LEN], back[CRYPTO_HASH_LEN];
    char hex[2 * CRYPTO_HASH_LEN + 1];
    crypto_hash("", 0, h);
    crypto_hex(h, sizeof h, hex);
    assert_string_equal(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    assert_int_equal(crypto_unhex(hex, back, sizeof back), 0);
    assert_memory_equal(h, back, sizeof h);
    assert_int_equal(crypto_unhex("0E57", back, 2), 0);
    assert_int_equal(back[0], 0x0e);
    assert_int_equal(back[1], 0x57);
    assert_int_equal(crypto_unhex("0e5", back, 2), ERR_INVAL);
    assert_int_equal(crypto_unhex("0e575", back, 2), ERR_INVAL);
    assert_int_equal(crypto_unhex("0g57", back, 2), ERR_INVAL);
    crypto_hash("abc", 3, back);
    assert_memory_not_equal(h, back, sizeof h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_wrong_key_and_tampering),
        cmocka_unit_test(test_keyring_ops),
        cmocka_unit_test(test_open_with_non_primary_and_rotation),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_keyring_load_file),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_hash_and_hex),
    };
    return cmocka_run_group_tests_name("crypto", tests, setup, teardown);
}
