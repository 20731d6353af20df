/* pool_vm.c - the frames a pool's VM sends (untrusted: it runs evolved
 * code): hello, pong, results and children; a bad one kills the VM. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "pool_int.h"

static job_t *take_inflight(slot_t *s, uint64_t req, int kind)
{
    for (int i = 0; i < s->ninflight; i++) {
        job_t *j = s->inflight[i];
        if (j->req == req && j->kind == kind) {
            memmove(&s->inflight[i], &s->inflight[i + 1],
                    (size_t)(s->ninflight - i - 1) * sizeof *s->inflight);
            s->ninflight--;
            return j;
        }
    }
    return NULL;
}

int pool_read_result_ext(wire_rd_t *r, int status, pool_result_t *res, pool_metric_t *metrics,
                         double **errors)
{
    res->passed = res->cases = 0;
    res->cost = 0;
    res->reused = 0;
    res->metrics = metrics;
    res->nmetrics = 0;
    res->errors = NULL;
    res->nerrors = 0;
    *errors = NULL;
    if (r->err)
        return r->err;
    if (r->left == 0)
        return 0; /* a VM from before RESULT_EXT */
    uint32_t passed = 0, cases = 0, nm = 0, ne = 0;
    uint8_t reused = 0;
    double cost = 0;
    wire_get_u32(r, &passed);
    wire_get_u32(r, &cases);
    wire_get_f64(r, &cost);
    wire_get_u8(r, &reused);
    /* a METRIC is at least a u32 name length and an f64 */
    wire_get_count(r, &nm, POOL_MAX_METRICS, 12);
    for (uint32_t i = 0; i < nm && !r->err; i++) {
        wire_get_str(r, metrics[i].name, sizeof metrics[i].name);
        wire_get_f64(r, &metrics[i].value);
        if (!r->err && (!metrics[i].name[0] || !isfinite(metrics[i].value)))
            r->err = ERR_PROTO;
    }
    wire_get_count(r, &ne, SPEC_MAX_CASES, 8);
    int rc = r->err;
    if (!rc && (passed > cases || !isfinite(cost) || cost < 0 || reused > 1 ||
                (status != WIRE_ST_OK && (cases || ne)) || (ne && ne < cases)))
        rc = ERR_PROTO;
    double *errs = NULL;
    if (!rc && ne) {
        errs = malloc(ne * sizeof *errs);
        if (!errs)
            rc = -ENOMEM;
        for (uint32_t i = 0; i < ne && !rc; i++) {
            wire_get_f64(r, &errs[i]);
            rc = r->err ? r->err : (!isfinite(errs[i]) || errs[i] < 0) ? ERR_PROTO : 0;
        }
    }
    if (rc) {
        free(errs);
        return rc;
    }
    res->passed = passed;
    res->cases = cases;
    res->cost = cost;
    res->reused = reused;
    res->nmetrics = nm;
    res->errors = errs;
    res->nerrors = ne;
    *errors = errs;
    return 0;
}

static int handle_result(slot_t *s, wire_rd_t *r, int kind)
{
    uint64_t req = 0, load_us = 0, eval_us = 0;
    uint8_t status = 0;
    double fitness = NAN;
    char detail[1024];
    const uint8_t *src = NULL;
    uint32_t srclen = 0;
    wire_get_u64(r, &req);
    wire_get_u8(r, &status);
    if (kind == JOB_EVAL || kind == JOB_BREED_EVAL) {
        wire_get_f64(r, &fitness);
        wire_get_str(r, detail, sizeof detail);
        wire_get_u64(r, &load_us);
        wire_get_u64(r, &eval_us);
        if (kind == JOB_BREED_EVAL)
            wire_get_bytes(r, &src, &srclen, s->pool->o.max_source_bytes);
    } else {
        wire_get_bytes(r, &src, &srclen, s->pool->o.max_source_bytes);
        wire_get_str(r, detail, sizeof detail);
    }
    if (r->err)
        return r->err;
    if (status >= WIRE_ST__COUNT)
        return ERR_PROTO;
    pool_metric_t metrics[POOL_MAX_METRICS];
    double *errors = NULL;
    pool_result_t res = {.status = status,
                         .fitness = status == WIRE_ST_OK ? fitness : NAN,
                         .detail = detail,
                         .source = src,
                         .source_len = srclen,
                         .load_us = load_us,
                         .eval_us = eval_us,
                         .vm = s->index};
    if (kind != JOB_EVAL)
        memcpy(res.breeder, s->breeder, sizeof res.breeder);
    if (kind != JOB_BREED) {
        int rc = pool_read_result_ext(r, status, &res, metrics, &errors);
        if (rc)
            return rc;
    }
    int rc = 0;
    if (kind != JOB_BREED && status == WIRE_ST_OK && !(isfinite(fitness) && fitness >= 0))
        rc = ERR_PROTO;
    else if (kind == JOB_BREED_EVAL && status == WIRE_ST_OK && srclen == 0)
        rc = ERR_PROTO; /* scored, but no child */
    job_t *j = rc ? NULL : take_inflight(s, req, kind);
    if (!rc && !j)
        rc = ERR_PROTO; /* an answer to nothing we asked */
    if (!rc) {
        if (kind == JOB_EVAL || (kind == JOB_BREED_EVAL && srclen > 0))
            s->loads++;
        pool_complete(j, &res);
    }
    free(errors);
    return rc;
}

