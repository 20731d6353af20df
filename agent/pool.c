/* pool.c - supervise the agent's BEAM VMs and feed them work (see pool.h).
 *
 * Blame: a VM that dies with jobs in flight cannot say which one killed it.
 * Each of those jobs becomes a suspect and runs again alone on a VM (nothing
 * else is dispatched there until it answers). A suspect whose VM dies too is
 * blamed (WIRE_ST_VM_KILLED); the others were innocent and get their normal
 * result. The first death counts towards the intensity only when no suspect
 * turns out guilty (then it was not theirs); a blamed death never counts. */
#include "pool.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "pool_int.h"
#include "vm.h"
#include "wire.h"

const char *const pool_st_name[] = {"down", "backoff", "booting", "ready", "draining", "stopping"};

const char *const pool_kill_cause_names[POOL_KILL__COUNT] = {
    "heartbeat",  "boot_timeout", "rss",          "protocol", "stop_timeout",
    "scale_down", "pool_failed",  "write_failed", "other"};

/* The cause label of a kill, from the reason pool_kill_slot is given. */
static int kill_cause(const char *why)
{
    static const struct {
        const char *prefix;
        int cause;
    } t[] = {{"silent for", POOL_KILL_HEARTBEAT},
             {"no hello", POOL_KILL_BOOT_TIMEOUT},
             {"RSS", POOL_KILL_RSS},
             {"bad message", POOL_KILL_PROTOCOL},
             {"protocol pipe", POOL_KILL_PROTOCOL},
             {"still running", POOL_KILL_STOP_TIMEOUT},
             {"scaled down", POOL_KILL_SCALE_DOWN},
             {"pool failed", POOL_KILL_POOL_FAILED},
             {"cannot write", POOL_KILL_WRITE_FAILED}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strncmp(why, t[i].prefix, strlen(t[i].prefix)))
            return t[i].cause;
    return POOL_KILL_OTHER;
}

/* Counts a completed job by kind and status, and its VM-side latencies. */
static void count_result(pool_t *p, int kind, const pool_result_t *r)
{
    if (!p || r->status < 0 || r->status >= WIRE_ST__COUNT)
        return;
    if (kind == JOB_BREED) {
        p->breeds[r->status]++;
        return;
    }
    p->evals[r->status]++;
    if (r->vm < 0 || r->status == WIRE_ST_INTERNAL || r->status == WIRE_ST_VM_KILLED)
        return;
    metrics_hist_observe(&p->load_hist, (double)r->load_us / 1e6);
    if (r->status == WIRE_ST_OK || r->status == WIRE_ST_TIMEOUT ||
        r->status == WIRE_ST_HEAP_LIMIT || r->status == WIRE_ST_CRASH ||
        r->status == WIRE_ST_BAD_RESULT)
        metrics_hist_observe(&p->eval_hist, (double)r->eval_us / 1e6);
}

static void boot(slot_t *s);
static void stop_vms(pool_t *p);
static void count_failure(pool_t *p, const char *why);

/* ---- state transitions ---- */

void pool_slot_set(slot_t *s, vmst_t st, const char *why)
{
    if (s->st == st)
        return;
    char q[256];
    log_info("vm.state", "vm=%d pid=%d from=%s to=%s why=%s", s->index, (int)s->pid,
             pool_st_name[s->st], pool_st_name[st], log_quote(why, q, sizeof q));
    s->st = st;
}

/* A suspect has its verdict. When the last suspect of a death is judged and
 * none was guilty, the death was the VM's own: it counts as a failure. */
static void judge(pool_t *p, death_t *d, int guilty)
{
    d->guilty |= guilty;
    if (--d->refs > 0)
        return;
    int charge = !d->guilty && !p->stopping && !p->failed;
    char why[320];
    snprintf(why, sizeof why, "%s, and no job in flight killed a VM alone", d->why);
    free(d);
    if (charge)
        count_failure(p, why);
}

void pool_complete(job_t *j, const pool_result_t *r)
{
    count_result(j->pool, j->kind, r);
    if (j->done)
        j->done(j->arg, r);
    death_t *d = j->death;
    pool_t *p = j->pool;
    free(j->frame);
    free(j);
    if (d)
        judge(p, d, r->status == WIRE_ST_VM_KILLED);
}

