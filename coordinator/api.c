/* api.c - the coordinator's HTTP/JSON resources under /v1/ (runs on the loop
 * thread; http.c did auth and size checks before we see a request). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_mut.h"
#include "cluster.h"
#include "coord.h"
#include "err.h"
#include "log.h"
#include "store_export.h"

#define LINEAGE_MAX_DEPTH 64
#define LINEAGE_MAX_NODES 2000

static json_t *hash_json(const uint8_t h[CRYPTO_HASH_LEN])
{
    char hex[2 * CRYPTO_HASH_LEN + 1];
    crypto_hex(h, CRYPTO_HASH_LEN, hex);
    return json_string(hex);
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *rec_json(const lineage_rec_t *r)
{
    char agent[2 * CRYPTO_ID_LEN + 1];
    crypto_hex(r->agent_id, CRYPTO_ID_LEN, agent);
    json_t *parents = json_array();
    for (int k = 0; k < r->nparents; k++)
        json_array_append_new(parents, hash_json(r->parents[k]));
    json_t *o =
        json_pack("{s:I, s:s, s:i, s:I, s:o, s:o, s:s, s:I, s:s, s:o, s:s, s:I, s:i}", "seq",
                  (json_int_t)r->seq, "population", r->population, "deme", (int)r->deme, "dseq",
                  (json_int_t)r->dseq, "child", hash_json(r->child_hash), "parents", parents,
                  "operator", r->op, "seed", (json_int_t)r->seed, "status",
                  wire_status_str(r->status), "fitness", num_or_null(r->fitness), "agent", agent,
                  "time_ms", (json_int_t)r->time_ms, "record_version", (int)r->version);
    /* the per-case summary: version 2 and later records only (null in
     * older ones) */
    int v2 = r->version >= 2;
    static const uint8_t zero[CRYPTO_HASH_LEN];
    json_object_set_new(o, "passed", v2 ? json_integer(r->passed) : json_null());
    json_object_set_new(o, "cases", v2 ? json_integer(r->cases) : json_null());
    json_object_set_new(o, "cost", v2 ? num_or_null(r->cost) : json_null());
    json_object_set_new(o, "reused", v2 ? json_boolean(r->reused) : json_null());
    json_object_set_new(o, "errors_hash",
                        v2 && memcmp(r->errors_hash, zero, CRYPTO_HASH_LEN) != 0
                            ? hash_json(r->errors_hash)
                            : json_null());
    /* the origin of an external mutator's child (op "external" only) */
    if (r->mutator[0]) {
        json_object_set_new(o, "mutator", json_string(r->mutator));
        json_object_set_new(o, "input_hash", hash_json(r->input_hash));
    }
    /* the breeder of the VM that bred the child: version 4 only (null in
     * older records, and when no VM bred it) */
    json_object_set_new(o, "breeder", store_rec_breeder_json(r));
    if (r->version == 3) /* a live individual's event (store.h) */
        json_object_set_new(
            o, "live",
            json_pack(
                "{s:s, s:i, s:o, s:o, s:o, s:i, s:s}", "event", wire_live_event_str(r->live.kind),
                "version", (int)r->live.version, "state_before", hash_json(r->live.state_before),
                "state_after", hash_json(r->live.state_after), "parent_score",
                isfinite(r->live.parent_score) ? json_real(r->live.parent_score) : json_null(),
                "probation", (int)r->live.probation, "reason", r->live.reason));
    return o;
}

/* ---- populations ---- */

static void create_population(coord_t *c, const http_req_t *req, http_resp_t *resp)
{
    json_error_t je;
    json_t *spec = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!spec) {
        http_error(resp, 400, "body: invalid JSON at line %d column %d: %s", je.line, je.column,
                   je.text);
        return;
    }
    char err[512];
    pop_t *p = pop_new(spec, loop_now(c->loop), err, sizeof err);
    json_decref(spec);
    if (!p) {
        http_error(resp, 400, "%s", err);
        return;
    }
    int rc = coord_add_pop(c, p);
    if (rc == ERR_EXISTS) {
        http_error(resp, 409, "a population named %s exists already", p->name);
        pop_destroy(&p);
        return;
    }
    if (rc) {
        http_error(resp, 503, "cannot create the population: %s", err_str(rc));
        pop_destroy(&p);
        return;
    }
    http_json(resp, 201, pop_summary_json(p, loop_now(c->loop)));
}

