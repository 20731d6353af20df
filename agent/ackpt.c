/* ackpt.c - the agent's kept lineage checkpoint (ackpt.h). */
#include "ackpt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "util.h"

struct ackpt {
    char path[PATH_MAX];
    int have;
    ckpt_t ck;
    char b64[CKPT_B64_MAX];
};

ackpt_t *ackpt_new(const char *data_dir)
{
    ackpt_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    snprintf(k->path, sizeof k->path, "%s/lineage.ckpt", data_dir);
    char *text = NULL;
    size_t len = 0;
    int rc = util_read_file(k->path, 4096, &text, &len);
    if (rc == 0) {
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
            text[--len] = '\0';
        ckpt_t ck;
        rc = ckpt_from_b64(text, &ck);
        if (rc == 0)
            rc = ckpt_verify(&ck);
        if (rc == 0) {
            k->ck = ck;
            k->have = 1;
            ckpt_to_b64(&ck, k->b64);
            log_info("agent.ckpt_loaded", "path=%s seq=%llu", k->path, (unsigned long long)ck.seq);
        } else {
            log_warn("agent.ckpt_ignored", "path=%s why=\"%s\"", k->path, err_str(rc));
        }
        free(text);
    }
    return k;
}

void ackpt_destroy(ackpt_t **k)
{
    if (!k || !*k)
        return;
    free(*k);
    *k = NULL;
}

int ackpt_offer(ackpt_t *k, const char *b64)
{
    ckpt_t ck;
    int rc = ckpt_from_b64(b64, &ck);
    if (rc == 0)
        rc = ckpt_verify(&ck);
    if (rc)
        return rc;
    if (k->have && memcmp(ck.pk, k->ck.pk, CRYPTO_PK_LEN) != 0) {
        log_warn("agent.ckpt_other_key",
                 "kept_seq=%llu offered_seq=%llu msg=\"the coordinator signs with another key "
                 "than the kept checkpoint's; keeping it (remove %s to accept the new key)\"",
                 (unsigned long long)k->ck.seq, (unsigned long long)ck.seq, k->path);
        return 0;
    }
    if (k->have && ck.seq <= k->ck.seq)
        return 0;
    char text[CKPT_B64_MAX + 1];
    ckpt_to_b64(&ck, text);
    size_t n = strlen(text);
    text[n++] = '\n';
    rc = util_write_file_atomic(k->path, text, n, 0600, 0);
    if (rc) {
        log_error("agent.ckpt_save_failed", "path=%s why=\"%s\"", k->path, err_str(rc));
        return rc;
    }
    k->ck = ck;
    k->have = 1;
    ckpt_to_b64(&ck, k->b64);
    log_debug("agent.ckpt", "seq=%llu", (unsigned long long)ck.seq);
    return 1;
}

const char *ackpt_b64(const ackpt_t *k)
{
    return k->have ? k->b64 : "";
}