static void fail_job(job_t *j, const char *why)
{
    pool_result_t r = {.status = WIRE_ST_INTERNAL, .fitness = NAN, .detail = why, .vm = -1};
    pool_complete(j, &r);
}

static void queue_push(pool_t *p, job_t *j, int front)
{
    j->next = NULL;
    if (front) {
        j->next = p->qhead;
        p->qhead = j;
        if (!p->qtail)
            p->qtail = j;
    } else {
        if (p->qtail)
            p->qtail->next = j;
        else
            p->qhead = j;
        p->qtail = j;
    }
    p->queued++;
}

static job_t *queue_pop(pool_t *p)
{
    job_t *j = p->qhead;
    if (!j)
        return NULL;
    p->qhead = j->next;
    if (!p->qhead)
        p->qtail = NULL;
    p->queued--;
    return j;
}

void pool_kill_slot(slot_t *s, const char *why, int is_failure)
{
    if (!s->vm || s->kill_reason[0])
        return;
    snprintf(s->kill_reason, sizeof s->kill_reason, "%s", why);
    s->kill_is_failure = is_failure;
    s->kills++;
    s->kills_by[kill_cause(why)]++;
    char q[256];
    log_warn("vm.kill", "vm=%d pid=%d why=%s", s->index, (int)s->pid, log_quote(why, q, sizeof q));
    vm_kill(s->vm, SIGKILL);
}

/* ---- failure accounting (OTP-style intensity) ---- */

static int intensity_exceeded(pool_t *p, uint64_t now)
{
    int cap = p->o.intensity + 1;
    p->fail_times[p->fail_pos] = now;
    p->fail_pos = (p->fail_pos + 1) % cap;
    if (p->fail_n < cap)
        p->fail_n++;
    if (p->fail_n < cap)
        return 0;
    /* the oldest of the last intensity+1 failures is at fail_pos */
    return now - p->fail_times[p->fail_pos] <= p->o.period_ms;
}

static void pool_fail(pool_t *p, const char *why)
{
    if (p->failed)
        return;
    p->failed = 1;
    char q[256];
    log_error("pool.failed", "why=%s", log_quote(why, q, sizeof q));
    job_t *j;
    while ((j = queue_pop(p)))
        fail_job(j, "the agent's VMs keep failing");
    for (int i = 0; i < p->cap; i++) {
        slot_t *s = &p->slots[i];
        if (s->timer > 0)
            loop_timer_del(p->loop, s->timer);
        s->timer = 0;
        if (s->vm)
            pool_kill_slot(s, "pool failed", 0);
        else
            pool_slot_set(s, ST_DOWN, "pool failed");
    }
    if (p->on_state)
        p->on_state(p->arg, 1, why);
}

/* A failure that is no job's fault: the intensity decides whether to go on. */
static void count_failure(pool_t *p, const char *why)
{
    if (!intensity_exceeded(p, loop_now(p->loop)))
        return;
    char d[400];
    snprintf(d, sizeof d, "more than %d VM failures within %u ms (last: %s)", p->o.intensity,
             p->o.period_ms, why);
    pool_fail(p, d);
}

static int64_t on_backoff_done(loop_t *l, void *arg)
{
    (void)l;
    slot_t *s = arg;
    s->timer = 0;
    boot(s);
    return LOOP_TIMER_STOP;
}

static void check_all_down(pool_t *p)
{
    if (!p->stopping || p->stopped)
        return;
    for (int i = 0; i < p->cap; i++)
        if (p->slots[i].st != ST_DOWN)
            return;
    p->stopped = 1;
    log_info("pool.stopped", "vms=%d", p->cap);
    if (p->on_state)
        p->on_state(p->arg, 0, "stopped");
}

