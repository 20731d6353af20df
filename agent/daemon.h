/* daemon.h - petri-agent's long-running mode. */
#ifndef PETRI_DAEMON_H
#define PETRI_DAEMON_H

/* Runs the agent until SIGTERM/SIGINT; returns the process exit code
 * (0 clean stop, 1 the VMs kept failing, 2 bad configuration). */
int agent_daemon_main(int argc, char **argv);

#endif
