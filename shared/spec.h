/* spec.h - the evaluation spec (JSON): which function is evolved, its
 * primitive set, its fitness cases and its resource limits; parsed and
 * checked here, then encoded as the wire SPEC block for the BEAM nodes.
 *
 * JSON schema (every key but "function" and "fitness" has a default):
 *   function   "f/1"                        name/arity of the evolved function
 *   language   "erlang" | "elixir"          default "erlang"
 *   primitives { "ops": ["+","-","*"], "vars": ["X"],
 *                "constants": {"min": -5, "max": 5, "integer": true} }
 *   fitness    { "cases": [{"in": [x, ...], "out": y}, ...],
 *                "error": "abs" | "squared" }   default "abs"
 *   limits     { "timeout_ms": 500, "heap_words": 262144, "reductions": 1000000 }
 * Unknown keys are errors; every error message names the field.
 *
 * Real programs (term cases, evaluators, cost) add, under "fitness":
 *   cases            when every "in" item and "out" is a number, the numeric
 *                    path above; otherwise every case is mapped to terms:
 *                      integer -> integer, real -> float, string -> binary
 *                      (UTF-8), array -> list, true/false -> atoms,
 *                      null -> nil, object -> map with binary keys, except
 *                      the tagged forms (objects of exactly one "$" key):
 *                      {"$tuple": [..]} tuple, {"$atom": "ok"} atom (must
 *                      be in "atoms"), {"$charlist": "abc"} list of code
 *                      points, {"$float": 1} float, {"$map": [[K, V], ..]}
 *                      map with any keys. Any other "$" key is an error.
 *   atoms            ["ok", "error", ...] the atoms cases may name (<= 256)
 *   float_tolerance  >= 0, default 0 (exact)
 *   mismatch_error   > 0, default 1: error of a failed non-numeric case
 *   evaluator        {"source": "...", "language": "erlang"|"elixir"} or
 *                    {"file": "path.erl"|"path.ex"}: a trusted module whose
 *                    evaluate/1 receives the genome's entry function and
 *                    returns {Error, #{name => number}} (or just Error);
 *                    "cases" may then be absent
 *   cost             {"mode": "none"|"lexicographic"|"weighted",
 *                     "reductions": w, "heap": w, "time": w} (weights >= 0)
 *   per_case         true to return each case's error (lexicase needs it;
 *                    the coordinator sets it itself for lexicase)
 */
#ifndef PETRI_SPEC_H
#define PETRI_SPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define SPEC_MAX_ARITY 16
#define SPEC_MAX_OPS 64
#define SPEC_MAX_CASES 10000
#define SPEC_NAME_MAX 64

enum spec_language { SPEC_LANG_ERLANG = 0, SPEC_LANG_ELIXIR = 1 };
enum spec_error { SPEC_ERR_ABS = 0, SPEC_ERR_SQUARED = 1 };

typedef struct spec_num {
    int is_float;
    int64_t i;
    double f;
} spec_num_t;

typedef struct spec_case {
    spec_num_t in[SPEC_MAX_ARITY];
    spec_num_t out;
} spec_case_t;

typedef struct spec {
    char function[SPEC_NAME_MAX];
    uint32_t arity;
    int language;
    uint32_t timeout_ms;
    uint64_t heap_words;
    uint64_t reductions;
    char vars[SPEC_MAX_ARITY][SPEC_NAME_MAX]; /* arity entries */
    char ops[SPEC_MAX_OPS][SPEC_NAME_MAX];
    int nops;
    double const_min, const_max;
    int const_int;
    int error;
    spec_case_t *cases;
    size_t ncases;
    int per_case; /* 1 = results carry each case's error (wire.h SPEC per_case) */
} spec_t;

/* Parses a spec object. extra_keys: NULL-terminated list of top-level keys
 * the caller handles itself (e.g. the coordinator's population fields), or
 * NULL. Returns 0 with *out owned by the caller, or ERR_SPEC with a message
 * naming the field in err. */
int spec_from_json(json_t *root, const char *const *extra_keys, spec_t **out, char *err,
                   size_t errlen);
/* Reads and parses a JSON file (capped at 16 MiB). */
int spec_load_file(const char *path, spec_t **out, char *err, size_t errlen);
void spec_destroy(spec_t **s);

/* Appends the wire SPEC block (see wire.h) to b; language overrides the
 * spec's own when >= 0. */
void spec_encode(const spec_t *s, int language, wire_buf_t *b);

/* "erlang"/"elixir" -> enum, or -1. Also maps a genome file name by its
 * extension (.erl/.ex/.exs) with spec_language_of_path, -1 if neither. */
int spec_language_parse(const char *s);
int spec_language_of_path(const char *path);
const char *spec_language_str(int lang);

#endif