/* The child is gone (reaped): account for it and decide what comes next. */
static void slot_exited(slot_t *s, int status)
{
    pool_t *p = s->pool;
    uint64_t now = loop_now(p->loop);
    char why[200];
    if (s->kill_reason[0])
        snprintf(why, sizeof why, "%s", s->kill_reason);
    else if (WIFEXITED(status))
        snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
    int failure = s->kill_reason[0] ? s->kill_is_failure : !s->recycling;
    if (s->timer > 0)
        loop_timer_del(p->loop, s->timer);
    s->timer = 0;
    vm_destroy(&s->vm);
    s->pid = 0;
    /* A death with work in flight is a job's until the suspects are judged:
     * it does not count now, and the VM restarts at once. */
    int job_death = s->ninflight > 0 && !p->stopping && !p->failed;
    if (job_death) {
        failure = 0;
        p->job_deaths++;
    }
    int n = s->ninflight;
    s->ninflight = 0;
    s->solo = 0;
    death_t *death = NULL;
    for (int i = n - 1; i >= 0; i--) { /* pushed to the front: keeps their order */
        job_t *j = s->inflight[i];
        char q[300];
        if (p->stopping || p->failed) {
            snprintf(q, sizeof q, "the VM running this job was lost (%s)", why);
            fail_job(j, q);
        } else if (j->death) {
            p->blamed++;
            log_warn("pool.blamed", "vm=%d req=%llu why=%s", s->index, (unsigned long long)j->req,
                     log_quote(why, q, sizeof q));
            char detail[300];
            snprintf(detail, sizeof detail, "the genome's VM died while it ran alone (%s)", why);
            pool_result_t r = {
                .status = WIRE_ST_VM_KILLED, .fitness = NAN, .detail = detail, .vm = s->index};
            pool_complete(j, &r);
        } else if (death || (death = calloc(1, sizeof *death))) {
            if (!death->refs)
                snprintf(death->why, sizeof death->why, "vm %d %s", s->index, why);
            death->refs++;
            j->death = death;
            p->suspects++;
            queue_push(p, j, 1);
        } else {
            fail_job(j, "out of memory");
        }
    }
    if (death) {
        char q[300];
        log_warn("pool.suspects", "vm=%d jobs=%d why=%s", s->index, death->refs,
                 log_quote(why, q, sizeof q));
    }
    int recycle = s->recycling;
    s->recycling = 0;
    s->kill_reason[0] = '\0';
    if (p->stopping || p->failed) {
        pool_slot_set(s, ST_DOWN, why);
        check_all_down(p);
        return;
    }
    if (s->index >= p->target) {
        pool_slot_set(s, ST_DOWN, "scaled down");
        pool_dispatch(p);
        return;
    }
    if (!failure) {
        if (recycle)
            s->recycles++;
        else
            s->restarts++;
        pool_slot_set(s, ST_DOWN, why);
        boot(s);
        pool_dispatch(p);
        return;
    }
    s->restarts++;
    if (now - s->started_ms >= BACKOFF_RESET_MS)
        s->failures = 0;
    s->failures++;
    if (intensity_exceeded(p, now)) {
        char d[300];
        snprintf(d, sizeof d, "more than %d VM failures within %u ms (last: vm %d %s)",
                 p->o.intensity, p->o.period_ms, s->index, why);
        pool_slot_set(s, ST_DOWN, why);
        pool_fail(p, d);
        return;
    }
    uint64_t delay = p->o.backoff_min_ms;
    for (int i = 1; i < s->failures && delay < p->o.backoff_max_ms; i++)
        delay *= 2;
    if (delay > p->o.backoff_max_ms)
        delay = p->o.backoff_max_ms;
    char d[260];
    snprintf(d, sizeof d, "%s; restart in %llu ms", why, (unsigned long long)delay);
    pool_slot_set(s, ST_BACKOFF, d);
    s->timer = loop_timer_add(p->loop, delay, on_backoff_done, s);
    pool_dispatch(p);
}

static void on_sigchld(loop_t *l, int signo, void *arg)
{
    (void)l;
    (void)signo;
    pool_t *p = arg;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < p->cap; i++) {
            if (p->slots[i].pid == pid) {
                slot_exited(&p->slots[i], status);
                break;
            }
        }
    }
}

static int64_t on_stop_timeout(loop_t *l, void *arg)
{
    (void)l;
    slot_t *s = arg;
    s->timer = 0;
    if (s->vm) {
        char why[64];
        snprintf(why, sizeof why, "still running %d ms after STOP", STOP_KILL_MS);
        pool_kill_slot(s, why, 0);
    }
    return LOOP_TIMER_STOP;
}

static void send_stop(slot_t *s, const char *why)
{
    pool_t *p = s->pool;
    wire_buf_reset(&p->wb);
    wire_begin(&p->wb, WIRE_VM_STOP, 0, NULL);
    if (wire_end(&p->wb) == 0)
        vm_send(s->vm, p->wb.data, p->wb.len);
    pool_slot_set(s, ST_STOPPING, why);
    if (s->timer > 0)
        loop_timer_del(p->loop, s->timer);
    s->timer = loop_timer_add(p->loop, STOP_KILL_MS, on_stop_timeout, s);
}

