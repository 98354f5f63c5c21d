/*
 * main.c - shmcached's entry point: settings (defaults, --config file,
 * command line), validation, then the master process. Parse and validation
 * errors print one line to stderr and exit 1, as memcached does. The
 * helper processes the master runs beside the workers: the console and
 * replication (each runs only when its settings ask for it).
 */
#include <stdio.h>
#include <stdlib.h>

#include "console/console.h"
#include "repl/repl.h"
#include "server/cachefile.h"
#include "server/master.h"
#include "server/settings.h"

int main(int argc, char **argv)
{
    struct settings s;
    char err[512];

    int rc = settings_load(&s, argc, argv, stdout, err, sizeof(err));
    if (rc < 0 || (rc == 0 && settings_validate(&s, err, sizeof(err)) < 0)) {
        fprintf(stderr, "%s\n", err);
        return EXIT_FAILURE;
    }
    if (rc > 0)
        return EXIT_SUCCESS;        /* -h, -V, -i */
    if (s.check_only)
        return cachefile_check(&s);
    static const struct helper_def *const helpers[] = {
        &console_helper, &repl_helper,
    };
    return master_run(&s, argc, argv, helpers, 2);
}
