/* driver.c - standalone main for petri's fuzz targets: replays a corpus,
 * then runs seeded mutations of it plus random inputs. With clang's
 * -fsanitize=fuzzer, define PETRI_LIBFUZZER and libFuzzer's main is used. */
#ifndef PETRI_LIBFUZZER

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define FUZZ_MAX_INPUT (1u << 16)       /* generated inputs stay below this */
#define FUZZ_MAX_CORPUS_FILE (1u << 20) /* larger corpus files are skipped */

struct input {
    uint8_t *data;
    size_t len;
};

static struct input *corpus;
static size_t ncorpus, capcorpus;

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64: deterministic for a seed */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fuzz: out of memory\n");
        exit(2);
    }
    return p;
}

/* Runs one input from an exactly-sized heap copy, so sanitizers catch any
 * read past its end. */
static void run_one(const uint8_t *data, size_t len)
{
    uint8_t *copy = xmalloc(len);
    if (len)
        memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    uint8_t *buf = xmalloc(FUZZ_MAX_CORPUS_FILE);
    size_t n = fread(buf, 1, FUZZ_MAX_CORPUS_FILE, f);
    int too_big = fgetc(f) != EOF;
    fclose(f);
    if (too_big) {
        free(buf);
        return;
    }
    if (ncorpus == capcorpus) {
        capcorpus = capcorpus ? capcorpus * 2 : 16;
        struct input *c = realloc(corpus, capcorpus * sizeof *c);
        if (!c) {
            fprintf(stderr, "fuzz: out of memory\n");
            exit(2);
        }
        corpus = c;
    }
    corpus[ncorpus].data = buf;
    corpus[ncorpus].len = n;
    ncorpus++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return; /* a missing corpus is fine: random inputs still run */
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                exit(2);
            names = nn;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = xmalloc(len);
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str); /* deterministic order */
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            add_file(names[i]);
        free(names[i]);
    }
    free(names);
}

/* One mutation step in place; buf has room for FUZZ_MAX_INPUT bytes. */
static void mutate_once(uint8_t *buf, size_t *len)
{
    size_t n = *len;
    switch (rnd_below(9)) {
    case 0: /* bit flip */
        if (n)
            buf[rnd_below(n)] ^= (uint8_t)(1u << rnd_below(8));
        break;
    case 1: /* random byte */
        if (n)
            buf[rnd_below(n)] = (uint8_t)rnd();
        break;
    case 2: /* interesting byte values */
        if (n) {
            static const uint8_t v[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x20};
            buf[rnd_below(n)] = v[rnd_below(sizeof v)];
        }
        break;
    case 3: /* insert bytes */
        if (n < FUZZ_MAX_INPUT) {
            size_t k = 1 + rnd_below(8), at = rnd_below(n + 1);
            if (k > FUZZ_MAX_INPUT - n)
                k = FUZZ_MAX_INPUT - n;
            memmove(buf + at + k, buf + at, n - at);
            for (size_t i = 0; i < k; i++)
                buf[at + i] = (uint8_t)rnd();
            n += k;
        }
        break;
    case 4: /* delete bytes */
        if (n) {
            size_t at = rnd_below(n), k = 1 + rnd_below(8);
            if (k > n - at)
                k = n - at;
            memmove(buf + at, buf + at + k, n - at - k);
            n -= k;
        }
        break;
    case 5: /* truncate */
        n = rnd_below(n + 1);
        break;
    case 6: /* splice with another corpus entry */
        if (ncorpus) {
            const struct input *o = &corpus[rnd_below(ncorpus)];
            size_t at = rnd_below(n + 1), from = rnd_below(o->len + 1);
            size_t k = o->len - from;
            if (k > FUZZ_MAX_INPUT - at)
                k = FUZZ_MAX_INPUT - at;
            memcpy(buf + at, o->data + from, k);
            n = at + k;
        }
        break;
    case 7: /* big-endian 32-bit value: lengths and counts */
        if (n >= 4) {
            static const uint32_t v[] = {0,          1,          0x7fffffff, 0x80000000,
                                         0xffffffff, 0x01000000, 0x00ffffff};
            size_t at = rnd_below(n - 3);
            uint32_t x = rnd_below(2) ? v[rnd_below(sizeof v / sizeof v[0])] : (uint32_t)rnd();
            buf[at] = (uint8_t)(x >> 24), buf[at + 1] = (uint8_t)(x >> 16);
            buf[at + 2] = (uint8_t)(x >> 8), buf[at + 3] = (uint8_t)x;
        }
        break;
    default: /* duplicate a chunk */
        if (n && n < FUZZ_MAX_INPUT) {
            size_t from = rnd_below(n), k = 1 + rnd_below(n - from);
            if (k > FUZZ_MAX_INPUT - n)
                k = FUZZ_MAX_INPUT - n;
            size_t at = rnd_below(n + 1);
            memmove(buf + at + k, buf + at, n - at);
            memmove(buf + at, buf + (from < at ? from : from + k), k);
            n += k;
        }
        break;
    }
    *len = n;
}

int main(int argc, char **argv)
{
    long long runs = 1000;
    unsigned long long seed = 1;
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-runs=", 6) == 0)
            runs = strtoll(argv[i] + 6, NULL, 10);
        else if (strncmp(argv[i], "-seed=", 6) == 0)
            seed = strtoull(argv[i] + 6, NULL, 10);
        else if (argv[i][0] == '-')
            continue; /* other libFuzzer flags: ignored */
        else
            add_path(argv[i]);
    }
    if (runs < 0)
        runs = 0;
    rng_state = seed;

    for (size_t i = 0; i < ncorpus; i++)
        run_one(corpus[i].data, corpus[i].len);

    uint8_t *buf = xmalloc(FUZZ_MAX_INPUT);
    for (long long r = 0; r < runs; r++) {
        size_t len = 0;
        if (ncorpus == 0 || rnd_below(8) == 0) {
            /* pure random input, mostly short */
            len = rnd_below(4) ? rnd_below(64) : rnd_below(4096);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rnd();
        } else {
            const struct input *c = &corpus[rnd_below(ncorpus)];
            len = c->len < FUZZ_MAX_INPUT ? c->len : FUZZ_MAX_INPUT;
            memcpy(buf, c->data, len);
            size_t steps = 1 + rnd_below(4);
            for (size_t s = 0; s < steps; s++)
                mutate_once(buf, &len);
        }
        run_one(buf, len);
    }
    free(buf);
    printf("%s: %lld runs, %zu corpus files, 0 crashes\n", name, runs, ncorpus);
    for (size_t i = 0; i < ncorpus; i++)
        free(corpus[i].data);
    free(corpus);
    return 0;
}

#endif /* PETRI_LIBFUZZER */