void pool_after_job(slot_t *s)
{
    pool_t *p = s->pool;
    if (s->st == ST_READY && s->index >= p->target)
        pool_slot_set(s, ST_DRAINING, "scaled down");
    if (s->ninflight == 0)
        s->solo = 0; /* its suspect answered */
    if (s->st == ST_READY && p->o.max_loads && s->loads >= p->o.max_loads) {
        char why[80];
        snprintf(why, sizeof why, "recycle after %llu loads", (unsigned long long)s->loads);
        pool_slot_set(s, ST_DRAINING, why);
    }
    if (s->st == ST_READY && p->o.max_atoms && s->atoms >= p->o.max_atoms) {
        char why[96];
        snprintf(why, sizeof why, "recycle at %u atoms (threshold %u)", s->atoms, p->o.max_atoms);
        pool_slot_set(s, ST_DRAINING, why);
    }
    if (s->st == ST_DRAINING && s->ninflight == 0) {
        s->recycling = 1;
        send_stop(s, s->index >= p->target ? "drained for scale-down" : "drained for recycling");
    }
    if (p->stopping && pool_inflight(p) == 0 && p->grace_timer > 0) {
        loop_timer_del(p->loop, p->grace_timer);
        p->grace_timer = 0;
        stop_vms(p);
    }
}

/* ---- booting and dispatch ---- */

static void boot(slot_t *s)
{
    pool_t *p = s->pool;
    vm_spawn_opts_t so = {.erl = p->erl,
                          .code_path = p->o.code_path,
                          .elixir_path = p->elixir,
                          .slots = p->o.slots,
                          .no_result_cache = !p->o.result_cache,
                          .index = s->index};
    vm_callbacks_t cb = {.frame = pool_vm_frame, .broken = pool_vm_broken};
    char err[256];
    s->started_ms = s->last_seen_ms = loop_now(p->loop);
    s->kill_reason[0] = '\0';
    s->recycling = 0;
    s->solo = 0;
    s->loads = 0;
    s->vm = vm_spawn(p->loop, &so, &cb, s, err, sizeof err);
    if (!s->vm) {
        char q[300];
        log_error("vm.spawn_failed", "vm=%d why=%s", s->index, log_quote(err, q, sizeof q));
        /* account it like a failed boot, via a fake exit */
        s->pid = 0;
        s->kill_reason[0] = 0;
        s->failures++;
        s->restarts++;
        if (intensity_exceeded(p, s->started_ms)) {
            pool_fail(p, err);
            return;
        }
        pool_slot_set(s, ST_BACKOFF, err);
        s->timer = loop_timer_add(p->loop, p->o.backoff_max_ms, on_backoff_done, s);
        return;
    }
    s->pid = vm_pid(s->vm);
    p->starts++;
    s->vm_evals_ok = s->vm_evals_failed = s->memory_bytes = s->vm_loads = 0;
    s->processes = s->atoms = s->live = s->pending_purge = 0;
    pool_slot_set(s, ST_BOOTING, "spawned");
}

/* The least busy ready VM that can take a job; a suspect needs an idle one. */
static slot_t *pick_slot(pool_t *p, int alone)
{
    slot_t *best = NULL;
    for (int i = 0; i < p->cap; i++) {
        slot_t *s = &p->slots[i];
        if (s->st != ST_READY || !s->vm || s->kill_reason[0] || s->solo)
            continue;
        if (alone ? s->ninflight > 0 : s->ninflight >= p->o.pipeline)
            continue;
        if (!best || s->ninflight < best->ninflight)
            best = s;
    }
    return best;
}

/* In queue order: suspects wait at the front (the queue stalls) until a VM
 * is idle, so pipelines drain and a suspect cannot starve. */
void pool_dispatch(pool_t *p)
{
    while (p->qhead && !p->stopping && !p->failed) {
        slot_t *best = pick_slot(p, p->qhead->death != NULL);
        if (!best)
            return;
        job_t *j = queue_pop(p);
        if (vm_send(best->vm, j->frame, j->len) != 0) {
            queue_push(p, j, 1);
            pool_kill_slot(best, "cannot write to the VM", 1);
            continue;
        }
        best->inflight[best->ninflight++] = j;
        if (j->death)
            best->solo = 1;
    }
}

/* ---- heartbeats, RSS ---- */

