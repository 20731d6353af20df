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
 *                "error": "abs" | "squared" | "edit" }   default "abs"
 *              (edit: term cases' lists, strings, binaries and tuples score
 *              their edit distance from the expected value, numbers abs)
 *   limits     { "timeout_ms": 500, "heap_words": 262144, "reductions": 1000000 }
 * Unknown keys are errors; every error message names the field.
 *
 * Real programs (term cases, evaluators, cost) add, under "fitness":
 *   cases            when every "in" item and "out" is a number, the numeric
 *                    path above (spec_t.cases); otherwise every case is
 *                    mapped to terms, all in one ETF list (spec_t.term_cases):
 *                      integer -> integer, real -> float, string -> binary
 *                      (UTF-8), array -> list, true/false -> atoms,
 *                      null -> nil, object -> map with binary keys, except
 *                      the tagged forms (objects of exactly one "$" key):
 *                      {"$tuple": [..]} tuple, {"$atom": "ok"} atom (must
 *                      be in "atoms"; true, false and nil need not be),
 *                      {"$charlist": "abc"} list of code points,
 *                      {"$float": 1} float, {"$map": [[K, V], ..]} map with
 *                      any keys (a key given twice is an error). Any other
 *                      key starting with "$" is an error (write a map with
 *                      such a key as {"$map": [["$k", v]]}).
 *                    Caps: lists, tuples and maps nest at most
 *                    SPEC_TERM_MAX_DEPTH deep; all cases together take at
 *                    most SPEC_TERM_MAX_BYTES once encoded (wire.h term_cases)
 *   atoms            ["ok", "error", ...] the atoms cases may name (at most
 *                    SPEC_MAX_ATOMS, each a plain atom name: a lower-case
 *                    letter, then letters, digits, _ and @; <= 255 bytes)
 *   float_tolerance  >= 0, default 0 (exact)
 *   mismatch_error   > 0, default 1: error of a failed non-numeric case
 *   evaluator        {"source": "...", "language": "erlang"|"elixir"} or
 *                    {"file": "path.erl"|"path.ex"|"path.exs"}: a trusted
 *                    module whose evaluate/1 receives the genome's entry
 *                    function and returns {Error, #{name => number}} (or
 *                    just Error); "cases" may then be absent. "language"
 *                    defaults to "erlang"; a file's language is its
 *                    extension's. A relative "file" is relative to the spec
 *                    file's directory (spec_load_file, spec_resolve_files);
 *                    spec_from_json alone refuses "file" (a spec received
 *                    over the network must not read the receiver's files).
 *                    At most SPEC_EVALUATOR_MAX_BYTES of source.
 *   cost             {"mode": "none"|"lexicographic"|"weighted",
 *                     "reductions": w, "heap": w, "time": w}: "mode" is
 *                    required; weights >= 0, finite; with none of the three
 *                    given, reductions 1 and the others 0; a mode other than
 *                    none needs a weight > 0. Default: no cost
 *   per_case         true to return each case's error (lexicase needs it;
 *                    the coordinator forces it by setting spec_t.per_case
 *                    to 1 before spec_encode)
 *   split_tuples     true: a term case whose expected result is a tuple
 *                    gives one error per element (each graded as a case
 *                    of its own, a wrong shape or a raise Mismatch each),
 *                    so lexicase selects on the parts of an answer apart;
 *                    the fitness is still the sum of the errors and the
 *                    case passes when every element does. Default false
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
#define SPEC_MAX_ATOMS 256
#define SPEC_ATOM_MAX 255                           /* bytes in one atom name */
#define SPEC_TERM_MAX_DEPTH 64                      /* nesting of lists, tuples, maps */
#define SPEC_TERM_MAX_BYTES (4u * 1024 * 1024)      /* encoded term cases */
#define SPEC_EVALUATOR_MAX_BYTES (1u * 1024 * 1024) /* evaluator source */

