/* demo.h - `petri demo`: a local cluster evolving a function, end to end. */
#ifndef PETRI_DEMO_H
#define PETRI_DEMO_H

int demo_main(int argc, char **argv);

#endif
