/* live_api.c - the HTTP resources of live populations (live_pop.h):
 *   POST /v1/live                                  create and start
 *   GET  /v1/live                                  list
 *   GET  /v1/live/NAME                             individuals, versions, fitness
 *   POST /v1/live/NAME/stop
 *   POST /v1/live/NAME/individuals/I/pin           {"version": V} (optional)
 *   POST /v1/live/NAME/individuals/I/unpin
 *   POST /v1/live/NAME/individuals/I/upgrade       {"source", "mutator", "input_hash"}
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api_mut.h"
#include "coord.h"
#include "err.h"
#include "live_pop.h"
#include "store.h"

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *hex(const uint8_t *h, size_t n)
{
    char s[2 * CRYPTO_HASH_LEN + 1];
    crypto_hex(h, n, s);
    return json_string(s);
}

static json_t *version_json(const live_version_t *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", v->version ? json_integer(v->version) : json_null());
    json_object_set_new(o, "upgrade_id", json_integer((json_int_t)v->upgrade_id));
    json_object_set_new(o, "hash", v->has_hash ? hex(v->hash, CRYPTO_HASH_LEN) : json_null());
    json_object_set_new(o, "parent", v->parent ? json_integer(v->parent) : json_null());
    json_object_set_new(o, "op", json_string(v->op));
    json_object_set_new(o, "mutator", json_string(v->mutator));
    json_object_set_new(o, "outcome", json_string(live_outcome_str(v->outcome)));
    json_object_set_new(o, "reason", json_string(v->reason));
    json_object_set_new(o, "at_ms", json_integer((json_int_t)v->at_ms));
    json_object_set_new(o, "parent_score", num(v->parent_score));
    json_object_set_new(o, "child_score", num(v->child_score));
    return o;
}

static json_t *ind_json(coord_t *c, const live_pop_t *p, int i)
{
    const live_ind_t *d = &p->ind[i];
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(i));
    json_object_set_new(o, "agent", d->placed ? json_string(d->agent_name) : json_null());
    json_object_set_new(o, "state", json_string(live_state_str(d->state)));
    json_object_set_new(o, "version", json_integer(d->run_version ? d->run_version : d->version));
    json_object_set_new(o, "promoted_version", json_integer(d->version));
    json_object_set_new(o, "pinned", d->pinned ? json_integer(d->pinned) : json_null());
    json_object_set_new(o, "fitness", num(d->fitness));
    json_object_set_new(o, "requests", json_integer((json_int_t)d->requests));
    json_object_set_new(o, "correct", json_integer((json_int_t)d->correct));
    json_object_set_new(o, "wrong", json_integer((json_int_t)d->wrong));
    json_object_set_new(o, "failed", json_integer((json_int_t)d->failed));
    json_object_set_new(o, "lost", json_integer((json_int_t)d->lost));
    json_object_set_new(o, "twice", json_integer((json_int_t)d->twice));
    json_object_set_new(o, "latency_p50_us", json_integer((json_int_t)d->p50_us));
    json_object_set_new(o, "latency_p99_us", json_integer((json_int_t)d->p99_us));
    json_object_set_new(o, "on_probation", json_boolean(d->on_probation));
    json_object_set_new(o, "upgrade_in_flight",
                        d->inflight ? json_integer((json_int_t)d->inflight) : json_null());
    json_object_set_new(o, "incarnation", json_integer((json_int_t)d->incarnation));
    json_object_set_new(o, "reason", json_string(d->reason));
    json_t *vs = json_array();
    for (int k = d->nversions - 1; k >= 0; k--) {
        const live_version_t *v =
            &d->versions[(d->vpos - 1 - k + 2 * LIVE_VERSIONS_KEPT) % LIVE_VERSIONS_KEPT];
        json_t *vj = version_json(v);
        uint64_t seq = 0;
        if (c && v->outcome != LO_PENDING && v->outcome != LO_PROBATION &&
            store_has_key(c->store, p->name, (uint32_t)i, v->upgrade_id, &seq) == 0)
            json_object_set_new(vj, "seq", json_integer((json_int_t)seq));
        else
            json_object_set_new(vj, "seq", json_null());
        json_array_append_new(vs, vj);
    }
    json_object_set_new(o, "versions", vs);
    json_t *series = json_array();
    for (int k = d->nseries - 1; k >= 0; k--) {
        const live_point_t *pt = &d->series[(d->spos - 1 - k + 2 * LIVE_SERIES) % LIVE_SERIES];
        json_array_append_new(series, json_pack("[I, o, i]", (json_int_t)pt->t_ms, num(pt->fitness),
                                                (int)pt->version));
    }
    json_object_set_new(o, "fitness_series", series);
    return o;
}

static json_t *pop_json(coord_t *c, const live_pop_t *p, int detail)
{
    double best = NAN;
    for (int i = 0; i < p->n; i++)
        if (isfinite(p->ind[i].fitness) && (!isfinite(best) || p->ind[i].fitness > best))
            best = p->ind[i].fitness;
    json_t *o =
        json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o}", "name", p->name, "state",
                  p->running ? "running" : "stopped", "individuals", p->n, "upgrade_every_ms",
                  (json_int_t)p->upgrade_every_ms, "upgrades", (json_int_t)p->upgrades, "promoted",
                  (json_int_t)p->promoted, "rolled_back", (json_int_t)p->rolled_back, "refused",
                  (json_int_t)p->refused, "best_fitness", num(best));
    if (detail) {
        json_t *a = json_array();
        for (int i = 0; i < p->n; i++)
            json_array_append_new(a, ind_json(c, p, i));
        json_object_set_new(o, "individuals", a);
        json_object_set_new(o, "max_upgrades", json_integer((json_int_t)p->max_upgrades));
        json_object_set_new(o, "mutator_failures", json_integer((json_int_t)p->mutator_failures));
    }
    return o;
}

json_t *live_pop_json(const live_pop_t *p, int detail)
{
    return pop_json(NULL, p, detail);
}

static json_t *load_body(const uint8_t *body, size_t len, http_resp_t *resp)
{
    if (!len)
        return json_object();
    json_error_t je;
    json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        http_error(resp, 400, "body: invalid JSON at line %d column %d: %s", je.line, je.column,
                   je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        http_error(resp, 400, "body: must be a JSON object");
        return NULL;
    }
    return o;
}

static void create(coord_t *c, const uint8_t *body, size_t len, http_resp_t *resp)
{
    json_t *cfg = load_body(body, len, resp);
    if (!cfg)
        return;
    char err[600];
    live_pop_t *p = live_pop_new(cfg, err, sizeof err);
    json_decref(cfg);
    if (!p) {
        http_error(resp, 400, "%s", err);
        return;
    }
    int rc = live_add(c, p);
    if (rc == ERR_EXISTS) {
        http_error(resp, 409, "a live or regular population named %s exists already", p->name);
    } else if (rc == ERR_LIMIT) {
        http_error(resp, 409, "at most %d live populations", LIVE_MAX_POPS);
    } else if (rc) {
        http_error(resp, 503, "cannot create the live population: %s", err_str(rc));
    } else {
        http_json(resp, 201, json_pack("{s:s, s:i}", "name", p->name, "individuals", p->n));
        return;
    }
    live_pop_destroy(&p);
}

static int parse_index(const char *s, const live_pop_t *p, int *out, const char **rest)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v >= p->n)
        return -1;
    *out = (int)v;
    *rest = end;
    return 0;
}

static void individual(coord_t *c, live_pop_t *p, const char *method, const char *s,
                       const uint8_t *body, size_t len, http_resp_t *resp)
{
    int i;
    const char *action;
    if (parse_index(s, p, &i, &action) != 0) {
        http_error(resp, 404, "%s has no individual %s (it has %d, from 0)", p->name, s, p->n);
        return;
    }
    if (!strcmp(action, "") && !strcmp(method, "GET")) {
        http_json(resp, 200, ind_json(c, p, i));
        return;
    }
    if (strcmp(method, "POST") != 0) {
        http_error(resp, 405, "%s on an individual: use GET, or POST to /pin, /unpin, /upgrade",
                   method);
        return;
    }
    json_t *b = load_body(body, len, resp);
    if (!b)
        return;
    char err[300] = "";
    int rc = 0;
    if (!strcmp(action, "/pin")) {
        json_t *v = json_object_get(b, "version");
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
                  json_integer_value(v) > UINT32_MAX)) {
            http_error(resp, 400, "version: must be a version number >= 1");
        } else if ((rc = live_pin(c, p, i, v ? (uint32_t)json_integer_value(v) : 0, err,
                                  sizeof err)) == 0) {
            http_json(resp, 200, json_pack("{s:i, s:i}", "index", i, "pinned", p->ind[i].pinned));
        }
    } else if (!strcmp(action, "/unpin")) {
        live_unpin(p, i);
        http_json(resp, 200, json_pack("{s:i, s:n}", "index", i, "pinned"));
    } else if (!strcmp(action, "/upgrade")) {
        json_t *src = json_object_get(b, "source");
        json_t *mut = json_object_get(b, "mutator");
        json_t *ih = json_object_get(b, "input_hash");
        json_t *failure = json_object_get(b, "failure");
        uint8_t input_hash[CRYPTO_HASH_LEN] = {0};
        uint64_t uid = 0;
        if (ih && (!json_is_string(ih) || json_string_length(ih) != 2 * CRYPTO_HASH_LEN ||
                   crypto_unhex(json_string_value(ih), input_hash, CRYPTO_HASH_LEN) != 0)) {
            http_error(resp, 400, "input_hash: must be 64 hex digits (the bundle's bundle_hash)");
        } else if (failure) {
            /* the mutator gave no module (empty, too big, late): nothing to load */
            p->mutator_failures++;
            http_json(resp, 202,
                      json_pack("{s:n, s:n, s:s}", "upgrade_id", "hash", "failure",
                                json_is_string(failure) ? json_string_value(failure) : "failure"));
        } else if (!json_is_string(src) || json_string_length(src) == 0) {
            http_error(resp, 400, "source: missing or not a non-empty string");
        } else if (json_string_length(src) > LIVE_POP_MAX_GENOME) {
            http_error(resp, 413, "source: %zu bytes, over %u", json_string_length(src),
                       LIVE_POP_MAX_GENOME);
        } else if (mut && (!json_is_string(mut) || !store_mutator_valid(json_string_value(mut)))) {
            http_error(resp, 400, "mutator: must be 1..%d characters of [a-z0-9_.-]",
                       STORE_MUTATOR_MAX);
        } else if ((rc = live_upgrade_external(
                        c, p, i, json_string_value(src), json_string_length(src),
                        mut ? json_string_value(mut) : "operator", ih ? input_hash : NULL, err,
                        sizeof err, &uid)) == 0) {
            uint8_t h[CRYPTO_HASH_LEN];
            crypto_hash(json_string_value(src), json_string_length(src), h);
            http_json(resp, 202,
                      json_pack("{s:I, s:o, s:i}", "upgrade_id", (json_int_t)uid, "hash",
                                hex(h, CRYPTO_HASH_LEN), "individual", i));
        }
    } else {
        http_error(resp, 404, "no action %s on an individual (pin, unpin, upgrade)", action);
    }
    json_decref(b);
    if (rc == ERR_NOTFOUND)
        http_error(resp, 404, "%s", err);
    else if (rc == ERR_STATE)
        http_error(resp, 409, "%s", err);
    else if (rc)
        http_error(resp, 503, "%s", err[0] ? err : err_str(rc));
}

