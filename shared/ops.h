/* ops.h - the breeding operators a population or `petri-agent evolve` may
 * draw, their number of parents, and their rates ("crossover=0.3,fold=0.2").
 * The VM side (petri_mutate, petri_prog) implements them. */
#ifndef PETRI_OPS_H
#define PETRI_OPS_H

#include <stddef.h>

/* The operators, in this order: the six expression operators (crossover,
 * subtree, point, swap, hoist, shrink) then petri_prog's thirteen (call_swap,
 * literal, pattern, guard, clause_add, clause_del, clause_swap,
 * clause_xover, helper, inline, fold, recurse, wrap). */
#define OPS_N 19

extern const char *const ops_names[OPS_N];
/* The rates used when none are given: crossover 0.4, subtree 0.2, point
 * 0.2, swap 0.1, hoist 0.05, shrink 0.05, the others 0. */
extern const double ops_default_rates[OPS_N];
/* For messages: "crossover, subtree, ..., recurse". */
extern const char ops_known[];

/* The index of an operator name, or -1. */
int ops_find(const char *name);
/* 2 for the operators that take two parents (crossover, clause_xover), 1
 * for the others. name must be an operator (asserted). */
int ops_parents(const char *name);
/* Parses "NAME=RATE[,NAME=RATE]..." into rates[OPS_N], normalised to sum
 * 1; an operator not named gets 0, one named twice keeps its last rate.
 * Returns 0, or ERR_SPEC with a message naming the bad part in err (an
 * unknown name, a rate that is not a finite number >= 0, rates summing to
 * 0, an empty list). */
int ops_parse_rates(const char *list, double rates[OPS_N], char *err, size_t errlen);

#endif
