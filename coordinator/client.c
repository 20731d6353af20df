/* client.c - blocking libcurl client of the coordinator API (client.h):
 * builds the request, collects the body under a cap, turns transport
 * failures into one-line messages and parses JSON. */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "err.h"
#include "loop.h"

#ifndef PETRI_VERSION
#define PETRI_VERSION "dev"
#endif

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void client_base_url(const char *addr, char *out, size_t cap)
{
    if (!addr || !*addr)
        addr = CLIENT_DEFAULT_ADDR;
    if (strstr(addr, "://"))
        snprintf(out, cap, "%s", addr);
    else
        snprintf(out, cap, "http://%s", addr);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

struct buf {
    char *p;
    size_t len, cap, max;
    int too_big;
};

static size_t on_write(char *data, size_t sz, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t len = sz * n;
    if (len > b->max - b->len) {
        b->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (b->len + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + len + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

struct prog {
    const client_opts_t *o;
    uint64_t start_ms;
    int aborted;
};

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct prog *p = arg;
    if (p->o->progress &&
        p->o->progress(p->o->progress_arg, (double)(mono_ms() - p->start_ms) / 1000.0)) {
        p->aborted = 1;
        return 1;
    }
    return 0;
}

static void lower_first(char *s)
{
    if (s[0] && isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]))
        s[0] = (char)tolower((unsigned char)s[0]);
}

/* Fills err with the API's error message of a failed request. */
static void api_error(long status, const char *body, size_t len, char *err, size_t errlen)
{
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "error"));
    if (m)
        snprintf(err, errlen, "%s", m);
    else
        snprintf(err, errlen, "HTTP %ld", status);
    json_decref(j);
}

/* Performs the request; on 0 *b holds the body. */
static int perform(const client_opts_t *o, const char *method, const char *path, const char *body,
                   size_t len, long *http_status, struct buf *b, char *err, size_t errlen)
{
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_rc));
        return -EIO;
    }
    char base[512], url[2048];
    client_base_url(o->addr, base, sizeof base);
    if ((size_t)snprintf(url, sizeof url, "%s%s", base, path) >= sizeof url) {
        snprintf(err, errlen, "request URL too long");
        return ERR_INVAL;
    }
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -EIO;
    }
    struct curl_slist *hdr = NULL;
    char auth[1024];
    if (o->token && *o->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->token);
        hdr = curl_slist_append(hdr, auth);
    }
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (body)
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    long timeout = o->timeout_ms > 0 ? o->timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
    struct prog pg = {.o = o, .start_ms = mono_ms()};
    char cerr[CURL_ERROR_SIZE] = "";

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "petri/" PETRI_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &pg);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    }

    CURLcode rc = curl_easy_perform(e);
    long status = 0, oserr = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(e);
    if (http_status)
        *http_status = status;

    int ret = 0;
    char why[256];
    switch (rc) {
    case CURLE_OK:
        break;
    case CURLE_COULDNT_CONNECT:
        snprintf(why, sizeof why, "%s", oserr ? strerror((int)oserr) : "connection failed");
        lower_first(why);
        snprintf(err, errlen, "cannot reach the coordinator at %s: %s", base, why);
        ret = oserr ? -(int)oserr : -ECONNREFUSED;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen, "cannot reach the coordinator at %s: cannot resolve the host name",
                 base);
        ret = -EHOSTUNREACH;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (status == 0 && mono_ms() - pg.start_ms < (uint64_t)timeout)
            snprintf(err, errlen, "cannot reach the coordinator at %s: connection timed out", base);
        else
            snprintf(err, errlen, "the coordinator at %s did not answer within %.0f s", base,
                     (double)timeout / 1000.0);
        ret = ERR_TIMEOUT;
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(err, errlen, "interrupted");
        ret = -ECANCELED;
        break;
    case CURLE_WRITE_ERROR:
        if (b->too_big) {
            snprintf(err, errlen, "the coordinator's answer is larger than %zu MB", b->max >> 20);
            ret = ERR_TOOBIG;
            break;
        }
        /* fall through */
    default:
        snprintf(err, errlen, "request to the coordinator at %s failed: %s", base,
                 cerr[0] ? cerr : curl_easy_strerror(rc));
        ret = -EIO;
        break;
    }
    return ret;
}

int client_call(const client_opts_t *o, const char *method, const char *path, const char *body,
                size_t len, long *http_status, json_t **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    long status = 0;
    struct buf b = {.max = CLIENT_MAX_JSON};
    int rc = perform(o, method, path, body, len, &status, &b, err, errlen);
    if (http_status)
        *http_status = status;
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    json_t *j = NULL;
    if (b.len > 0) {
        json_error_t je;
        j = json_loadb(b.p, b.len, JSON_DECODE_ANY, &je);
        if (!j) {
            char base[512];
            client_base_url(o->addr, base, sizeof base);
            snprintf(err, errlen,
                     "the coordinator at %s answered HTTP %ld with a body that is not JSON "
                     "(line %d: %s)",
                     base, status, je.line, je.text);
            free(b.p);
            return ERR_PROTO;
        }
    }
    if (status >= 400) {
        const char *m = json_string_value(json_object_get(j, "error"));
        if (m)
            snprintf(err, errlen, "%s", m);
        else
            snprintf(err, errlen, "HTTP %ld", status);
    }
    free(b.p);
    if (out)
        *out = j;
    else
        json_decref(j);
    return 0;
}

int client_call_raw(const client_opts_t *o, const char *method, const char *path, const char *body,
                    size_t len, long *http_status, char **out, size_t *out_len, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    long status = 0;
    struct buf b = {.max = CLIENT_MAX_RAW};
    int rc = perform(o, method, path, body, len, &status, &b, err, errlen);
    if (http_status)
        *http_status = status;
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    if (!b.p) {
        b.p = calloc(1, 1);
        if (!b.p) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    if (status >= 400)
        api_error(status, b.p, b.len, err, errlen);
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return 0;
}
