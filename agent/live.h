/* live.h - `petri-agent live`: run one live individual on one VM, replay a
 * request trace at a set rate, upgrade it in place at given request counts,
 * and bring it back from its last good snapshot if the VM dies. */
#ifndef PETRI_AGENT_LIVE_H
#define PETRI_AGENT_LIVE_H

/* The live spec (JSON), every key optional:
 *   atoms      ["allow", ...]   atoms the trace's and init's terms may name
 *   init       term (spec.h's JSON term mapping): init/1's argument; null
 *   limits     {"timeout_ms": 100, "heap_words": 1000000,
 *               "reductions": 1000000, "state_words": 100000}
 *   probation  requests a child serves before it is judged (50)
 *   window     requests in the rolling live fitness (200)
 *   score      {"latency": w per service us, "reductions": w per reduction,
 *               "tolerance": how much lower than its parent a child may
 *               score} (0, 0, 0)
 *   rate       requests per second (1000; 0 = as fast as the VM answers)
 *   batch      requests per LIVE_REQUESTS frame at most (16)
 * Unknown keys are errors naming the key. */

int cmd_live(int argc, char **argv);

#endif