/* GET /v1/live/NAME/bundle: a prompt bundle for an external mutator, of
 * one idle individual (running, not pinned, no upgrade in flight; round
 * robin): its running source and live fitness, its last upgrades with their
 * outcomes, the live section and a sample of the trace. 409 when none is
 * idle. Hashed like a population's bundle (api_mut.h). */
#define LIVE_BUNDLE_TRACE_LINES 24
#define LIVE_BUNDLE_HISTORY 8
static void bundle(coord_t *c, live_pop_t *p, http_resp_t *resp)
{
    int pick = -1;
    for (int k = 0; k < p->n && pick < 0; k++) {
        int i = (int)((p->bundle_next + (uint32_t)k) % (uint32_t)p->n);
        const live_ind_t *d = &p->ind[i];
        if (d->state == LI_RUNNING && !d->inflight && !d->q_src && !d->pinned)
            pick = i;
    }
    if (!p->running || pick < 0) {
        http_json(resp, 409,
                  json_pack("{s:s, s:s}", "error",
                            p->running ? "no idle individual (each has an upgrade in flight, is "
                                         "pinned or is not running yet)"
                                       : "the live population is stopped",
                            "state", p->running ? "running" : "stopped"));
        return;
    }
    p->bundle_next = (uint32_t)pick + 1;
    const live_ind_t *d = &p->ind[pick];
    json_error_t je;
    json_t *live = json_loads(p->live_spec, 0, &je);
    json_t *spec = json_pack("{s:s, s:s, s:o, s:s}", "function", "handle/2", "language",
                             p->language == 1 ? "elixir" : "erlang", "live",
                             live ? live : json_null(), "contract",
                             "a whole module exporting init/1 (returns the state), handle/2 "
                             "(Request, State) -> {Reply, NewState}, optionally code_change/2 "
                             "(OldVsn, State) -> NewState that turns the running version's "
                             "state into this one's; the standard library's pure functions "
                             "only (docs/allowlist.md)");
    json_t *parent = json_pack(
        "{s:o, s:i, s:s%, s:o, s:I, s:I, s:I, s:I}", "hash", hex(d->good_hash, CRYPTO_HASH_LEN),
        "version", (int)d->version, "source", d->good_src, d->good_len, "fitness", num(d->fitness),
        "requests", (json_int_t)d->requests, "correct", (json_int_t)d->correct, "wrong",
        (json_int_t)d->wrong, "failed", (json_int_t)d->failed);
    json_t *hist = json_array();
    for (int k = d->nversions < LIVE_BUNDLE_HISTORY ? d->nversions : LIVE_BUNDLE_HISTORY; k > 0;
         k--) {
        const live_version_t *v =
            &d->versions[(d->vpos - k + 2 * LIVE_VERSIONS_KEPT) % LIVE_VERSIONS_KEPT];
        json_t *vj = version_json(v);
        json_object_del(vj, "at_ms");
        json_array_append_new(hist, vj);
    }
    json_t *sample = json_array();
    const char *t = p->trace, *end = p->trace + p->trace_len;
    while (t < end && json_array_size(sample) < LIVE_BUNDLE_TRACE_LINES) {
        const char *nl = memchr(t, '\n', (size_t)(end - t));
        size_t n = nl ? (size_t)(nl - t) : (size_t)(end - t);
        json_t *line = n ? json_loadb(t, n, 0, &je) : NULL;
        if (line)
            json_array_append_new(sample, line);
        t += n + 1;
    }
    char submit[200];
    snprintf(submit, sizeof submit, "/v1/live/%s/individuals/%d/upgrade", p->name, pick);
    json_t *b = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:o, s:[o], s:o, s:o}", "bundle_version",
                          1, "kind", "live", "population", p->name, "state", "running",
                          "individual", pick, "submit", submit, "spec", spec, "parents", parent,
                          "history", hist, "trace_sample", sample);
    char h[65];
    if (!b || api_bundle_hash(b, h) != 0) {
        json_decref(b);
        http_error(resp, 500, "out of memory");
        return;
    }
    json_object_set_new(b, "bundle_hash", json_string(h));
    (void)c;
    http_json(resp, 200, b);
}