static int64_t on_heartbeat(loop_t *l, void *arg)
{
    pool_t *p = arg;
    uint64_t now = loop_now(l);
    for (int i = 0; i < p->cap; i++) {
        slot_t *s = &p->slots[i];
        if (!s->vm || s->kill_reason[0])
            continue;
        char why[160];
        if (s->st == ST_BOOTING) {
            if (now - s->started_ms > p->o.boot_timeout_ms) {
                snprintf(why, sizeof why, "no hello within %u ms of boot", p->o.boot_timeout_ms);
                pool_kill_slot(s, why, 1);
            }
            continue;
        }
        if (now - s->last_seen_ms > p->o.heartbeat_timeout_ms) {
            snprintf(why, sizeof why, "silent for %llu ms (heartbeat timeout %u ms)",
                     (unsigned long long)(now - s->last_seen_ms), p->o.heartbeat_timeout_ms);
            pool_kill_slot(s, why, 1);
            continue;
        }
        s->rss_kb = vm_rss_kb(s->vm);
        if (p->o.max_rss_mb && s->rss_kb > 0 && (uint64_t)s->rss_kb > p->o.max_rss_mb * 1024) {
            snprintf(why, sizeof why, "RSS %ld MiB over the %llu MiB ceiling", s->rss_kb / 1024,
                     (unsigned long long)p->o.max_rss_mb);
            pool_kill_slot(s, why, 0);
            continue;
        }
        if (s->st == ST_READY || s->st == ST_DRAINING) {
            wire_buf_reset(&p->wb);
            wire_begin(&p->wb, WIRE_VM_PING, 0, NULL);
            wire_put_u64(&p->wb, ++s->ping_seq);
            if (wire_end(&p->wb) == 0)
                vm_send(s->vm, p->wb.data, p->wb.len);
        }
    }
    return p->o.heartbeat_interval_ms;
}

/* ---- public API ---- */

pool_t *pool_new(loop_t *l, const pool_opts_t *o, pool_state_fn on_state, void *arg, char *err,
                 size_t errlen)
{
    if (o->vms < 1 || o->pipeline < 1 || o->pipeline > PIPELINE_MAX || o->intensity < 0) {
        snprintf(err, errlen, "invalid pool options (vms %d, pipeline %d)", o->vms, o->pipeline);
        return NULL;
    }
    pool_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->loop = l;
    p->o = *o;
    p->on_state = on_state;
    p->arg = arg;
    p->next_req = 1;
    wire_buf_init(&p->wb);
    if (vm_find_program(o->erl, p->erl, sizeof p->erl) != 0) {
        snprintf(err, errlen, "[beam] erl: '%s' not found (install erlang-nox, or set the path)",
                 o->erl);
        goto fail;
    }
    struct stat st;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/petri_node.beam", o->code_path);
    if (stat(probe, &st) != 0) {
        snprintf(err, errlen, "[beam] code_path: %s has no petri_node.beam (run make?)",
                 o->code_path);
        goto fail;
    }
    pool_resolve_elixir(o->elixir_path, p->elixir, sizeof p->elixir);
    p->o.code_path = o->code_path;
    p->cap = o->max_vms > o->vms ? o->max_vms : o->vms;
    p->target = o->vms;
    p->slots = calloc((size_t)p->cap, sizeof *p->slots);
    p->fail_times = calloc((size_t)o->intensity + 1, sizeof *p->fail_times);
    if (!p->slots || !p->fail_times) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (loop_signal_add(l, SIGCHLD, on_sigchld, p) != 0) {
        snprintf(err, errlen, "cannot watch SIGCHLD");
        goto fail;
    }
    for (int i = 0; i < p->cap; i++) {
        p->slots[i].pool = p;
        p->slots[i].index = i;
        if (i < p->target)
            boot(&p->slots[i]);
    }
    p->hb_timer = loop_timer_add(l, o->heartbeat_interval_ms, on_heartbeat, p);
    log_info("pool.start", "vms=%d slots=%d erl=%s elixir=%s", o->vms, o->slots, p->erl,
             p->elixir[0] ? "yes" : "no");
    return p;
fail:
    free(p->slots);
    free(p->fail_times);
    wire_buf_free(&p->wb);
    free(p);
    return NULL;
}