static void submit_genome(coord_t *c, pop_t *p, const http_req_t *req, http_resp_t *resp)
{
    json_error_t je;
    json_t *body = json_loadb((const char *)req->body, req->body_len, 0, &je);
    json_t *src = body ? json_object_get(body, "source") : NULL;
    json_t *lang = body ? json_object_get(body, "language") : NULL;
    if (!body || !json_is_object(body)) {
        json_decref(body);
        http_error(resp, 400, "body: must be a JSON object {\"source\": \"...\"}");
        return;
    }
    if (api_is_external(body)) {
        api_submit_external(c, p, body, resp);
        json_decref(body);
        return;
    }
    int language = -1;
    if (lang &&
        (!json_is_string(lang) || (language = spec_language_parse(json_string_value(lang))) < 0)) {
        json_decref(body);
        http_error(resp, 400, "language: must be \"erlang\" or \"elixir\"");
        return;
    }
    if (!src || !json_is_string(src) || json_string_length(src) == 0) {
        json_decref(body);
        http_error(resp, 400, "source: missing or not a non-empty string");
        return;
    }
    if (p->state != POP_RUNNING) {
        json_decref(body);
        http_error(resp, 409, "population %s is %s", p->name, pop_state_str(p->state));
        return;
    }
    work_item_t it;
    const char *text = json_string_value(src);
    size_t tlen = json_string_length(src);
    uint32_t d = pop_submit_deme(p, text, tlen);
    int rc = pop_reserve(p, d) ? coord_save_pop(c, p) : 0;
    if (rc == 0)
        rc = pop_submit_item(p, d, text, tlen, language, &it);
    json_decref(body);
    if (rc) {
        http_error(resp, 503, "cannot queue the genome: %s", err_str(rc));
        return;
    }
    uint8_t h[CRYPTO_HASH_LEN];
    crypto_hash(it.src, it.src_len, h);
    json_t *o = json_pack("{s:o, s:s, s:i, s:I}", "hash", hash_json(h), "population", p->name,
                          "deme", (int)it.deme, "dseq", (json_int_t)it.dseq);
    coord_queue_item(c, &it);
    coord_dispatch(c);
    http_json(resp, 202, o);
}

static void populations(coord_t *c, const http_req_t *req, http_resp_t *resp, const char *rest)
{
    uint64_t now = loop_now(c->loop);
    if (!*rest) {
        if (!strcmp(req->method, "POST")) {
            create_population(c, req, resp);
            return;
        }
        if (strcmp(req->method, "GET") != 0) {
            http_error(resp, 405, "use GET or POST on /v1/populations");
            return;
        }
        json_t *arr = json_array();
        for (int i = 0; i < c->npops; i++)
            json_array_append_new(arr, pop_summary_json(c->pops[i], now));
        http_json(resp, 200, arr);
        return;
    }
    char name[POP_NAME_MAX + 1];
    const char *slash = strchr(rest, '/');
    size_t nl = slash ? (size_t)(slash - rest) : strlen(rest);
    if (nl == 0 || nl > POP_NAME_MAX - 1) {
        http_error(resp, 404, "no population named %.*s", (int)(nl > 64 ? 64 : nl), rest);
        return;
    }
    memcpy(name, rest, nl);
    name[nl] = '\0';
    pop_t *p = coord_find_pop(c, name);
    if (!p) {
        http_error(resp, 404, "no population named %s", name);
        return;
    }
    const char *sub = slash ? slash + 1 : "";
    if (!*sub && !strcmp(req->method, "GET")) {
        http_json(resp, 200, pop_detail_json(p, now));
    } else if (!strcmp(sub, "stop") && !strcmp(req->method, "POST")) {
        pop_stop(p, "stopped by the operator", now);
        work_forget_population(c->work, p->name);
        coord_commit(c);
        coord_save_pop(c, p);
        http_json(resp, 200, pop_summary_json(p, now));
    } else if (!strcmp(sub, "genomes") && !strcmp(req->method, "POST")) {
        submit_genome(c, p, req, resp);
    } else if (!strcmp(sub, "bundle") && !strcmp(req->method, "GET")) {
        api_bundle(c, p, req->query, resp);
    } else {
        http_error(resp, 404, "no resource %s %s", req->method, req->path);
    }
}

/* ---- query parameters ---- */

/* An integer query parameter in [min, max]: 1 and *out set when present and
 * valid, 0 when absent (*out untouched), -1 when malformed (400 written). */
static int query_long(const char *query, const char *key, long min, long max, long *out,
                      http_resp_t *resp)
{
    char v[32];
    int rc = http_query_get(query, key, v, sizeof v);
    if (rc == ERR_NOTFOUND)
        return 0;
    char *end = v;
    long x = rc >= 0 ? strtol(v, &end, 10) : 0;
    if (rc < 0 || *end || end == v || x < min || x > max) {
        http_error(resp, 400, "%s: must be an integer in [%ld, %ld]", key, min, max);
        return -1;
    }
    *out = x;
    return 1;
}

/* ---- genomes and lineage ---- */