void live_api(coord_t *c, const char *method, const char *rest, const uint8_t *body,
              size_t body_len, http_resp_t *resp)
{
    if (!strcmp(rest, "") || !strcmp(rest, "/")) {
        if (!strcmp(method, "POST")) {
            create(c, body, body_len, resp);
        } else if (!strcmp(method, "GET")) {
            json_t *a = json_array();
            for (int i = 0; i < c->nlive; i++)
                json_array_append_new(a, pop_json(c, c->live[i], 0));
            http_json(resp, 200, json_pack("{s:o}", "live", a));
        } else {
            http_error(resp, 405, "%s /v1/live: use GET or POST", method);
        }
        return;
    }
    const char *name = rest + 1;
    const char *slash = strchr(name, '/');
    char nm[POP_NAME_MAX];
    size_t nl = slash ? (size_t)(slash - name) : strlen(name);
    if (nl == 0 || nl >= sizeof nm) {
        http_error(resp, 404, "no live population %.*s", (int)(nl > 64 ? 64 : nl), name);
        return;
    }
    memcpy(nm, name, nl);
    nm[nl] = '\0';
    live_pop_t *p = live_find(c, nm);
    if (!p) {
        http_error(resp, 404, "no live population %s", nm);
        return;
    }
    const char *sub = slash ? slash : "";
    if (!strcmp(sub, "") && !strcmp(method, "GET")) {
        http_json(resp, 200, pop_json(c, p, 1));
    } else if (!strcmp(sub, "/bundle") && !strcmp(method, "GET")) {
        bundle(c, p, resp);
    } else if (!strcmp(sub, "/stop") && !strcmp(method, "POST")) {
        int rc = live_stop(c, p);
        if (rc)
            http_error(resp, 503, "stopped, but its state was not saved: %s", err_str(rc));
        else
            http_json(resp, 200, json_pack("{s:s, s:s}", "name", p->name, "state", "stopped"));
    } else if (!strncmp(sub, "/individuals/", 13)) {
        individual(c, p, method, sub + 13, body, body_len, resp);
    } else {
        http_error(resp, 404, "no resource %s /v1/live/%s%s", method, nm, sub);
    }
}
