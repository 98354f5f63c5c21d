/*
 * usage.h - the -h text, laid out like `memcached -h` for the options
 * shmcached supports, plus its own (--config, -o memory_reserve, ...).
 */
#ifndef SHMC_USAGE_H
#define SHMC_USAGE_H

#include <stdio.h>

/* Prints the help text to out. */
void usage_print(FILE *out);
/* Prints the -i (license) text to out. */
void usage_license(FILE *out);

#endif