enum spec_language { SPEC_LANG_ERLANG = 0, SPEC_LANG_ELIXIR = 1 };
enum spec_error { SPEC_ERR_ABS = 0, SPEC_ERR_SQUARED = 1, SPEC_ERR_EDIT = 2 };
enum spec_cost { SPEC_COST_NONE = 0, SPEC_COST_LEXICOGRAPHIC = 1, SPEC_COST_WEIGHTED = 2 };
enum spec_cost_weight { SPEC_COST_W_REDUCTIONS = 0, SPEC_COST_W_HEAP = 1, SPEC_COST_W_TIME = 2 };

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
    spec_case_t *cases; /* the numeric cases (NULL when term_cases is set) */
    size_t ncases;
    /* Term cases (wire.h term_cases): one ETF list of {Inputs, Expected},
     * NULL when the cases are numeric or absent. */
    uint8_t *term_cases;
    size_t term_cases_len;
    size_t nterm_cases;
    char (*atoms)[SPEC_ATOM_MAX + 1]; /* natoms declared atom names */
    size_t natoms;
    double float_tol;
    double mismatch_error;
    uint8_t *evaluator; /* source of the evaluator module, NULL = none */
    size_t evaluator_len;
    int evaluator_lang;
    int cost_mode;    /* enum spec_cost */
    double cost_w[3]; /* indexed by enum spec_cost_weight */
    int per_case;     /* 1 = results carry per-case errors; the coordinator may set it */
    int split_tuples; /* 1 = a tuple-valued term case gives an error per element */
    size_t nerrors;   /* per-case errors an evaluation gives: the cases, or under
                       * split_tuples their elements (0 without cases) */
} spec_t;

/* Parses a spec object. extra_keys: NULL-terminated list of top-level keys
 * the caller handles itself (e.g. the coordinator's population fields), or
 * NULL. Returns 0 with *out owned by the caller, or ERR_SPEC with a message
 * naming the field in err. */
int spec_from_json(json_t *root, const char *const *extra_keys, spec_t **out, char *err,
                   size_t errlen);
/* ERR_SPEC naming "<where><key>: unknown key" when obj has a key in neither
 * allowed nor extra (NULL-terminated lists; extra may be NULL), else 0. */
int spec_check_keys(json_t *obj, const char *where, const char *const *allowed,
                    const char *const *extra, char *err, size_t errlen);
/* Reads and parses a JSON file (capped at 16 MiB); an evaluator "file" is
 * read relative to the file's directory (spec_resolve_files). */
int spec_load_file(const char *path, spec_t **out, char *err, size_t errlen);
/* Replaces fitness.evaluator {"file": F} in root by {"source": <F's bytes>,
 * "language": <by F's extension>}, F relative to the directory of
 * spec_path (the spec file's own path). For tools that read a spec file
 * and send it on (the CLI). 0 when there is nothing to do or it was done;
 * ERR_SPEC (message naming fitness.evaluator.file) when F cannot be read,
 * is too large or has no known extension; -ENOMEM. */
int spec_resolve_files(json_t *root, const char *spec_path, char *err, size_t errlen);
/* Cases the spec scores a genome on (numeric or term), 0 with only an
 * evaluator. */
size_t spec_case_count(const spec_t *s);
void spec_destroy(spec_t **s);

/* Appends the wire SPEC block (see wire.h) to b, the appended fields
 * always (their defaults when unset); language overrides the spec's own
 * when >= 0. */
void spec_encode(const spec_t *s, int language, wire_buf_t *b);

/* "erlang"/"elixir" -> enum, or -1. Also maps a genome file name by its
 * extension (.erl/.ex/.exs) with spec_language_of_path, -1 if neither. */
int spec_language_parse(const char *s);
int spec_language_of_path(const char *path);
const char *spec_language_str(int lang);

/* The JSON name of a fitness.error measure: "abs", "squared" or "edit". */
const char *spec_error_str(int error);

#endif
