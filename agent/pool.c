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
#include "vm.h"
#include "wire.h"

#define PIPELINE_MAX 16
#define STOP_KILL_MS 1000      /* STOP sent -> SIGKILL if still alive */
#define BACKOFF_RESET_MS 10000 /* a VM that lived this long resets its backoff */
#define ELIXIR_EBIN "/usr/lib/elixir/lib/elixir/ebin"

typedef enum vmst { ST_DOWN, ST_BACKOFF, ST_BOOTING, ST_READY, ST_DRAINING, ST_STOPPING } vmst_t;
static const char *const st_name[] = {"down",  "backoff",  "booting",
                                      "ready", "draining", "stopping"};

/* JOB_BREED_EVAL: breed, then score the child in the same VM (one round trip) */
enum job_kind { JOB_EVAL, JOB_BREED, JOB_BREED_EVAL };

/* A VM death with jobs in flight, held by the suspects it made. */
typedef struct death {
    int refs;   /* suspects not yet judged */
    int guilty; /* one of them killed a VM alone */
    char why[240];
} death_t;

typedef struct job {
    struct job *next;
    pool_t *pool;
    uint64_t req;
    int kind;
    uint8_t *frame;
    size_t len;
    pool_done_fn done;
    void *arg;
    death_t *death; /* non-NULL: a suspect, runs alone; dies again = blamed */
} job_t;

typedef struct slot {
    pool_t *pool;
    int index;
    vmst_t st;
    vm_t *vm;
    pid_t pid;
    uint64_t started_ms, last_seen_ms;
    uint64_t ping_seq;
    job_t *inflight[PIPELINE_MAX];
    int ninflight;
    uint64_t loads;
    int failures; /* consecutive, for the backoff */
    int64_t timer;
    int recycling;         /* STOP sent because of max_loads, atoms or scale-down */
    int solo;              /* runs one suspect: nothing else is dispatched here */
    char kill_reason[160]; /* why we killed it, if we did */
    int kill_is_failure;
    /* from the VM's hello and pongs */
    char otp[16];
    int elixir;
    uint64_t memory_bytes, vm_loads;
    uint32_t processes, atoms, live, pending_purge;
    long rss_kb;
    uint64_t restarts, recycles, kills;
    uint64_t kills_by[POOL_KILL__COUNT];
    uint64_t vm_evals_ok, vm_evals_failed; /* as the VM's last pong said */
} slot_t;

struct pool {
    loop_t *loop;
    pool_opts_t o;
    char erl[4096];
    char elixir[4096];
    pool_state_fn on_state;
    void *arg;
    slot_t *slots;
    int cap;    /* slots allocated: [beam] max_vms */
    int target; /* slots that should run a VM: [0, target) */
    job_t *qhead, *qtail;
    size_t queued;
    uint64_t next_req;
    int64_t hb_timer, grace_timer;
    int stopping, stopped, failed;
    uint64_t *fail_times; /* ring of failure times for the intensity limit */
    int fail_n, fail_pos;
    wire_buf_t wb;
    /* telemetry (pool_get_stats) */
    uint64_t starts, evals[WIRE_ST__COUNT], breeds[WIRE_ST__COUNT];
    uint64_t suspects, blamed, job_deaths;
    metrics_hist_t load_hist, eval_hist; /* seconds, from the VMs' load_us/eval_us */
};

const char *const pool_kill_cause_names[POOL_KILL__COUNT] = {
    "heartbeat",  "boot_timeout", "rss",          "protocol", "stop_timeout",
    "scale_down", "pool_failed",  "write_failed", "other"};

/* The cause label of a kill, from the reason kill_slot is given. */
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
static void dispatch(pool_t *p);
static void stop_vms(pool_t *p);
static void count_failure(pool_t *p, const char *why);

/* ---- state transitions ---- */