static int parse_hash(const char *s, uint8_t h[CRYPTO_HASH_LEN])
{
    return strlen(s) == 2 * CRYPTO_HASH_LEN ? crypto_unhex(s, h, CRYPTO_HASH_LEN) : ERR_INVAL;
}

static void genome(coord_t *c, const char *hex, http_resp_t *resp)
{
    uint8_t h[CRYPTO_HASH_LEN];
    if (parse_hash(hex, h) != 0) {
        http_error(resp, 400, "hash: '%.80s' is not 64 hex characters", hex);
        return;
    }
    char *src = NULL;
    size_t len = 0;
    if (store_get_genome(c->store, h, &src, &len) != 0) {
        http_error(resp, 404, "no genome %s", hex);
        return;
    }
    uint64_t seqs[256];
    size_t n = 0;
    store_child_records(c->store, h, seqs, 256, &n);
    json_t *recs = json_array();
    for (size_t i = 0; i < n && i < 256; i++) {
        lineage_rec_t r;
        if (store_get(c->store, seqs[i], &r) == 0)
            json_array_append_new(recs, rec_json(&r));
    }
    http_json(resp, 200,
              json_pack("{s:s, s:s%, s:o}", "hash", hex, "source", src, len, "records", recs));
    free(src);
}

static json_t *ancestry(coord_t *c, const uint8_t h[CRYPTO_HASH_LEN], int depth, int *budget)
{
    lineage_rec_t r;
    json_t *o = json_pack("{s:o}", "hash", hash_json(h));
    if (store_find_child(c->store, h, &r) != 0) {
        json_object_set_new(o, "operator", json_string("unknown"));
        return o;
    }
    json_object_set_new(o, "operator", json_string(r.op));
    if (r.mutator[0])
        json_object_set_new(o, "mutator", json_string(r.mutator));
    json_object_set_new(o, "status", json_string(wire_status_str(r.status)));
    json_object_set_new(o, "fitness", num_or_null(r.fitness));
    int summary = store_rec_has_summary(&r);
    json_object_set_new(o, "passed", summary ? json_integer(r.passed) : json_null());
    json_object_set_new(o, "cases", summary ? json_integer(r.cases) : json_null());
    json_object_set_new(o, "seq", json_integer((json_int_t)r.seq));
    json_t *parents = json_array();
    for (int k = 0; k < r.nparents; k++) {
        if (depth > 0 && --*budget > 0)
            json_array_append_new(parents, ancestry(c, r.parents[k], depth - 1, budget));
        else
            json_array_append_new(
                parents, json_pack("{s:o, s:b}", "hash", hash_json(r.parents[k]), "truncated", 1));
    }
    json_object_set_new(o, "parents", parents);
    return o;
}

static void lineage_show(coord_t *c, const char *hex, const char *query, http_resp_t *resp)
{
    uint8_t h[CRYPTO_HASH_LEN];
    if (parse_hash(hex, h) != 0) {
        http_error(resp, 400, "hash: '%.80s' is not 64 hex characters", hex);
        return;
    }
    long depth = 8;
    if (query_long(query, "depth", 0, LINEAGE_MAX_DEPTH, &depth, resp) < 0)
        return;
    lineage_rec_t r;
    if (store_find_child(c->store, h, &r) != 0) {
        http_error(resp, 404, "no record of genome %s", hex);
        return;
    }
    int budget = LINEAGE_MAX_NODES;
    http_json(resp, 200, ancestry(c, h, (int)depth, &budget));
}

static void lineage_verify(coord_t *c, const char *query, http_resp_t *resp)
{
    long replay = 0;
    if (query_long(query, "replay", 0, 100000, &replay, resp) < 0)
        return;
    if (c->vjob) {
        http_error(resp, 503, "a lineage verification is already running");
        return;
    }
    coord_commit(c); /* verify what has been accepted so far, once durable */
    coord_commit_drain(c);
    uint64_t ticket = http_defer(c->http, 600000);
    if (!ticket) {
        http_error(resp, 500, "cannot defer the reply");
        return;
    }
    int rc = vjob_start(c, replay, ticket);
    if (rc) {
        http_resp_t r = {0};
        http_error(&r, 500, "cannot start the verification: %s", err_str(rc));
        http_reply(c->http, ticket, &r);
    }
}