void pool_destroy(pool_t **pp)
{
    if (!pp || !*pp)
        return;
    pool_t *p = *pp;
    p->stopping = 1;
    job_t *j;
    while ((j = queue_pop(p)))
        fail_job(j, "the agent is shutting down");
    for (int i = 0; i < p->cap; i++) {
        slot_t *s = &p->slots[i];
        for (int k = 0; k < s->ninflight; k++)
            fail_job(s->inflight[k], "the agent is shutting down");
        s->ninflight = 0;
        if (s->timer > 0)
            loop_timer_del(p->loop, s->timer);
        if (s->vm) {
            vm_kill(s->vm, SIGKILL);
            waitpid(s->pid, NULL, 0);
            vm_destroy(&s->vm);
        }
    }
    if (p->hb_timer > 0)
        loop_timer_del(p->loop, p->hb_timer);
    if (p->grace_timer > 0)
        loop_timer_del(p->loop, p->grace_timer);
    free(p->slots);
    free(p->fail_times);
    wire_buf_free(&p->wb);
    free(p);
    *pp = NULL;
}

static int submit(pool_t *p, int kind, pool_done_fn done, void *arg)
{
    if (p->wb.err) {
        int e = p->wb.err;
        wire_buf_reset(&p->wb);
        return e;
    }
    if (wire_end(&p->wb) != 0) {
        int e = p->wb.err ? p->wb.err : ERR_TOOBIG;
        wire_buf_reset(&p->wb);
        return e;
    }
    job_t *j = calloc(1, sizeof *j);
    uint8_t *frame = malloc(p->wb.len);
    if (!j || !frame) {
        free(j);
        free(frame);
        return -ENOMEM;
    }
    memcpy(frame, p->wb.data, p->wb.len);
    j->req = p->next_req++;
    j->pool = p;
    j->kind = kind;
    j->frame = frame;
    j->len = p->wb.len;
    j->done = done;
    j->arg = arg;
    /* req_id is the first payload field: patch it in now that it is known */
    for (int i = 0; i < 8; i++)
        frame[WIRE_HDR_LEN + i] = (uint8_t)(j->req >> (56 - 8 * i));
    queue_push(p, j, 0);
    pool_dispatch(p);
    return 0;
}

/* Copies an encoded SPEC into the open frame, with the language replaced. */
void pool_put_spec(wire_buf_t *b, const uint8_t *spec, size_t spec_len, int language)
{
    size_t at = b->len;
    wire_put_raw(b, spec, spec_len);
    /* layout: function:str (u32 len + bytes) arity:u32 language:u8 ... */
    if (language >= 0 && !b->err && spec_len >= 4) {
        uint32_t fl =
            (uint32_t)spec[0] << 24 | (uint32_t)spec[1] << 16 | (uint32_t)spec[2] << 8 | spec[3];
        if ((size_t)fl + 9 <= spec_len)
            b->data[at + 4 + fl + 4] = (uint8_t)language;
    }
}

int pool_eval(pool_t *p, const uint8_t *spec, size_t spec_len, int language, const uint8_t *src,
              size_t len, pool_done_fn done, void *arg)
{
    if (p->stopping || p->failed)
        return ERR_STATE;
    if (len > p->o.max_source_bytes) {
        char d[128];
        snprintf(d, sizeof d, "source is %zu bytes, limit %u", len, p->o.max_source_bytes);
        pool_result_t r = {.status = WIRE_ST_PARSE_ERROR, .fitness = NAN, .detail = d, .vm = -1};
        count_result(p, JOB_EVAL, &r);
        done(arg, &r);
        return 0;
    }
    wire_buf_reset(&p->wb);
    wire_begin(&p->wb, WIRE_VM_EVAL, 0, NULL);
    wire_put_u64(&p->wb, 0);
    pool_put_spec(&p->wb, spec, spec_len, language);
    wire_put_bytes(&p->wb, src, len);
    return submit(p, JOB_EVAL, done, arg);
}

static int breed(pool_t *p, int kind, const uint8_t *spec, size_t spec_len, const char *op,
                 uint64_t seed, const uint8_t *const *parents, const size_t *lens, int nparents,
                 pool_done_fn done, void *arg)
{
    if (p->stopping || p->failed)
        return ERR_STATE;
    wire_buf_reset(&p->wb);
    wire_begin(&p->wb, kind == JOB_BREED ? WIRE_VM_BREED : WIRE_VM_BREED_EVAL, 0, NULL);
    wire_put_u64(&p->wb, 0);
    pool_put_spec(&p->wb, spec, spec_len, -1);
    wire_put_str(&p->wb, op);
    wire_put_u64(&p->wb, seed);
    wire_put_u32(&p->wb, (uint32_t)nparents);
    for (int i = 0; i < nparents; i++)
        wire_put_bytes(&p->wb, parents[i], lens[i]);
    return submit(p, kind, done, arg);
}