static void slot_set(slot_t *s, vmst_t st, const char *why)
{
    if (s->st == st)
        return;
    char q[256];
    log_info("vm.state", "vm=%d pid=%d from=%s to=%s why=%s", s->index, (int)s->pid, st_name[s->st],
             st_name[st], log_quote(why, q, sizeof q));
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

static void complete(job_t *j, const pool_result_t *r)
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
    complete(j, &r);
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

static void kill_slot(slot_t *s, const char *why, int is_failure)
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
            kill_slot(s, "pool failed", 0);
        else
            slot_set(s, ST_DOWN, "pool failed");
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
            complete(j, &r);
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
        slot_set(s, ST_DOWN, why);
        check_all_down(p);
        return;
    }
    if (s->index >= p->target) {
        slot_set(s, ST_DOWN, "scaled down");
        dispatch(p);
        return;
    }
    if (!failure) {
        if (recycle)
            s->recycles++;
        else
            s->restarts++;
        slot_set(s, ST_DOWN, why);
        boot(s);
        dispatch(p);
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
        slot_set(s, ST_DOWN, why);
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
    slot_set(s, ST_BACKOFF, d);
    s->timer = loop_timer_add(p->loop, delay, on_backoff_done, s);
    dispatch(p);
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

/* ---- frames from a VM (untrusted) ---- */

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

static int64_t on_stop_timeout(loop_t *l, void *arg)
{
    (void)l;
    slot_t *s = arg;
    s->timer = 0;
    if (s->vm) {
        char why[64];
        snprintf(why, sizeof why, "still running %d ms after STOP", STOP_KILL_MS);
        kill_slot(s, why, 0);
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
    slot_set(s, ST_STOPPING, why);
    if (s->timer > 0)
        loop_timer_del(p->loop, s->timer);
    s->timer = loop_timer_add(p->loop, STOP_KILL_MS, on_stop_timeout, s);
}

static void after_job(slot_t *s)
{
    pool_t *p = s->pool;
    if (s->st == ST_READY && s->index >= p->target)
        slot_set(s, ST_DRAINING, "scaled down");
    if (s->ninflight == 0)
        s->solo = 0; /* its suspect answered */
    if (s->st == ST_READY && p->o.max_loads && s->loads >= p->o.max_loads) {
        char why[80];
        snprintf(why, sizeof why, "recycle after %llu loads", (unsigned long long)s->loads);
        slot_set(s, ST_DRAINING, why);
    }
    if (s->st == ST_READY && p->o.max_atoms && s->atoms >= p->o.max_atoms) {
        char why[96];
        snprintf(why, sizeof why, "recycle at %u atoms (threshold %u)", s->atoms, p->o.max_atoms);
        slot_set(s, ST_DRAINING, why);
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
        complete(j, &res);
    }
    free(errors);
    return rc;
}

static void on_frame(vm_t *vm, const uint8_t *buf, size_t len, void *arg)
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
            rc = r.err ? r.err : (s->st != ST_BOOTING ? ERR_STATE : 0);
            if (rc == 0) {
                s->elixir = elixir;
                char why[96];
                snprintf(why, sizeof why, "hello after %llu ms (otp %s, %u slots)",
                         (unsigned long long)(s->last_seen_ms - s->started_ms), s->otp, slots);
                slot_set(s, ST_READY, why);
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
        kill_slot(s, why, 1);
        return;
    }
    after_job(s);
    dispatch(p);
}

static void on_broken(vm_t *vm, const char *reason, void *arg)
{
    (void)vm;
    slot_t *s = arg;
    if (s->st == ST_STOPPING)
        return; /* we asked it to stop: the pipe closing is how it goes */
    char why[200];
    snprintf(why, sizeof why, "protocol pipe: %s", reason);
    kill_slot(s, why, 1);
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
    vm_callbacks_t cb = {.frame = on_frame, .broken = on_broken};
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
        slot_set(s, ST_BACKOFF, err);
        s->timer = loop_timer_add(p->loop, p->o.backoff_max_ms, on_backoff_done, s);
        return;
    }
    s->pid = vm_pid(s->vm);
    p->starts++;
    s->vm_evals_ok = s->vm_evals_failed = s->memory_bytes = s->vm_loads = 0;
    s->processes = s->atoms = s->live = s->pending_purge = 0;
    slot_set(s, ST_BOOTING, "spawned");
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
static void dispatch(pool_t *p)
{
    while (p->qhead && !p->stopping && !p->failed) {
        slot_t *best = pick_slot(p, p->qhead->death != NULL);
        if (!best)
            return;
        job_t *j = queue_pop(p);
        if (vm_send(best->vm, j->frame, j->len) != 0) {
            queue_push(p, j, 1);
            kill_slot(best, "cannot write to the VM", 1);
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
                kill_slot(s, why, 1);
            }
            continue;
        }
        if (now - s->last_seen_ms > p->o.heartbeat_timeout_ms) {
            snprintf(why, sizeof why, "silent for %llu ms (heartbeat timeout %u ms)",
                     (unsigned long long)(now - s->last_seen_ms), p->o.heartbeat_timeout_ms);
            kill_slot(s, why, 1);
            continue;
        }
        s->rss_kb = vm_rss_kb(s->vm);
        if (p->o.max_rss_mb && s->rss_kb > 0 && (uint64_t)s->rss_kb > p->o.max_rss_mb * 1024) {
            snprintf(why, sizeof why, "RSS %ld MiB over the %llu MiB ceiling", s->rss_kb / 1024,
                     (unsigned long long)p->o.max_rss_mb);
            kill_slot(s, why, 0);
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
    dispatch(p);
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
            slot_set(s, ST_DOWN, "agent stopping");
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

int pool_ready(const pool_t *p)
{
    int n = 0;
    for (int i = 0; i < p->cap; i++)
        n += p->slots[i].st == ST_READY;
    return n;
}

int pool_total(const pool_t *p)
{
    return p->target;
}

void pool_resolve_elixir(const char *setting, char *out, size_t cap)
{
    struct stat st;
    if (strcmp(setting, "auto") == 0)
        snprintf(out, cap, "%s", stat(ELIXIR_EBIN, &st) == 0 ? ELIXIR_EBIN : "");
    else
        snprintf(out, cap, "%s", setting);
}

const char *pool_erl(const pool_t *p)
{
    return p->erl;
}

const char *pool_elixir(const pool_t *p)
{
    return p->elixir;
}

const char *pool_code_path(const pool_t *p)
{
    return p->o.code_path;
}

int pool_max(const pool_t *p)
{
    return p->cap;
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
            slot_set(s, ST_DRAINING, "scaled down");
            after_job(s);
        } else if (s->st == ST_BOOTING) {
            kill_slot(s, "scaled down while booting", 0);
        } else if (s->st == ST_BACKOFF) {
            if (s->timer > 0)
                loop_timer_del(p->loop, s->timer);
            s->timer = 0;
            slot_set(s, ST_DOWN, "scaled down");
        }
    }
    dispatch(p);
    return n;
}

size_t pool_queued(const pool_t *p)
{
    return p->queued;
}

size_t pool_inflight(const pool_t *p)
{
    size_t n = 0;
    for (int i = 0; i < p->cap; i++)
        n += (size_t)p->slots[i].ninflight;
    return n;
}

json_t *pool_status_json(const pool_t *p)
{
    json_t *vms = json_array();
    uint64_t restarts = 0, recycles = 0, kills = 0;
    for (int i = 0; i < p->cap; i++) {
        const slot_t *s = &p->slots[i];
        restarts += s->restarts;
        recycles += s->recycles;
        kills += s->kills;
        json_array_append_new(
            vms,
            json_pack("{s:i, s:s, s:i, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s, "
                      "s:b, s:I, s:I}",
                      "index", s->index, "state", st_name[s->st], "pid", (int)s->pid, "rss_kb",
                      (json_int_t)s->rss_kb, "loads", (json_int_t)s->loads, "inflight",
                      s->ninflight, "memory_bytes", (json_int_t)s->memory_bytes, "processes",
                      (json_int_t)s->processes, "atoms", (json_int_t)s->atoms, "live_sandboxes",
                      (json_int_t)s->live, "pending_purge", (json_int_t)s->pending_purge,
                      "vm_loads", (json_int_t)s->vm_loads, "otp", s->otp, "elixir", s->elixir,
                      "restarts", (json_int_t)s->restarts, "recycles", (json_int_t)s->recycles));
    }
    return json_pack("{s:o, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I}", "vms", vms,
                     "ready", pool_ready(p), "total", p->target, "queued", (json_int_t)p->queued,
                     "inflight", (json_int_t)pool_inflight(p), "restarts", (json_int_t)restarts,
                     "recycles", (json_int_t)recycles, "kills", (json_int_t)kills, "failed",
                     p->failed, "job_deaths", (json_int_t)p->job_deaths, "suspects",
                     (json_int_t)p->suspects, "blamed", (json_int_t)p->blamed);
}

int pool_get_stats(const pool_t *p, pool_stats_t *out, pool_vm_stats_t *vms, int nvms)
{
    memset(out, 0, sizeof *out);
    out->starts = p->starts;
    out->job_deaths = p->job_deaths;
    out->suspects = p->suspects;
    out->blamed = p->blamed;
    memcpy(out->evals, p->evals, sizeof out->evals);
    memcpy(out->breeds, p->breeds, sizeof out->breeds);
    out->load_seconds = p->load_hist;
    out->eval_seconds = p->eval_hist;
    out->queued = p->queued;
    out->inflight = pool_inflight(p);
    out->ready = pool_ready(p);
    out->target = p->target;
    out->cap = p->cap;
    out->failed = p->failed;
    int n = 0;
    for (int i = 0; i < p->cap; i++) {
        const slot_t *s = &p->slots[i];
        out->restarts += s->restarts;
        out->recycles += s->recycles;
        for (int k = 0; k < POOL_KILL__COUNT; k++)
            out->kills[k] += s->kills_by[k];
        if (n < nvms && (s->vm || s->st != ST_DOWN)) {
            vms[n++] =
                (pool_vm_stats_t){.index = s->index,
                                  .state = st_name[s->st],
                                  .memory_bytes = s->memory_bytes,
                                  .rss_bytes = s->rss_kb > 0 ? (uint64_t)s->rss_kb * 1024 : 0,
                                  .vm_loads = s->vm_loads,
                                  .evals_ok = s->vm_evals_ok,
                                  .evals_failed = s->vm_evals_failed,
                                  .processes = s->processes,
                                  .atoms = s->atoms,
                                  .live_sandboxes = s->live,
                                  .pending_purges = s->pending_purge,
                                  .inflight = s->ninflight};
        }
    }
    return n;
}