static void lineage_export(coord_t *c, const char *query, http_resp_t *resp)
{
    char fmt[16] = "json";
    int frc = http_query_get(query, "format", fmt, sizeof fmt);
    if ((frc < 0 && frc != ERR_NOTFOUND) || (strcmp(fmt, "json") && strcmp(fmt, "dot"))) {
        http_error(resp, 400, "format: must be json or dot");
        return;
    }
    if (c->xjob) {
        http_error(resp, 503, "a lineage export is already running");
        return;
    }
    coord_commit(c); /* what was accepted so far, once durable, is in it */
    coord_commit_drain(c);
    uint64_t ticket = http_defer(c->http, 3600000);
    if (!ticket) {
        http_error(resp, 500, "cannot defer the reply");
        return;
    }
    int rc = xjob_start(c, !strcmp(fmt, "dot"), ticket);
    if (rc) {
        http_resp_t r = {0};
        http_error(&r, rc == ERR_STATE ? 503 : 500, "cannot start the export: %s", err_str(rc));
        http_reply(c->http, ticket, &r);
    }
}

static void status(coord_t *c, http_resp_t *resp)
{
    uint64_t head = 0;
    store_head(c->store, &head, NULL);
    const work_stats_t *ws = work_stats(c->work);
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "name", c->name,
        "version", PETRI_VERSION, "records", (json_int_t)head, "verifying", c->vjob != NULL,
        "inflight", (json_int_t)work_inflight(c->work), "reissued", (json_int_t)c->reissued,
        "discarded_late", (json_int_t)c->discarded_late, "queued", (json_int_t)c->nreissue, "work",
        "results", (json_int_t)ws->results, "dropped_unsealed", (json_int_t)ws->dropped_unsealed,
        "dropped_malformed", (json_int_t)ws->dropped_malformed, "dropped_bad_sig",
        (json_int_t)ws->dropped_bad_sig, "dropped_unknown_item",
        (json_int_t)ws->dropped_unknown_item);
    if (o)
        json_object_set_new(o, "lineage",
                            json_pack("{s:s, s:b, s:I, s:I, s:I}", "key", c->fingerprint, "pinned",
                                      c->pinned, "checkpoint_seq", (json_int_t)c->ckpt_seq,
                                      "checkpoints_checked", (json_int_t)c->ckpts_checked,
                                      "restore_dropped", (json_int_t)c->restore_dropped));
    http_json(resp, 200, o);
}

static void drain(coord_t *c, const char *rest, http_resp_t *resp)
{
    char name[160];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!slash || strcmp(slash, "/drain") != 0 || n == 0 || n >= sizeof name) {
        http_error(resp, 404, "no such resource; use POST /v1/agents/NAME/drain");
        return;
    }
    memcpy(name, rest, n);
    name[n] = '\0';
    json_t *out = NULL;
    if (agent_drain(c, name, &out) != 0) {
        http_error(resp, 404, "no agent named %s", name);
        return;
    }
    http_json(resp, 202, out);
}

void api_handle(void *arg, const http_req_t *req, http_resp_t *resp)
{
    coord_t *c = arg;
    const char *path = req->path;
    int get = !strcmp(req->method, "GET");
    if (!strcmp(req->method, "HEAD"))
        get = 1; /* answered as GET; the server drops the body */
    if (!strcmp(path, "/healthz") || !strcmp(path, "/v1/health")) {
        http_json(resp, 200, json_pack("{s:b}", "ok", 1));
    } else if (!strcmp(path, "/metrics") && get) {
        coord_metrics(c, resp);
    } else if ((!strcmp(path, "/ui") || !strcmp(path, "/ui/")) && get) {
        ui_page(resp);
    } else if (!strcmp(path, "/v1/members") && get) {
        http_json(resp, 200, cluster_members_json(c->gossip));
    } else if (!strcmp(path, "/v1/status") && get) {
        status(c, resp);
    } else if (!strcmp(path, "/v1/scale") && get) {
        http_json(resp, 200, scale_status_json(c));
    } else if (!strcmp(path, "/v1/agents") && get) {
        http_json(resp, 200, agents_json(c));
    } else if (!strncmp(path, "/v1/agents/", 11) && !strcmp(req->method, "POST")) {
        drain(c, path + 11, resp);
    } else if (!strncmp(path, "/v1/populations", 15) && (path[15] == '\0' || path[15] == '/')) {
        populations(c, req, resp, path[15] ? path + 16 : "");
    } else if (!strncmp(path, "/v1/live", 8) && (path[8] == '\0' || path[8] == '/')) {
        live_api(c, get ? "GET" : req->method, path + 8, req->body, req->body_len, resp);
    } else if (!strncmp(path, "/v1/genomes/", 12) && get) {
        genome(c, path + 12, resp);
    } else if (!strcmp(path, "/v1/lineage/verify") && !strcmp(req->method, "POST")) {
        lineage_verify(c, req->query, resp);
    } else if (!strcmp(path, "/v1/lineage/export") && get) {
        lineage_export(c, req->query, resp);
    } else if (!strncmp(path, "/v1/lineage/", 12) && get) {
        lineage_show(c, path + 12, req->query, resp);
    } else {
        http_error(resp, 404, "no resource %s %s", req->method, path);
    }
}
