/*
 * usage.c - the -h text (see usage.h). Kept apart from settings.c so the
 * option parser stays readable; the defaults quoted here are the ones
 * settings_defaults() sets.
 */
#include "server/usage.h"

#include "core/version.h"

static const char usage_text[] =
"-p, --port=<num>          TCP port to listen on (default: 11211)\n"
"-U, --udp-port=<num>      UDP port to listen on (default: 0, off;\n"
"                          UDP is not supported: only 0 is accepted)\n"
"-s, --unix-socket=<file>  UNIX socket to listen on (disables network support)\n"
"-a, --unix-mask=<mask>    access mask for UNIX socket, in octal (default: 700)\n"
"-A, --enable-shutdown     enable ascii \"shutdown\" command\n"
"-l, --listen=<addr>       interface to listen on (default: 127.0.0.1)\n"
"                          <addr> may be host, host:port or [ipv6]:port;\n"
"                          separate several with commas or repeat -l.\n"
"                          '*' or 0.0.0.0 listens on every interface\n"
"-d, --daemon              run as a daemon\n"
"-r, --enable-coredumps    maximize core file limit\n"
"-u, --user=<user>         assume identity of <username> (only when run as root)\n"
"-m, --memory-limit=<num>  item memory in megabytes (default: 64)\n"
"-M, --disable-evictions   return error on memory exhausted instead of evicting\n"
"-c, --conn-limit=<num>    max simultaneous connections, over all worker\n"
"                          processes (default: 1024)\n"
"-k, --lock-memory         lock down all paged memory\n"
"-v, --verbose             verbose (print errors/warnings, worker start/stop)\n"
"-vv                       very verbose (also print client connections/commands)\n"
"-vvv                      extremely verbose (internal state transitions)\n"
"-h, --help                print this help and exit\n"
"-i, --license             print license information and exit\n"
"-V, --version             print version and exit\n"
"-P, --pidfile=<file>      save PID in <file> (removed at a clean exit)\n"
"-f, --slab-growth-factor=<num> chunk size growth factor (default: 1.25)\n"
"-n, --slab-min-size=<bytes> min space used for key+value+flags (default: 48)\n"
"-L, --enable-largepages  accepted for compatibility; has no effect\n"
"-D <char>     Use <char> as the delimiter between key prefixes and IDs.\n"
"              This is used for per-prefix stats reporting. The default is\n"
"              \":\" (colon). If this option is specified, stats collection\n"
"              is turned on automatically; if not, then it may be turned on\n"
"              by sending the \"stats detail on\" command to the server.\n"
"-t, --threads=<num>       number of worker processes to use\n"
"                          (default: number of online CPUs)\n"
"-R, --max-reqs-per-event  maximum number of requests per event, limits the\n"
"                          requests processed per connection to prevent \n"
"                          starvation (default: 20)\n"
"-C, --disable-cas         disable use of CAS\n"
"-b, --listen-backlog=<num> set the backlog queue limit (default: 1024)\n"
"-B, --protocol=<name>     protocol - one of ascii, binary, or auto (default: auto)\n"
"-I, --max-item-size=<num> adjusts max item size\n"
"                          (default: 1m, min: 1k, max: 1024m)\n"
"-F, --disable-flush-all   disable flush_all command\n"
"-X, --disable-dumping     disable stats cachedump and lru_crawler metadump\n"
"-W  --disable-watch       accepted for compatibility (there is no watch)\n"
"    --config=<file>       read settings from <file>: one \"name = value\" per\n"
"                          line, names as the long options or -o options\n"
"                          ('-' and '_' alike), '#' comments; booleans take\n"
"                          yes/no/true/false/1/0. The command line wins.\n"
"-o, --extended            comma separated list of extended options\n"
"                          most options have a 'no_' prefix to disable\n"
"   - maxconns_fast:       immediately close new connections after limit (default: enabled)\n"
"   - hashpower:           log2 of the hash table's bucket count, 12..31; the\n"
"                          table is sized once, from -m (default: 0, sized\n"
"                          from -m; see \"STAT hash_power_level\")\n"
"   - no_lru_crawler:      disable the master's background sweep of expired\n"
"                          items (they are still reclaimed when met)\n"
"   - track_sizes:         enable \"stats sizes\" (also: \"stats sizes_enable\")\n"
"   - read_buf_mem_limit:  limit in megabytes for connection read/response buffers.\n"
"                          do not adjust unless you have high (20k+) conn. limits.\n"
"                          0 means unlimited (default: 0)\n"
"   - idle_timeout:        timeout for idle connections. (default: 0, no timeout)\n"
"   - slab_chunk_max:      (EXPERIMENTAL) maximum slab chunk size in bytes, 4k..1m\n"
"                          (k/m suffixes accepted). use extreme care. (default: 512k)\n"
"   - relaxed_privileges:  accepted for compatibility (no seccomp sandbox here)\n"
"   - memory_reserve:      megabytes of shared memory reserved so that\n"
"                          \"cache_memlimit\" can grow the cache up to it\n"
"                          (default: the machine's physical memory; with -k,\n"
"                          the -m value). Reserved memory costs address\n"
"                          space only until the cache grows into it.\n"
"   - worker_backoff_ms:   delay before restarting a worker process that keeps\n"
"                          crashing; doubles per crash up to 64x (default: 100)\n"
"   - accepted and ignored: hash_algorithm, modern, no_modern, slab_reassign,\n"
"                          slab_automove, lru_crawler_sleep, lru_crawler_tocrawl,\n"
"                          hot_lru_pct, warm_lru_pct, temporary_ttl, no_hashexpand,\n"
"                          lru_maintainer, no_lru_maintainer, tail_repair_time\n"
"                          (no item references outlive a request here, so no\n"
"                          tail repair is ever needed)\n"
"   - not supported (refused): ssl_*, ext_*, proxy_* and -S, -Z, -Y, -e, -N\n"
"\n"
"Signals: SIGTERM/SIGINT stop gracefully, SIGQUIT stops at once.\n";

void usage_print(FILE *out)
{
    fprintf(out, "%s %s (memcached-compatible)\n", SHMC_NAME, SHMC_VERSION);
    fputs(usage_text, out);
}

void usage_license(FILE *out)
{
    fprintf(out, "%s %s: a memcached-compatible cache server keeping its "
            "items in shared memory.\nThe memcached protocol and option "
            "names are BSD-licensed by Danga Interactive, Inc.\n"
            "Event loop: libev, BSD-2-Clause or GPL-2.0+.\n", SHMC_NAME,
            SHMC_VERSION);
}