void pool_vm_frame(vm_t *vm, const uint8_t *buf, size_t len, void *arg)
{
    slot_t *s = arg;
    pool_t *p = s->pool;
    (void)vm;
    if (s->kill_reason[0])
        return; /* already condemned */
    wire_hdr_t h;
    wire_rd_t r;
    int rc = wire_parse(buf, len, &h, &r);
    if (rc == 0) {
        s->last_seen_ms = loop_now(p->loop);
        switch (h.type) {
        case WIRE_VM_HELLO: {
            uint32_t os_pid = 0, slots = 0;
            uint8_t elixir = 0;
            char version[32];
            wire_get_str(&r, s->otp, sizeof s->otp);
            wire_get_u32(&r, &os_pid);
            wire_get_u32(&r, &slots);
            wire_get_u8(&r, &elixir);
            wire_get_str(&r, version, sizeof version);
            memset(s->breeder, 0, sizeof s->breeder);
            if (r.err == 0 && r.left > 0) /* appended: older VMs send none */
                wire_get_raw(&r, s->breeder, sizeof s->breeder);
            rc = r.err ? r.err : (s->st != ST_BOOTING ? ERR_STATE : 0);
            if (rc == 0) {
                s->elixir = elixir;
                char why[96];
                snprintf(why, sizeof why, "hello after %llu ms (otp %s, %u slots)",
                         (unsigned long long)(s->last_seen_ms - s->started_ms), s->otp, slots);
                pool_slot_set(s, ST_READY, why);
            }
            break;
        }
        case WIRE_VM_PONG: {
            uint64_t seq = 0, ok = 0, bad = 0;
            wire_get_u64(&r, &seq);
            wire_get_u64(&r, &s->memory_bytes);
            wire_get_u32(&r, &s->processes);
            wire_get_u32(&r, &s->atoms);
            wire_get_u32(&r, &s->live);
            wire_get_u64(&r, &s->vm_loads);
            wire_get_u32(&r, &s->pending_purge);
            wire_get_u64(&r, &ok);
            wire_get_u64(&r, &bad);
            rc = r.err;
            if (rc == 0) {
                s->vm_evals_ok = ok;
                s->vm_evals_failed = bad;
            }
            break;
        }
        case WIRE_VM_RESULT:
            rc = s->st == ST_BOOTING ? ERR_STATE : handle_result(s, &r, JOB_EVAL);
            break;
        case WIRE_VM_CHILD:
            rc = s->st == ST_BOOTING ? ERR_STATE : handle_result(s, &r, JOB_BREED);
            break;
        case WIRE_VM_BRED:
            rc = s->st == ST_BOOTING ? ERR_STATE : handle_result(s, &r, JOB_BREED_EVAL);
            break;
        default:
            log_debug("vm.unknown_type", "vm=%d type=%u", s->index, h.type);
            break;
        }
    }
    if (rc) {
        char why[160];
        snprintf(why, sizeof why, "bad message from the VM (type %u): %s", rc == 0 ? 0 : h.type,
                 err_str(rc));
        pool_kill_slot(s, why, 1);
        return;
    }
    pool_after_job(s);
    pool_dispatch(p);
}

void pool_vm_broken(vm_t *vm, const char *reason, void *arg)
{
    (void)vm;
    slot_t *s = arg;
    if (s->st == ST_STOPPING)
        return; /* we asked it to stop: the pipe closing is how it goes */
    char why[200];
    snprintf(why, sizeof why, "protocol pipe: %s", reason);
    pool_kill_slot(s, why, 1);
}
