/* cli_top.c - `petri top`: a live screen of the cluster's members and
 * populations, refreshed every interval, until q or Ctrl-C. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"

static const char help_top[] =
    "usage: petri top [--interval S] [--json]\n"
    "\n"
    "A live view of the cluster, redrawn every interval (default 1 s): the\n"
    "members (GET /v1/members) and the populations (GET /v1/populations).\n"
    "Press q (or Ctrl-C) to quit. When the coordinator cannot be reached the\n"
    "screen says so and keeps retrying. With --json, prints one line per\n"
    "refresh: {\"members\": [...], \"populations\": [...]}.\n";

/* Fetches one document; on failure writes the reason into err. */
static json_t *fetch(cli_t *c, const char *path, char *err, size_t errlen)
{
    long st = 0;
    json_t *j = NULL;
    int rc = client_call(&c->co, "GET", path, NULL, 0, &st, &j, err, errlen);
    if (rc != 0)
        return NULL;
    if (st != 200) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (HTTP %ld)", st);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Waits up to ms for a key; returns 1 if q/Q was pressed or Ctrl-C. */
static int wait_key(int keys, long ms)
{
    if (!keys)
        return cli_sleep_ms(ms);
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int n = poll(&p, 1, (int)ms);
    if (cli_stop)
        return 1;
    if (n > 0) {
        char ch[16];
        ssize_t r = read(STDIN_FILENO, ch, sizeof ch);
        if (r == 0)
            return cli_sleep_ms(ms); /* stdin closed: keep refreshing */
        for (ssize_t i = 0; i < r; i++)
            if (ch[i] == 'q' || ch[i] == 'Q' || ch[i] == 3)
                return 1;
    }
    return 0;
}

int cli_cmd_top(cli_t *c)
{
    char err[256];
    if (c->a.help) {
        fputs(help_top, stdout);
        return CLI_OK;
    }
    if (cli_args_allow(&c->a, CLI_O_INTERVAL, "top", err, sizeof err))
        return cli_usagef("top ", "%s", err);
    if (c->a.npos > 1)
        return cli_usagef("top ", "unexpected argument '%s'", c->a.pos[1]);
    long interval = (long)(c->a.interval_s * 1000.0);
    if (interval < 100)
        interval = 100;
    c->co.progress = NULL;
    c->co.timeout_ms = interval * 3 > 5000 ? interval * 3 : 5000;

    int tty_out = isatty(STDOUT_FILENO), keys = !c->a.json && isatty(STDIN_FILENO);
    struct termios saved;
    if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        keys = 0;
    }
    if (tty_out && !c->a.json)
        fputs("\033[?25l", stdout); /* hide the cursor */

    while (!cli_stop) {
        char e1[512] = "", e2[512] = "";
        json_t *m = fetch(c, "/v1/members", e1, sizeof e1);
        json_t *p = fetch(c, "/v1/populations", e2, sizeof e2);
        if (c->a.json) {
            json_t *doc = json_object();
            json_object_set(doc, "members", m ? m : json_null());
            json_object_set(doc, "populations", p ? p : json_null());
            if (!m || !p)
                json_object_set_new(doc, "error", json_string(e1[0] ? e1 : e2));
            cli_put_json(doc, 1);
            json_decref(doc);
        } else {
            if (tty_out)
                fputs("\033[H\033[2J", stdout);
            char now[32];
            time_t t = time(NULL);
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(now, sizeof now, "%H:%M:%S", &tm);
            char base[256];
            client_base_url(c->co.addr, base, sizeof base);
            size_t alive = 0;
            size_t i;
            const json_t *x;
            json_array_foreach(m, i, x)
            {
                const char *s = json_string_value(json_object_get(x, "status"));
                alive += s && !strcmp(s, "alive");
            }
            printf("petri top  %s  %s  members %zu (%zu alive)  populations %zu\n\n", base, now,
                   json_array_size(m), alive, json_array_size(p));
            if (m)
                cli_print_members(stdout, m);
            else
                printf("members: %s\n", e1);
            printf("\n");
            if (p && json_array_size(p))
                cli_print_populations(stdout, p);
            else if (p)
                printf("no populations\n");
            else
                printf("populations: %s\n", e2);
            if (keys)
                printf("\n(q to quit)\n");
        }
        fflush(stdout);
        json_decref(m);
        json_decref(p);
        if (wait_key(keys, interval))
            break;
    }
    if (keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    if (tty_out && !c->a.json)
        fputs("\033[?25h", stdout);
    fflush(stdout);
    return CLI_OK;
}