int pool_breed(pool_t *p, const uint8_t *spec, size_t spec_len, const char *op, uint64_t seed,
               const uint8_t *const *parents, const size_t *lens, int nparents, pool_done_fn done,
               void *arg)
{
    return breed(p, JOB_BREED, spec, spec_len, op, seed, parents, lens, nparents, done, arg);
}

int pool_breed_eval(pool_t *p, const uint8_t *spec, size_t spec_len, const char *op, uint64_t seed,
                    const uint8_t *const *parents, const size_t *lens, int nparents,
                    pool_done_fn done, void *arg)
{
    return breed(p, JOB_BREED_EVAL, spec, spec_len, op, seed, parents, lens, nparents, done, arg);
}

static void stop_vms(pool_t *p)
{
    for (int i = 0; i < p->cap; i++) {
        slot_t *s = &p->slots[i];
        for (int k = 0; k < s->ninflight; k++)
            fail_job(s->inflight[k], "the agent is shutting down");
        s->ninflight = 0;
        if (s->vm && s->st != ST_STOPPING && !s->kill_reason[0]) {
            send_stop(s, "agent stopping");
        } else if (!s->vm) {
            if (s->timer > 0)
                loop_timer_del(p->loop, s->timer);
            s->timer = 0;
            pool_slot_set(s, ST_DOWN, "agent stopping");
        }
    }
    check_all_down(p);
}

static int64_t on_grace_over(loop_t *l, void *arg)
{
    (void)l;
    pool_t *p = arg;
    p->grace_timer = 0;
    if (pool_inflight(p) > 0)
        log_warn("pool.grace_over", "inflight=%zu", pool_inflight(p));
    stop_vms(p);
    return LOOP_TIMER_STOP;
}

void pool_stop(pool_t *p, uint32_t grace_ms)
{
    if (p->stopping)
        return;
    p->stopping = 1;
    log_info("pool.stopping", "queued=%zu inflight=%zu grace_ms=%u", p->queued, pool_inflight(p),
             grace_ms);
    job_t *j;
    while ((j = queue_pop(p)))
        fail_job(j, "the agent is shutting down");
    if (p->hb_timer > 0)
        loop_timer_del(p->loop, p->hb_timer);
    p->hb_timer = 0;
    if (pool_inflight(p) == 0 || grace_ms == 0)
        stop_vms(p);
    else
        p->grace_timer = loop_timer_add(p->loop, grace_ms, on_grace_over, p);
}

void pool_resolve_elixir(const char *setting, char *out, size_t cap)
{
    struct stat st;
    if (strcmp(setting, "auto") == 0)
        snprintf(out, cap, "%s", stat(ELIXIR_EBIN, &st) == 0 ? ELIXIR_EBIN : "");
    else
        snprintf(out, cap, "%s", setting);
}

int pool_set_target(pool_t *p, int n)
{
    if (n < 1)
        n = 1;
    if (n > p->cap)
        n = p->cap;
    if (n == p->target || p->stopping || p->failed)
        return p->target;
    log_info("pool.scale", "from=%d to=%d", p->target, n);
    int old = p->target;
    p->target = n;
    for (int i = old; i < n; i++) { /* grow: boot what is down */
        slot_t *s = &p->slots[i];
        if (s->st == ST_DOWN)
            boot(s);
    }
    for (int i = n; i < p->cap; i++) { /* shrink: retire, finishing their work */
        slot_t *s = &p->slots[i];
        if (s->st == ST_READY) {
            pool_slot_set(s, ST_DRAINING, "scaled down");
            pool_after_job(s);
        } else if (s->st == ST_BOOTING) {
            pool_kill_slot(s, "scaled down while booting", 0);
        } else if (s->st == ST_BACKOFF) {
            if (s->timer > 0)
                loop_timer_del(p->loop, s->timer);
            s->timer = 0;
            pool_slot_set(s, ST_DOWN, "scaled down");
        }
    }
    pool_dispatch(p);
    return n;
}
